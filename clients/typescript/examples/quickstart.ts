import { AgentTrailClient } from "@agenttrail/client";

const client = new AgentTrailClient({
  address: process.env.AGENTTRAIL_ADDR ?? "127.0.0.1:7700",
  apiKey: process.env.AGENTTRAIL_KEY, // an agent key that may append for support-agent
  agentId: "support-agent",
});

const reply = await client.withSession({ userMessage: "Where is order A-17?" }, async (session) => {
  console.log(`session ${session.id}`);
  const llm = await session.llmCall({
    providerName: "openai",
    requestModel: "gpt-4o",
    inputMessages: [{ role: "user", content: "Where is order A-17?" }],
    toolCalls: [{ id: "call-1", name: "lookup_order", arguments: { orderId: "A-17" } }],
    finishReasons: ["tool_calls"],
    inputTokens: 42,
    outputTokens: 12,
    latencyMs: 640,
  });
  const order = { orderId: "A-17", status: "shipped" };
  await session.toolCall({
    parentId: llm,
    toolName: "lookup_order",
    toolCallId: "call-1",
    arguments: { orderId: "A-17" },
    result: order,
    durationMs: 35,
  });
  const text = `Order ${order.orderId} has ${order.status}.`;
  await session.output({ text, final: true });
  return text;
});

console.log(reply);
await client.close(); // waits until the server has confirmed every event
console.log(client.stats());
