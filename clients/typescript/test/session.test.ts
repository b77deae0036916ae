// Sessions against the real server: every event kind round-trips, steps and
// parent links are right, bad input is refused by name, and withSession
// records failures.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { equals } from "@bufbuild/protobuf";
import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  ApprovalDecision,
  Code,
  ContentState,
  DeliveryError,
  EndReason,
  EntrySchema,
  HumanActionKind,
  InvalidEventError,
  Role,
  SessionEndedError,
  ToolOutcome,
  uuidv7,
  ViewKind,
  verifyEntry,
} from "../src/index.js";
import type { AgentTrailClient, Entry, RejectedEvent } from "../src/index.js";
import { isUuidv7 } from "../src/uuid.js";
import { TestServer, collect } from "./harness.js";

let server: TestServer;
let writer: AgentTrailClient;
let reader: AgentTrailClient;
const rejections: RejectedEvent[] = [];

before(async () => {
  server = await TestServer.start();
  writer = server.client("agent", { agentVersion: "1.2.3", onRejected: (r) => rejections.push(r) });
  reader = server.client("auditor");
});

after(async () => {
  await writer?.close({ timeoutMs: 5_000 });
  await reader?.close({ timeoutMs: 5_000 });
  await server?.dispose();
});

/** The entries of a session, in log order, once the writer has flushed. */
async function trail(sessionId: string): Promise<Entry[]> {
  await writer.flush({ timeoutMs: 10_000 });
  return collect(reader.query({ sessionId }));
}

function payload<K extends NonNullable<Entry["event"]>["payload"]["case"]>(entry: Entry, kind: K) {
  const p = entry.event!.payload;
  assert.equal(p.case, kind);
  return p.value as Extract<NonNullable<Entry["event"]>["payload"], { case: K }>["value"];
}

test("a session of every event kind round-trips", async () => {
  const t0 = new Date("2026-01-02T03:04:05.678Z");
  const session = await writer.startSession({
    userId: "user-42",
    modelId: "gpt-4o",
    systemPrompt: "You are a careful agent.",
    userMessage: "Refund order 7",
    tools: [{ name: "refund", description: "Refunds an order", parameters: { type: "object" } }],
    sourceChannel: "web",
    clientIp: "192.0.2.7",
    attributes: { tenant: "acme" },
    labels: { env: "test" },
    occurredAt: t0,
  });
  assert.ok(isUuidv7(session.id) && isUuidv7(session.startEventId));
  assert.equal(session.step, 1);

  const llm = await session.llmCall({
    providerName: "openai",
    responseModel: "gpt-4o-2024-08-06",
    responseId: "resp-1",
    inputMessages: [
      { role: "system", content: "You are a careful agent." },
      { role: "user", content: "Refund order 7" },
    ],
    outputText: "",
    toolCalls: [{ id: "call-1", name: "refund", arguments: { order: 7, amount: 12345678901234567890n } }],
    finishReasons: ["tool_calls"],
    inputTokens: 120,
    outputTokens: 30n,
    cacheReadInputTokens: 100,
    cost: { currency: "USD", micros: 1500 },
    latencyMs: 812.5,
    timeToFirstTokenMs: 90,
    temperature: 0.2,
    maxTokens: 512,
  });
  const thought = await session.reasoning({ thought: "The order qualifies.", planSteps: ["check", "refund"], confidence: 0.9, parentId: llm });
  // The approval comes before the tool call it gates, whose id is made first.
  const tool = uuidv7();
  const approval = await session.approval({
    decision: "approved",
    request: "Refund 10 USD?",
    approver: "alice",
    gatedEventId: tool,
    waitMs: 1500,
    parentId: llm,
  });
  assert.equal(
    await session.toolCall({
      eventId: tool,
      toolName: "refund",
      toolCallId: "call-1",
      arguments: { order: 7 },
      result: { refunded: true },
      durationMs: 42,
      approvalRequired: true,
      parentId: llm,
    }),
    tool,
  );
  const failure = new RangeError("amount out of range");
  const err = await session.error(failure, { recoveryAction: "asked a human", retryable: true });
  const out = await session.output({ text: { status: "refunded" }, final: true });
  const end = await session.end("completed", { detail: "done" });
  assert.equal(session.step, 8);
  assert.equal(session.ended, true);

  const entries = await trail(session.id);
  assert.deepEqual(
    entries.map((e) => e.event!.payload.case),
    ["sessionStart", "llmCall", "reasoning", "humanApproval", "toolCall", "error", "output", "sessionEnd"],
  );
  const ids = [session.startEventId, llm, thought, approval, tool, err, out, end];
  assert.deepEqual(entries.map((e) => e.event!.eventId), ids);
  assert.deepEqual(entries.map((e) => e.event!.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(
    entries.map((e) => e.event!.parentEventId),
    ["", session.startEventId, llm, llm, llm, session.startEventId, session.startEventId, session.startEventId],
  );
  const promptHash = createHash("sha256").update("You are a careful agent.").digest("hex");
  for (const e of entries) {
    assert.equal(e.view!.kind, ViewKind.FULL);
    assert.equal(e.view!.content, ContentState.PRESENT);
    verifyEntry(e);
    const ev = e.event!;
    assert.equal(ev.sessionId, session.id);
    assert.equal(ev.agentId, "test-agent");
    assert.equal(ev.agentVersion, "1.2.3");
    assert.equal(ev.modelId, "gpt-4o");
    assert.equal(ev.userId, "user-42");
    assert.equal(ev.systemPromptHash, promptHash);
    assert.ok(isUuidv7(ev.eventId));
  }
  // Indexes are consecutive: nobody else writes to this session.
  const first = entries[0]!.stamp!.logIndex;
  assert.deepEqual(entries.map((e) => e.stamp!.logIndex), entries.map((_, i) => first + BigInt(i)));

  const start = payload(entries[0]!, "sessionStart");
  assert.equal(timestampMs(entries[0]!.event!.occurredAt!), t0.getTime());
  assert.equal(start.userMessage, "Refund order 7");
  assert.equal(start.systemPrompt, "You are a careful agent.");
  assert.equal(start.sourceChannel, "web");
  assert.equal(start.clientIp, "192.0.2.7");
  assert.deepEqual(start.attributes, { tenant: "acme" });
  assert.deepEqual(entries[0]!.event!.labels, { env: "test" });
  assert.equal(start.toolsAvailable[0]!.name, "refund");
  assert.equal(start.toolsAvailable[0]!.type, "function");
  assert.equal(start.toolsAvailable[0]!.parametersSchemaJson, '{"type":"object"}');

  const call = payload(entries[1]!, "llmCall");
  assert.equal(call.providerName, "openai");
  assert.equal(call.operationName, "chat");
  assert.equal(call.requestModel, "gpt-4o", "requestModel defaults to the session's model");
  assert.equal(call.responseModel, "gpt-4o-2024-08-06");
  assert.deepEqual(call.inputMessages.map((m) => [m.role, m.content]), [
    [Role.SYSTEM, "You are a careful agent."],
    [Role.USER, "Refund order 7"],
  ]);
  assert.equal(call.toolCalls[0]!.argumentsJson, '{"order":7,"amount":"12345678901234567890"}');
  assert.deepEqual(call.finishReasons, ["tool_calls"]);
  assert.equal(call.inputTokens, 120n);
  assert.equal(call.outputTokens, 30n);
  assert.equal(call.cacheReadInputTokens, 100n);
  assert.equal(call.cost!.currencyCode, "USD");
  assert.equal(call.cost!.micros, 1500n);
  // Fractions of a millisecond are kept, to the nanosecond.
  assert.deepEqual([call.latency!.seconds, call.latency!.nanos], [0n, 812_500_000]);
  assert.equal(durationMs(call.timeToFirstToken!), 90);
  assert.equal(call.temperature, 0.2);
  assert.equal(call.maxTokens, 512n);

  const reasoning = payload(entries[2]!, "reasoning");
  assert.equal(reasoning.thought, "The order qualifies.");
  assert.deepEqual(reasoning.planSteps, ["check", "refund"]);
  assert.equal(reasoning.confidence, 0.9);

  const tc = payload(entries[4]!, "toolCall");
  assert.equal(tc.toolName, "refund");
  assert.equal(tc.toolCallId, "call-1");
  assert.equal(tc.toolType, "function");
  assert.equal(tc.arguments, '{"order":7}');
  assert.equal(tc.result, '{"refunded":true}');
  assert.equal(tc.outcome, ToolOutcome.SUCCESS);
  assert.equal(durationMs(tc.duration!), 42);
  assert.equal(tc.approvalRequired, true);

  const ap = payload(entries[3]!, "humanApproval");
  assert.equal(ap.kind, HumanActionKind.APPROVAL);
  assert.equal(ap.decision, ApprovalDecision.APPROVED);
  assert.equal(ap.approver, "alice");
  assert.equal(ap.gatedEventId, tool);
  assert.equal(durationMs(ap.waitDuration!), 1500);

  const er = payload(entries[5]!, "error");
  assert.equal(er.errorType, "RangeError");
  assert.equal(er.message, "amount out of range");
  assert.equal(er.stackTrace, failure.stack);
  assert.equal(er.recoveryAction, "asked a human");
  assert.equal(er.retryable, true);

  const output = payload(entries[6]!, "output");
  assert.equal(output.text, '{"status":"refunded"}');
  assert.equal(output.mediaType, "application/json");
  assert.equal(output.final, true);

  const se = payload(entries[7]!, "sessionEnd");
  assert.equal(se.reason, EndReason.COMPLETED);
  assert.equal(se.stepCount, 8);
  assert.equal(se.llmCallCount, 1);
  assert.equal(se.toolCallCount, 1);
  assert.equal(se.errorCount, 1);
  assert.equal(se.inputTokens, 120n);
  assert.equal(se.outputTokens, 30n);
  assert.equal(se.cost!.micros, 1500n);
  assert.equal(se.detail, "done");

  // getEvent by id and by index returns the same entry.
  const byId = await reader.getEvent(tool);
  const byIndex = await reader.getEvent(entries[4]!.stamp!.logIndex);
  assert.ok(equals(EntrySchema, byId, entries[4]!));
  assert.ok(equals(EntrySchema, byIndex, entries[4]!));
  // And filters work on the kinds.
  const calls = await collect(reader.query({ sessionId: session.id, kinds: ["llmCall", "toolCall"] }));
  assert.deepEqual(calls.map((e) => e.event!.eventId), [llm, tool]);
  const newestFirst = await collect(reader.query({ sessionId: session.id }, { order: "descending", limit: 2 }));
  assert.deepEqual(newestFirst.map((e) => e.event!.eventId), [end, out]);
});

test("withSession ends the session completed and returns fn's result", async () => {
  let id = "";
  const result = await writer.withSession({}, async (s) => {
    id = s.id;
    await s.output({ text: "hello" });
    return 42;
  });
  assert.equal(result, 42);
  const entries = await trail(id);
  assert.deepEqual(entries.map((e) => e.event!.payload.case), ["sessionStart", "output", "sessionEnd"]);
  assert.equal(payload(entries[2]!, "sessionEnd").reason, EndReason.COMPLETED);
});

test("a throwing session function records END_REASON_FAILED with the error type", async () => {
  class QuotaExceeded extends Error {}
  let id = "";
  const thrown = new QuotaExceeded("no tokens left");
  await assert.rejects(
    writer.withSession({}, async (s) => {
      id = s.id;
      await s.reasoning({ thought: "try the call" });
      throw thrown;
    }),
    (e) => e === thrown,
  );
  const entries = await trail(id);
  assert.deepEqual(entries.map((e) => e.event!.payload.case), ["sessionStart", "reasoning", "error", "sessionEnd"]);
  const error = payload(entries[2]!, "error");
  assert.equal(error.errorType, "QuotaExceeded");
  assert.equal(error.message, "no tokens left");
  const end = payload(entries[3]!, "sessionEnd");
  assert.equal(end.reason, EndReason.FAILED);
  assert.equal(end.detail, "QuotaExceeded");
  assert.equal(end.errorCount, 1);
  assert.equal(entries[3]!.event!.parentEventId, entries[2]!.event!.eventId);

  // A thrown non-Error is recorded by its type too.
  await assert.rejects(writer.withSession({}, () => {
    throw "plain string";
  }), (e) => e === "plain string");
});

test("bad arguments are refused by field name, without using a step", async () => {
  const s = await writer.startSession({});
  const cases: [string, () => Promise<string>][] = [
    ["llmCall.inputTokens", () => s.llmCall({ inputTokens: -1 })],
    ["llmCall.inputTokens", () => s.llmCall({ inputTokens: 1.5 })],
    ["llmCall.cost.currency", () => s.llmCall({ cost: { currency: "usd", micros: 1 } })],
    ["llmCall.inputMessages[0].role", () => s.llmCall({ inputMessages: [{ role: "robot" as "user" }] })],
    ["toolCall.durationMs", () => s.toolCall({ toolName: "t", durationMs: Number.NaN })],
    ["toolCall.outcome", () => s.toolCall({ toolName: "t", outcome: "maybe" as "success" })],
    ["reasoning.confidence", () => s.reasoning({ confidence: 2 })],
    ["approval.decision", () => s.approval({ decision: "sure" as "approved" })],
    ["approval.gatedEventId", () => s.approval({ decision: "approved", gatedEventId: "has spaces" })],
    ["parentId", () => s.output({ text: "x", parentId: "bad/id" })],
    ["eventId", () => s.output({ text: "x", eventId: "not-a-uuid" })],
    ["eventId", () => s.output({ text: "x", eventId: "01963A4E-7C1B-7000-8000-000000000001" })],
    ["occurredAt", () => s.output({ text: "x", occurredAt: new Date("nonsense") })],
    ["labels[\"k\"]", () => s.output({ text: "x", labels: { k: 1 as unknown as string } })],
  ];
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  cases.push(["toolCall.arguments", () => s.toolCall({ toolName: "t", arguments: cyclic })]);
  for (const [field, call] of cases) {
    await assert.rejects(call(), (e: unknown) => {
      assert.ok(e instanceof InvalidEventError, `${field}: got ${String(e)}`);
      assert.equal(e.field, field);
      assert.ok(e.message.startsWith(`${field}: `), e.message);
      return true;
    });
  }
  assert.equal(s.step, 1, "a refused call used a step");
  await assert.rejects(writer.startSession({ agentId: "" }), /agentId: is required/);
  await assert.rejects(writer.startSession({ sessionId: "no spaces allowed" }), InvalidEventError);
  await s.end("cancelled");
  await assert.rejects(s.output({ text: "late" }), SessionEndedError);
  await assert.rejects(s.end(), SessionEndedError);
  const entries = await trail(s.id);
  assert.deepEqual(entries.map((e) => e.event!.step), [1, 2]);
  assert.equal(payload(entries[1]!, "sessionEnd").reason, EndReason.CANCELLED);
});

test("a rejection is reported, counted and not retried; later events still go through", async () => {
  const before = writer.stats();
  const s = await writer.startSession({});
  // The server refuses events from more than --clock-skew in the future.
  const future = await s.output({ text: "from the future", occurredAt: Date.now() + 24 * 3600_000 });
  const fine = await s.output({ text: "now" });
  // flush reports the rejection once, naming it; the next has nothing to report.
  await assert.rejects(writer.flush({ timeoutMs: 10_000 }), (e: unknown) => {
    assert.ok(e instanceof DeliveryError, String(e));
    assert.equal(e.rejected, 1);
    assert.equal(e.rejections[0]!.eventId, future);
    assert.match(e.message, /^1 event was refused \(not in the log\); the first, event \S+ \(output\): INVALID_ARGUMENT: event\.occurred_at/);
    return true;
  });
  await writer.flush({ timeoutMs: 10_000 });
  const r = rejections.find((x) => x.eventId === future);
  assert.ok(r, "no rejection reported");
  assert.equal(r.code, Code.InvalidArgument);
  assert.equal(r.field, "event.occurred_at");
  assert.equal(r.kind, "output");
  assert.equal(r.sessionId, s.id);
  assert.match(r.message, /future/);
  const after = writer.stats();
  assert.equal(after.rejected - before.rejected, 1);
  assert.equal(after.delivered - before.delivered, 2);
  assert.equal(after.retries, before.retries);
  const entries = await trail(s.id);
  assert.deepEqual(entries.map((e) => e.event!.eventId), [s.startEventId, fine]);
});

test("an event too large to send is rejected by the client, in order with the others", async () => {
  const seen: RejectedEvent[] = [];
  const small = server.client("agent", { delivery: { maxEventBytes: 2048 }, onRejected: (r) => seen.push(r) });
  try {
    const s = await small.startSession({});
    const ok1 = await s.output({ text: "short" });
    const big = await s.output({ text: "x".repeat(4096) });
    const ok2 = await s.output({ text: "short again" });
    await assert.rejects(small.flush({ timeoutMs: 10_000 }), DeliveryError);
    assert.deepEqual(seen.map((r) => [r.eventId, r.code, r.field]), [[big, Code.ResourceExhausted, "event"]]);
    assert.match(seen[0]!.message, /bytes encoded/);
    const stats = small.stats();
    assert.equal(stats.delivered, 3);
    assert.equal(stats.rejected, 1);
    assert.equal(stats.unacknowledged, 0);
    const entries = await trail(s.id);
    assert.deepEqual(entries.map((e) => e.event!.eventId), [s.startEventId, ok1, ok2]);
  } finally {
    await small.close({ timeoutMs: 5_000 });
  }
});
