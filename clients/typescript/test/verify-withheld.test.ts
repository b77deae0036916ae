// A developer verifies the whole log although it may not see other
// principals' access records: the server sends those as withheld leaves,
// which verifyLog proves to be in the log and reports as withheld, not
// missing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { MalformedError, WithheldEntrySchema, verifyWithheld } from "../src/index.js";
import type { AgentTrailClient } from "../src/index.js";
import { TestServer, collect } from "./harness.js";

let server: TestServer;
let writer: AgentTrailClient;
let auditor: AgentTrailClient;
let developer: AgentTrailClient;

async function logSession(): Promise<string> {
  const s = await writer.startSession({ userMessage: "verify me" });
  await s.llmCall({ providerName: "openai", outputText: "hello", inputTokens: 3 });
  await s.end();
  await writer.flush({ timeoutMs: 10_000 });
  return s.id;
}

before(async () => {
  server = await TestServer.start({
    keys: { agent: { role: "agent" }, auditor: { role: "compliance" }, dev: { role: "developer" } },
  });
  writer = server.client("agent");
  auditor = server.client("auditor");
  developer = server.client("dev");
});

after(async () => {
  await writer?.close({ timeoutMs: 5_000 });
  await auditor?.close({ timeoutMs: 5_000 });
  await developer?.close({ timeoutMs: 5_000 });
  await server?.dispose();
});

test("verifyLog: a developer's view withholds others' access records, which still verify", async () => {
  const id = await logSession();
  assert.equal((await collect(auditor.query({ sessionId: id }))).length, 3); // an access record
  assert.equal((await collect(developer.query({ sessionId: id }))).length, 3); // the developer's own
  await logSession(); // a checkpoint that covers both reads

  const full = await auditor.verifyLog();
  assert.deepEqual(full.withheld, []);
  assert.equal(BigInt(full.entries), full.treeHead.size);
  assert.equal(full.contentVerified, full.entries);

  const seen = await developer.verifyLog({ toIndex: full.treeHead.size });
  assert.ok(seen.withheld.length > 0, "the auditor's access record is withheld from the developer");
  assert.equal(BigInt(seen.entries + seen.withheld.length), full.treeHead.size);
  assert.equal(seen.contentVerified, 0, "the redacted view withholds content");
  for (const index of seen.withheld) {
    const entry = await auditor.getEvent(index);
    assert.equal(entry.event?.payload.case, "access");
  }
});

test("verifyWithheld: a leaf hash must be 32 bytes", () => {
  assert.throws(() => verifyWithheld(create(WithheldEntrySchema, { logIndex: 3n, leafHash: new Uint8Array(5) })), MalformedError);
  verifyWithheld(create(WithheldEntrySchema, { logIndex: 3n, leafHash: new Uint8Array(32) }));
});
