// The verifier as the console bundles it (verify.ts with the browser's
// crypto module, src/crypto.browser.ts) passes every shared test vector, as
// the Node.js build does in clients/typescript. The bundle is built here
// with the console's own resolution (resolve.mjs) and run in Node.js.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { repo, resolveOptions, ui } from "../resolve.mjs";

const dir = mkdtempSync(join(tmpdir(), "agenttrail-console-verify-"));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, "entry.ts"),
  `export * from "@agenttrail/verify";
export { fromBinary } from "@bufbuild/protobuf";
export { EntrySchema } from "@agenttrail/gen/entry_pb.js";
export { sha256 } from ${JSON.stringify(join(ui, "src", "crypto.browser.ts"))};`,
);
await build({
  entryPoints: [join(dir, "entry.ts")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  outfile: join(dir, "verify.mjs"),
  logLevel: "warning",
  ...resolveOptions,
});
const v = await import(pathToFileURL(join(dir, "verify.mjs")).href);
const bundled = readFileSync(join(dir, "verify.mjs"), "utf8");

const load = (name) => JSON.parse(readFileSync(join(repo, "clients", "testdata", "vectors", name), "utf8"));
const b64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
function expectError(fn, vec) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof v.VerificationError, `got ${e}, want a VerificationError`);
    assert.equal(e.code, vec.error, `${vec.name}: got ${e.code} (${e.message})`);
    return true;
  });
}

test("the browser bundle uses no Node.js module", () => {
  assert.doesNotMatch(bundled, /from\s*"node:|require\("node:|\bBuffer\./);
});

test("sha256 of the browser build", () => {
  assert.equal(Buffer.from(v.sha256(new TextEncoder().encode("abc"))).toString("hex"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("entries", () => {
  const f = load("entries.json");
  for (const vec of f.good) {
    assert.deepEqual(v.leafHash(b64(vec.header), b64(vec.content_digest)), b64(vec.leaf_hash), vec.name);
    v.verifyEntry(v.fromBinary(v.EntrySchema, b64(vec.entry)));
  }
  for (const vec of f.broken) expectError(() => v.verifyEntry(v.fromBinary(v.EntrySchema, b64(vec.entry))), vec);
});

test("inclusion proofs", () => {
  const f = load("inclusion.json");
  const run = (x) => v.verifyInclusion(BigInt(x.index), BigInt(x.size), b64(x.leaf_hash), x.proof.map(b64), b64(x.root));
  for (const vec of f.good) run(vec);
  for (const vec of f.broken) expectError(() => run(vec), vec);
});

test("consistency proofs", () => {
  const f = load("consistency.json");
  const run = (x) => v.verifyConsistency(BigInt(x.old_size), BigInt(x.new_size), b64(x.old_root), b64(x.new_root), x.proof.map(b64));
  for (const vec of f.good) run(vec);
  for (const vec of f.broken) expectError(() => run(vec), vec);
});

test("checkpoints: Ed25519 signatures through @noble/curves", () => {
  const f = load("checkpoints.json");
  for (const vec of f.good) {
    const head = v.verifyCheckpoint(b64(vec.note), vec.verifier_key, vec.origin);
    assert.equal(head.size, BigInt(vec.size), vec.name);
  }
  for (const vec of f.broken) expectError(() => v.verifyCheckpoint(b64(vec.note), vec.verifier_key, vec.origin), vec);
});

test("verifier keys", () => {
  const f = load("verifier_keys.json");
  for (const vec of f.good) assert.equal(v.parseVerifierKey(vec.verifier_key).keyHash, vec.key_hash, vec.name);
  for (const vec of f.broken) expectError(() => v.parseVerifierKey(vec.verifier_key), vec);
});

test("cosigned checkpoints: witness cosignatures through @noble/curves", () => {
  const f = load("cosigned.json");
  for (const vec of f.good) {
    const { head, cosignatures } = v.verifyCosignedCheckpoint(b64(vec.note), vec.verifier_key, vec.origin, vec.witness_keys, vec.quorum);
    assert.equal(head.size, BigInt(vec.size), vec.name);
    assert.deepEqual(cosignatures.map((c) => c.witness), vec.cosigners, vec.name);
  }
  for (const vec of f.broken) expectError(() => v.verifyCosignedCheckpoint(b64(vec.note), vec.verifier_key, vec.origin, vec.witness_keys, vec.quorum), vec);
});
