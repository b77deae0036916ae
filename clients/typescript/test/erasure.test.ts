// Erased entries on the real server: every view shows them as erased, with
// the index of the erasure that names them; they still verify, and so does
// the erasure, with verifyErasure and verifyLog.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { clone, create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  ContentState,
  EntrySchema,
  EventMismatchError,
  LifecycleService,
  EraseRequestSchema,
  VerificationError,
  erasureOf,
  verifyEntry,
  verifyErasure,
} from "../src/index.js";
import type { AgentTrailClient, Entry } from "../src/index.js";
import { TestServer, collect } from "./harness.js";

let server: TestServer;
let writer: AgentTrailClient;
let auditor: AgentTrailClient;
let developer: AgentTrailClient;

before(async () => {
  server = await TestServer.start({
    keys: { agent: { role: "agent" }, auditor: { role: "compliance" }, dev: { role: "developer" } },
  });
  writer = server.client("agent");
  auditor = server.client("auditor");
  developer = server.client("dev");
});

after(async () => {
  for (const c of [writer, auditor, developer]) await c?.close({ timeoutMs: 5_000 });
  await server?.dispose();
});

async function session(userId: string): Promise<string> {
  const s = await writer.startSession({ userMessage: `help ${userId}`, userId });
  await s.llmCall({ providerName: "openai", outputText: "secret answer", inputTokens: 3 });
  await s.end();
  await writer.flush({ timeoutMs: 10_000 });
  return s.id;
}

test("erased entries show as erased in every view, verify, and name their erasure", async () => {
  const erasedSession = await session("customer-42");
  const keptSession = await session("customer-43");
  const lifecycle = createClient(LifecycleService, createGrpcTransport({ baseUrl: `http://${server.address}` }));
  const headers = { authorization: `Bearer ${server.apiKey("auditor")}` };
  const response = await lifecycle.erase(
    create(EraseRequestSchema, { target: { case: "userId", value: "customer-42" }, reason: "DSR-7" }),
    { headers },
  );
  assert.ok(response.count >= 3n && response.erasureIndex !== undefined);
  const erasure = await auditor.getEvent(response.erasureIndex!);
  assert.equal(erasure.event?.payload.case, "erasure");

  for (const reader of [auditor, developer]) {
    const entries: Entry[] = await collect(reader.query({ sessionId: erasedSession }));
    assert.ok(entries.length >= 3);
    for (const e of entries) {
      assert.equal(e.view?.content, ContentState.ERASED);
      assert.equal(erasureOf(e), response.erasureIndex);
      assert.equal(e.commitment!.content.length, 0);
      assert.equal(e.commitment!.salt.length, 0);
      verifyEntry(e);
      verifyErasure(e, erasure);
      const v = await reader.verify(e);
      assert.equal(v.contentVerified, false);
    }
  }
  const kept: Entry[] = await collect(auditor.query({ sessionId: keptSession }));
  for (const e of kept) assert.equal(erasureOf(e), undefined);

  const first: Entry = (await collect(auditor.query({ sessionId: erasedSession })))[0]!;
  assert.throws(() => verifyErasure(first, kept[kept.length - 1]!), EventMismatchError);
  const fake = clone(EntrySchema, erasure);
  if (fake.event?.payload.case === "erasure") {
    fake.event.payload.value.logIndexes = [];
    fake.event.payload.value.ranges = [];
  }
  assert.throws(() => verifyErasure(first, fake), VerificationError);

  const all = await auditor.verifyLog();
  assert.ok(all.erased.includes(first.stamp!.logIndex));
  const one = await developer.verifyLog({ fromIndex: first.stamp!.logIndex, toIndex: first.stamp!.logIndex + 1n });
  assert.deepEqual(one.erased, [first.stamp!.logIndex], "the erasure outside the range is fetched and proven");

  const again = await lifecycle.erase(
    create(EraseRequestSchema, { target: { case: "userId", value: "customer-42" }, reason: "DSR-7" }),
    { headers },
  );
  assert.equal(again.alreadyErased, true);
  assert.equal(again.erasureIndex, response.erasureIndex);
});
