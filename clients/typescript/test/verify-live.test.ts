// Verification of real entries, proofs and checkpoints from the real server,
// against the verifier key serve printed (the out-of-band copy), and what
// happens when any of them is wrong.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { clone, create, equals } from "@bufbuild/protobuf";
import {
  AgentTrailError,
  BadProofError,
  EntrySchema,
  EventMismatchError,
  LeafMismatchError,
  MalformedError,
  NoSignatureError,
  NotCheckpointedError,
  OriginMismatchError,
} from "../src/index.js";
import type { AgentTrailClient, Entry } from "../src/index.js";
import { withEvent } from "../src/client.js";
import { QueryRequestSchema } from "../src/gen/agenttrail/v1/query_service_pb.js";
import type { QueryResponse } from "../src/gen/agenttrail/v1/query_service_pb.js";
import { TestServer, collect } from "./harness.js";
import { testdata } from "./testdata.js";

let server: TestServer;
let writer: AgentTrailClient;
let reader: AgentTrailClient;
let entries: Entry[];

before(async () => {
  server = await TestServer.start();
  writer = server.client("agent");
  reader = server.client("auditor");
  const s = await writer.startSession({ userMessage: "verify me" });
  await s.llmCall({ providerName: "openai", outputText: "hello", inputTokens: 3 });
  await s.toolCall({ toolName: "search", arguments: { q: "x" }, error: new Error("boom") });
  await s.end();
  await writer.flush({ timeoutMs: 10_000 });
  entries = await collect(reader.query({ sessionId: s.id }));
  assert.equal(entries.length, 4);
});

after(async () => {
  await writer?.close({ timeoutMs: 5_000 });
  await reader?.close({ timeoutMs: 5_000 });
  await server?.dispose();
});

test("verify: real entries against real inclusion proofs and signed checkpoints", async () => {
  for (const entry of entries) {
    const v = await reader.verify(entry);
    assert.equal(v.entry, entry);
    assert.equal(v.contentVerified, true, "the full view's content is checked against its digest");
    assert.equal(v.treeHead.origin, server.origin);
    assert.ok(v.treeHead.size > entry.stamp!.logIndex);
  }
  // By event id and by log index, fetching the entry first.
  const byId = await reader.verify(entries[2]!.event!.eventId);
  assert.equal(byId.entry.event!.eventId, entries[2]!.event!.eventId);
  const byIndex = await reader.verify(entries[3]!.stamp!.logIndex);
  assert.equal(byIndex.entry.stamp!.logIndex, entries[3]!.stamp!.logIndex);
});

test("the full view's events are rebuilt from their commitment, equal to those the server sends whole", async () => {
  // The client asks for the full view without each event (eventFromCommitment).
  const raw = (reader as unknown as { query_: { query: (r: unknown, o?: unknown) => AsyncIterable<QueryResponse> } }).query_;
  const asked: boolean[] = [];
  const spied = {
    query: (r: { eventFromCommitment: boolean }, o?: unknown) => {
      asked.push(r.eventFromCommitment);
      return raw.query(r, o);
    },
  };
  (reader as unknown as { query_: typeof spied }).query_ = spied;
  let got: Entry[];
  try {
    got = await collect(reader.query({ sessionId: entries[0]!.event!.sessionId }));
  } finally {
    (reader as unknown as { query_: typeof raw }).query_ = raw;
  }
  assert.deepEqual(asked, [true]);
  const entriesOf = async (eventFromCommitment: boolean): Promise<Entry[]> => {
    const out: Entry[] = [];
    const request = create(QueryRequestSchema, { filter: { sessionId: entries[0]!.event!.sessionId }, eventFromCommitment });
    for await (const r of raw.query(request)) if (r.item.case === "entry") out.push(r.item.value);
    return out;
  };
  const whole = await entriesOf(false);
  assert.equal(got.length, whole.length);
  for (const [i, g] of got.entries()) {
    assert.ok(equals(EntrySchema, g, whole[i]!), `entry ${i}: the rebuilt entry differs from the one sent whole`);
  }
  const bare = await entriesOf(true);
  assert.ok(bare.length > 0 && bare.every((e) => e.event === undefined), "the server sent events it was asked to leave out");
  const broken = clone(EntrySchema, bare[1]!);
  broken.commitment!.content = new Uint8Array([0xff]);
  assert.throws(() => withEvent(broken), MalformedError);
});

test("checkpoint and verifyConsistency: the log only grows", async () => {
  const first = await reader.checkpoint();
  assert.equal(first.origin, server.origin);
  assert.equal(first.root.length, 32);
  const s = await writer.startSession({});
  await s.end();
  await writer.flush({ timeoutMs: 10_000 });
  const next = await reader.verifyConsistency(first);
  assert.ok(next.size >= first.size + 2n, `tree did not grow: ${first.size} -> ${next.size}`);
  const again = await reader.verifyConsistency(next);
  assert.ok(again.size >= next.size);
  // From the empty tree, which every tree extends.
  const empty = { origin: server.origin, size: 0n, root: new Uint8Array(Buffer.from("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "base64")) };
  assert.ok((await reader.verifyConsistency(empty)).size >= next.size);
  // A head that is not a prefix of the log (a forged root) fails.
  const forged = { ...first, root: new Uint8Array(32).fill(7) };
  await assert.rejects(reader.verifyConsistency(forged), BadProofError);
});

test("verify fails with the error that names the problem", async () => {
  const vectors = JSON.parse(readFileSync(join(testdata, "vectors", "checkpoints.json"), "utf8")) as {
    good: { verifier_key: string; origin: string }[];
  };
  const otherLog = vectors.good[0]!;
  await assert.rejects(reader.verify(entries[0]!, { verifierKey: otherLog.verifier_key }), NoSignatureError);
  await assert.rejects(reader.verify(entries[0]!, { origin: "some.other/log" }), OriginMismatchError);

  const changed = clone(EntrySchema, entries[1]!);
  if (changed.event!.payload.case !== "llmCall") throw new Error("entry 1 is not the LLM call");
  changed.event!.payload.value.outputText = "goodbye";
  await assert.rejects(reader.verify(changed), EventMismatchError);

  const moved = clone(EntrySchema, entries[1]!);
  moved.stamp!.logIndex = entries[2]!.stamp!.logIndex;
  // The log index is not in the header: the proof of the leaf at the
  // claimed index gives the entry away.
  await assert.rejects(reader.verify(moved), (e: unknown) => {
    assert.ok(e instanceof LeafMismatchError, String(e));
    assert.match(e.message, new RegExp(`at log index ${moved.stamp!.logIndex}`));
    return true;
  });

  const noKey = server.client("auditor", { verifierKey: undefined });
  try {
    await assert.rejects(noKey.verify(entries[0]!), (e: unknown) => {
      assert.ok(e instanceof AgentTrailError);
      assert.match(e.message, /no trusted verifier key/);
      return true;
    });
    // The key the server states matches the one it printed, which is
    // what an operator would compare.
    assert.deepEqual(await noKey.getVerifierKey(), { origin: server.origin, verifierKey: server.verifierKey });
  } finally {
    await noKey.close();
  }
});

test("verify waits for a checkpoint that covers the entry, and says so when none comes", async () => {
  const slow = await TestServer.start({ checkpointInterval: "400ms" });
  const never = await TestServer.start({ checkpointInterval: "1h" });
  const clients: AgentTrailClient[] = [];
  try {
    for (const srv of [slow, never]) {
      const w = srv.client("agent");
      clients.push(w);
      await (await w.startSession({})).end();
      await w.flush({ timeoutMs: 10_000 });
    }
    const slowReader = slow.client("auditor");
    const neverReader = never.client("auditor");
    clients.push(slowReader, neverReader);
    const [entry] = await collect(slowReader.query({}));
    const v = await slowReader.verify(entry!, { waitMs: 5_000 });
    assert.ok(v.treeHead.size >= 1n);

    // The log opens with the key changes of the test's keys, which the
    // offline "keys create" checkpointed when it closed the store; the
    // agent's last event came later and no checkpoint covers it.
    const entries = await collect(neverReader.query({}));
    const lonely = entries[entries.length - 1]!;
    const index = lonely.stamp!.logIndex;
    await assert.rejects(neverReader.verify(lonely, { waitMs: 300 }), (e: unknown) => {
      assert.ok(e instanceof NotCheckpointedError);
      assert.equal(e.logIndex, index);
      assert.ok(e.treeSize <= index, `checkpoint size ${e.treeSize} covers index ${index}`);
      assert.match(e.message, /not covered by the latest checkpoint/);
      return true;
    });
  } finally {
    for (const c of clients) await c.close({ timeoutMs: 5_000 });
    await slow.dispose();
    await never.dispose();
  }
});
