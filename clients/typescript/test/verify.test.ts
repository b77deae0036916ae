// verify.ts passes every shared test vector.
//
// The vectors in clients/testdata/vectors are written by the Go suite
// (go test ./clients/go/verify -run TestVectors -update) and documented in
// their README.md. Every good vector must verify, and every broken one must
// fail with the error class it names, exactly as in Go and Python.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EntrySchema } from "../src/gen/agenttrail/v1/entry_pb.js";
import { EventSchema } from "../src/gen/agenttrail/v1/event_pb.js";
import {
  BadProofError,
  BadSignatureError,
  DigestMismatchError,
  EventMismatchError,
  LeafMismatchError,
  MalformedError,
  NoSignatureError,
  OriginMismatchError,
  VerificationError,
  contentDigest,
  leafHash,
  MissingEntryError,
  NoQuorumError,
  UnprovenErasureError,
  ErasureLedger,
  verifyCosignedCheckpoint,
  parseVerifierKey,
  verifyCheckpoint,
  verifyConsistency,
  verifyEntry,
  verifyInclusion,
} from "../src/index.js";
import type { VerificationErrorCode } from "../src/index.js";
import { testdata } from "./testdata.js";

const errorClasses: Record<VerificationErrorCode, new (message: string) => VerificationError> = {
  malformed: MalformedError,
  bad_signature: BadSignatureError,
  no_signature: NoSignatureError,
  origin_mismatch: OriginMismatchError,
  bad_proof: BadProofError,
  leaf_mismatch: LeafMismatchError,
  digest_mismatch: DigestMismatchError,
  event_mismatch: EventMismatchError,
  no_quorum: NoQuorumError,
  unproven_erasure: UnprovenErasureError,
  missing: MissingEntryError,
};

interface Named {
  name: string;
}
interface Broken extends Named {
  wrong: string;
  error: VerificationErrorCode;
}
interface VectorFile<G extends Named, B extends Broken> {
  good: G[];
  broken: B[];
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(join(testdata, "vectors", name), "utf8")) as T;
}

function b64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "base64"));
}

/** Fails unless fn throws the error class the vector names, saying what is wrong. */
function expectError(fn: () => unknown, v: Broken): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `got ${String(e)}, want a VerificationError`);
    assert.ok(e instanceof errorClasses[v.error], `got ${e.name} (${e.message}), want ${errorClasses[v.error].name}`);
    assert.equal(e.code, v.error);
    assert.ok(e.message.length > 0, "error does not say what is wrong");
    return true;
  });
}

test("error classes", () => {
  for (const [code, cls] of Object.entries(errorClasses)) {
    const e = new cls("x");
    assert.ok(e instanceof VerificationError && e instanceof Error);
    assert.equal(e.code, code);
    assert.equal(e.name, cls.name);
  }
});

// --- Entries ----------------------------------------------------------------

interface GoodEntry extends Named {
  entry: string;
  header: string;
  content: string;
  salt: string;
  content_digest: string;
  leaf_hash: string;
}
interface BrokenEntry extends Broken {
  entry: string;
}
const entries = load<VectorFile<GoodEntry, BrokenEntry>>("entries.json");

for (const v of entries.good) {
  test(`entry: good: ${v.name}`, () => {
    const salt = b64(v.salt);
    if (salt.length > 0) {
      assert.deepEqual(contentDigest(salt, b64(v.content)), b64(v.content_digest));
    }
    assert.deepEqual(leafHash(b64(v.header), b64(v.content_digest)), b64(v.leaf_hash));
    const entry = fromBinary(EntrySchema, b64(v.entry));
    const c = entry.commitment!;
    assert.deepEqual(
      [c.header, c.content, c.salt, c.contentDigest, c.leafHash],
      [v.header, v.content, v.salt, v.content_digest, v.leaf_hash].map(b64),
    );
    const before = toBinary(EntrySchema, entry);
    verifyEntry(entry);
    assert.deepEqual(toBinary(EntrySchema, entry), before, "verifyEntry modified the entry");
  });
}

for (const v of entries.broken) {
  test(`entry: broken: ${v.name}`, () => {
    expectError(() => verifyEntry(fromBinary(EntrySchema, b64(v.entry))), v);
  });
}

test("entry: no commitment", () => {
  assert.throws(() => verifyEntry(create(EntrySchema)), MalformedError);
});

// --- Trees and proofs ---------------------------------------------------------

/** The RFC 6962 Merkle tree hash of leaf hashes, by its definition. */
function merkleRoot(leaves: Uint8Array[]): Uint8Array {
  const h = (...parts: Uint8Array[]) => {
    const hash = createHash("sha256");
    for (const p of parts) hash.update(p);
    return new Uint8Array(hash.digest());
  };
  if (leaves.length === 0) return h();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return h(Uint8Array.of(1), merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

test("trees: roots of the test log", () => {
  const trees = load<{ leaves: string[]; trees: { size: string; root: string }[] }>("trees.json");
  const leaves = trees.leaves.map(b64);
  assert.equal(leaves.length, 100);
  for (const t of trees.trees) {
    assert.deepEqual(merkleRoot(leaves.slice(0, Number(t.size))), b64(t.root), `root of size ${t.size}`);
  }
});

interface InclusionVector extends Named {
  index: string;
  size: string;
  leaf_hash: string;
  proof: string[];
  root: string;
}
const inclusion = load<VectorFile<InclusionVector, InclusionVector & Broken>>("inclusion.json");
const runInclusion = (v: InclusionVector) =>
  verifyInclusion(BigInt(v.index), BigInt(v.size), b64(v.leaf_hash), v.proof.map(b64), b64(v.root));

for (const v of inclusion.good) {
  test(`inclusion: good: ${v.name}`, () => runInclusion(v));
}
for (const v of inclusion.broken) {
  test(`inclusion: broken: ${v.name}`, () => expectError(() => runInclusion(v), v));
}

interface ConsistencyVector extends Named {
  old_size: string;
  new_size: string;
  old_root: string;
  new_root: string;
  proof: string[];
}
const consistency = load<VectorFile<ConsistencyVector, ConsistencyVector & Broken>>("consistency.json");
const runConsistency = (v: ConsistencyVector) =>
  verifyConsistency(BigInt(v.old_size), BigInt(v.new_size), b64(v.old_root), b64(v.new_root), v.proof.map(b64));

for (const v of consistency.good) {
  test(`consistency: good: ${v.name}`, () => runConsistency(v));
}
for (const v of consistency.broken) {
  test(`consistency: broken: ${v.name}`, () => expectError(() => runConsistency(v), v));
}

test("proofs: inputs outside the format", () => {
  const h = new Uint8Array(32);
  const cases: [string, () => void, new (message: string) => VerificationError][] = [
    ["size 2^63", () => verifyInclusion(0n, 1n << 63n, h, [], h), BadProofError],
    ["negative index", () => verifyInclusion(-1, 2, h, [], h), MalformedError],
    ["index not an integer", () => verifyInclusion(0.5, 2, h, [], h), MalformedError],
    ["size beyond a safe integer", () => verifyInclusion(0, 2 ** 60, h, [], h), MalformedError],
    ["short leaf", () => verifyInclusion(0, 2, h.subarray(1), [], h), MalformedError],
    ["new size 2^63", () => verifyConsistency(1n, 1n << 63n, h, h, []), BadProofError],
    ["empty old root", () => verifyConsistency(1, 2, new Uint8Array(), h, []), MalformedError],
  ];
  for (const [name, fn, cls] of cases) {
    assert.throws(fn, cls, name);
  }
  // Numbers and bigints are the same sizes.
  const v = inclusion.good[0]!;
  verifyInclusion(Number(v.index), Number(v.size), b64(v.leaf_hash), v.proof.map(b64), b64(v.root));
});

// --- Checkpoints and keys ----------------------------------------------------------

interface GoodCheckpoint extends Named {
  note: string;
  verifier_key: string;
  origin: string;
  size: string;
  root: string;
}
interface BrokenCheckpoint extends Broken {
  note: string;
  verifier_key: string;
  origin: string;
}
const checkpoints = load<VectorFile<GoodCheckpoint, BrokenCheckpoint>>("checkpoints.json");

for (const v of checkpoints.good) {
  test(`checkpoint: good: ${v.name}`, () => {
    const head = verifyCheckpoint(b64(v.note), v.verifier_key, v.origin);
    assert.deepEqual(head, { origin: v.origin, size: BigInt(v.size), root: b64(v.root) });
  });
}
for (const v of checkpoints.broken) {
  test(`checkpoint: broken: ${v.name}`, () => {
    expectError(() => verifyCheckpoint(b64(v.note), v.verifier_key, v.origin), v);
  });
}

interface GoodKey extends Named {
  verifier_key: string;
  key_name: string;
  key_hash: number;
  public_key: string;
}
interface BrokenKey extends Broken {
  verifier_key: string;
}
const keys = load<VectorFile<GoodKey, BrokenKey>>("verifier_keys.json");

for (const v of keys.good) {
  test(`verifier key: good: ${v.name}`, () => {
    assert.deepEqual(parseVerifierKey(v.verifier_key), {
      name: v.key_name,
      keyHash: v.key_hash,
      publicKey: b64(v.public_key),
    });
  });
}
for (const v of keys.broken) {
  test(`verifier key: broken: ${v.name}`, () => expectError(() => parseVerifierKey(v.verifier_key), v));
}

test("verifier key: a lone surrogate is not UTF-8", () => {
  assert.throws(() => parseVerifierKey("log\ud800+00000000+AQ=="), /UTF-8/);
});

// --- Witness policies ------------------------------------------------------------

interface CosignedVector extends Named {
  note: string;
  verifier_key: string;
  origin: string;
  witness_keys: string[];
  quorum: number;
  size?: string;
  root?: string;
  cosigners?: string[];
}
const cosigned = load<VectorFile<CosignedVector, CosignedVector & Broken>>("cosigned.json");
const openCosigned = (v: CosignedVector) =>
  verifyCosignedCheckpoint(b64(v.note), v.verifier_key, v.origin, v.witness_keys, v.quorum);

for (const v of cosigned.good) {
  test(`cosigned: good: ${v.name}`, () => {
    const { head, cosignatures } = openCosigned(v);
    assert.deepEqual(head, { origin: v.origin, size: BigInt(v.size!), root: b64(v.root!) });
    assert.deepEqual(
      cosignatures.map((c) => c.witness),
      v.cosigners,
    );
  });
}
for (const v of cosigned.broken) {
  test(`cosigned: broken: ${v.name}`, () => {
    expectError(() => openCosigned(v), v);
  });
}

// --- Erasures ------------------------------------------------------------------------

interface ErasureCase extends Named {
  entries: Array<{ index: string; event: string; erased: boolean }>;
  error?: VerificationErrorCode;
  first_unproven?: string;
}
for (const c of load<{ cases: ErasureCase[] }>("erasures.json").cases) {
  test(`erasures: ${c.name}`, () => {
    const ledger = new ErasureLedger();
    for (const e of c.entries) {
      ledger.note(BigInt(e.index), fromBinary(EventSchema, b64(e.event)), e.erased);
    }
    if (c.error === undefined) {
      ledger.check();
      return;
    }
    expectError(() => ledger.check(), { name: c.name, wrong: "", error: c.error });
    assert.equal(ledger.unproven()[0], BigInt(c.first_unproven!));
  });
}
