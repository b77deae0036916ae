// An agent loop with a scripted fake model, recorded with agenttrail.
//
// The "model" answers from a script: first it asks for the lookup_order
// tool, which fails (the order service times out); then for issue_refund,
// which needs a human's approval before it runs; then it writes the final
// reply. Every step lands in the trail: the session start, each LLM call,
// the reasoning, the failed tool call and the error it caused, the approval
// and the refund it gated, the final output and the session end.
//
// Run it against a local server (see README.md):
//
//   AGENTTRAIL_ADDR=127.0.0.1:7700 npm run example
//
// It prints the session id and the agenttrail commands that query and
// verify the trail.
import { AgentTrailClient, uuidv7 } from "@agenttrail/client";
import type { ChatMessageInit, Session, ToolCallRequestInit } from "@agenttrail/client";

/** One turn of the fake model: text, or tool calls to make. */
interface ModelTurn {
  readonly text?: string;
  readonly toolCalls?: readonly ToolCallRequestInit[];
  readonly inputTokens: number;
  readonly outputTokens: number;
}

const script: readonly ModelTurn[] = [
  {
    toolCalls: [{ id: "call-1", name: "lookup_order", arguments: { orderId: "A-17" } }],
    inputTokens: 180,
    outputTokens: 22,
  },
  {
    toolCalls: [{ id: "call-2", name: "issue_refund", arguments: { orderId: "A-17", amount: 25, currency: "USD" } }],
    inputTokens: 260,
    outputTokens: 31,
  },
  {
    text: "I could not reach the order service, so I refunded the 25 USD shipping fee you asked about.",
    inputTokens: 320,
    outputTokens: 40,
  },
];

/** A scripted stand-in for a chat model. */
class FakeModel {
  private turn = 0;

  async complete(_messages: readonly ChatMessageInit[]): Promise<ModelTurn> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const next = script[this.turn++];
    if (next === undefined) throw new Error("the script has no more turns");
    return next;
  }
}

class OrderServiceTimeout extends Error {
  override name = "OrderServiceTimeout";
}

/** The tools. lookup_order always times out; issue_refund needs approval. */
const tools: Record<string, { needsApproval: boolean; run: (args: Record<string, unknown>) => Promise<unknown> }> = {
  lookup_order: {
    needsApproval: false,
    run: async () => {
      throw new OrderServiceTimeout("the order service did not answer within 2 s");
    },
  },
  issue_refund: {
    needsApproval: true,
    run: async (args) => ({ refundId: "R-991", amount: args.amount, currency: args.currency }),
  },
};

/** A stand-in for asking a person: approves after a short wait. */
async function askHuman(question: string): Promise<{ approved: boolean; approver: string; reason: string }> {
  await new Promise((resolve) => setTimeout(resolve, 10));
  return { approved: question.length > 0, approver: "duty-manager", reason: "within the refund policy" };
}

async function runAgent(session: Session, userMessage: string): Promise<string> {
  const model = new FakeModel();
  const messages: ChatMessageInit[] = [
    { role: "system", content: "You are a support agent. Use tools to help." },
    { role: "user", content: userMessage },
  ];
  for (let iteration = 0; iteration < 5; iteration++) {
    const started = performance.now();
    const turn = await model.complete(messages);
    const llm = await session.llmCall({
      providerName: "fake",
      requestModel: "scripted-1",
      responseModel: "scripted-1",
      inputMessages: messages,
      outputText: turn.text,
      toolCalls: turn.toolCalls,
      finishReasons: [turn.toolCalls ? "tool_calls" : "stop"],
      inputTokens: turn.inputTokens,
      outputTokens: turn.outputTokens,
      cost: { currency: "USD", micros: (turn.inputTokens * 5 + turn.outputTokens * 15) },
      latencyMs: performance.now() - started,
    });
    if (turn.text !== undefined) {
      await session.output({ text: turn.text, final: true, parentId: llm });
      return turn.text;
    }
    messages.push({ role: "assistant", toolCalls: turn.toolCalls });
    for (const call of turn.toolCalls ?? []) {
      const tool = tools[call.name];
      const args = call.arguments as Record<string, unknown>;
      await session.reasoning({ thought: `The model asked for ${call.name}.`, parentId: llm });
      if (tool === undefined) throw new Error(`the model asked for an unknown tool ${call.name}`);
      // The tool call's id is made first, so that the approval can name it.
      const toolEventId = uuidv7();
      if (tool.needsApproval) {
        const asked = performance.now();
        const question = `Run ${call.name} with ${JSON.stringify(args)}?`;
        const decision = await askHuman(question);
        await session.approval({
          parentId: llm,
          gatedEventId: toolEventId,
          request: question,
          decision: decision.approved ? "approved" : "rejected",
          approver: decision.approver,
          reason: decision.reason,
          waitMs: performance.now() - asked,
        });
        if (!decision.approved) {
          await session.toolCall({ eventId: toolEventId, parentId: llm, toolName: call.name, toolCallId: call.id, arguments: args, outcome: "denied", approvalRequired: true });
          messages.push({ role: "tool", toolCallId: call.id, content: "denied by a human" });
          continue;
        }
      }
      const ran = performance.now();
      try {
        const result = await tool.run(args);
        await session.toolCall({
          eventId: toolEventId,
          parentId: llm,
          toolName: call.name,
          toolCallId: call.id,
          arguments: args,
          result,
          durationMs: performance.now() - ran,
          approvalRequired: tool.needsApproval,
        });
        messages.push({ role: "tool", toolCallId: call.id, content: JSON.stringify(result) });
      } catch (err) {
        await session.toolCall({
          eventId: toolEventId,
          parentId: llm,
          toolName: call.name,
          toolCallId: call.id,
          arguments: args,
          error: err,
          outcome: err instanceof OrderServiceTimeout ? "timeout" : "error",
          durationMs: performance.now() - ran,
          approvalRequired: tool.needsApproval,
        });
        await session.error(err, { parentId: toolEventId, recoveryAction: "told the model the tool failed", retryable: true });
        messages.push({ role: "tool", toolCallId: call.id, content: `error: ${(err as Error).message}` });
      }
    }
  }
  await session.end("max_iterations");
  throw new Error("the agent did not finish within 5 iterations");
}

const client = new AgentTrailClient({
  address: process.env.AGENTTRAIL_ADDR ?? "127.0.0.1:7700",
  apiKey: process.env.AGENTTRAIL_KEY,
  agentId: "support-agent",
  agentVersion: "example-1",
  onRejected: (r) => console.error(`rejected: event ${r.eventId} (${r.kind}): ${r.message}`),
});

const userMessage = "My order A-17 arrived late. Can I get the shipping fee back?";
let sessionId = "";
try {
  const reply = await client.withSession(
    { userMessage, modelId: "scripted-1", systemPrompt: "You are a support agent. Use tools to help.", sourceChannel: "example" },
    (session) => {
      sessionId = session.id;
      return runAgent(session, userMessage);
    },
  );
  console.log(`agent: ${reply}`);
} finally {
  await client.close({ timeoutMs: 30_000 });
}
const stats = client.stats();
console.log(`session ${sessionId}: ${stats.delivered} events delivered, ${stats.rejected} rejected`);
console.log("query it:  agenttrail query --session " + sessionId);
console.log("verify it: agenttrail verify --verifier-key '<the checkpoint verifier key serve printed>'");
