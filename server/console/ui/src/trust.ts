// What the console trusts and how it checks what the server sends, all in
// the browser with the TypeScript client's verifier (verify.ts):
//
// - the log's verifier key: pinned by the reader (pasted from `agenttrail
//   serve`'s output or the operator), or else trusted on first use from the
//   server, which the page says;
// - the latest signed checkpoint: its signature by that key, and its
//   consistency with the checkpoint saved on the last visit (kept in this
//   browser's localStorage, per server address and log origin);
// - each entry: its commitment (leaf hash, and content digest where the
//   view shows the content) and its inclusion proof against the checkpoint.
import { create } from "@bufbuild/protobuf";
import type { Entry } from "@agenttrail/gen/entry_pb.js";
import { ContentState } from "@agenttrail/gen/entry_pb.js";
import type { Checkpoint, GetInclusionProofResponse } from "@agenttrail/gen/log_service_pb.js";
import { GetInclusionProofResponseSchema } from "@agenttrail/gen/log_service_pb.js";
import {
  VerificationError,
  parseVerifierKey,
  verifyCheckpoint,
  verifyCosignedCheckpoint,
  parseWitnessKey,
  verifyConsistency,
  verifyEntry,
  verifyInclusion,
} from "@agenttrail/verify";
import type { TreeHead } from "@agenttrail/verify";
import { log } from "./api.js";

const STORE_KEY = "agenttrail.trust.v1";

/** What this browser keeps for one server: not secret. */
interface Saved {
  verifierKey: string;
  pinned: boolean; // pasted by the reader rather than taken from the server
  witnesses?: string[]; // witness cosignature keys the reader trusts
  quorum?: number; // how many of them must cosign
  size?: string;
  root?: string; // base64
  note?: string; // the signed note, for the record
  checkedAt?: string;
}

function b64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function unb64(s: string): Uint8Array {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function load(): Saved | undefined {
  try {
    const all = JSON.parse(localStorage.getItem(STORE_KEY) ?? "{}") as Record<string, Saved>;
    return all[location.origin];
  } catch {
    return undefined;
  }
}

function save(s: Saved | undefined): void {
  let all: Record<string, Saved> = {};
  try {
    all = JSON.parse(localStorage.getItem(STORE_KEY) ?? "{}") as Record<string, Saved>;
  } catch {
    // start over
  }
  if (s) all[location.origin] = s;
  else delete all[location.origin];
  localStorage.setItem(STORE_KEY, JSON.stringify(all));
}

/** The verified state of the log, as this browser sees it. */
export interface LogTrust {
  readonly head: TreeHead;
  readonly checkpoint: Checkpoint;
  readonly verifierKey: string;
  readonly pinned: boolean;
  /** The checkpoint saved on an earlier visit, that this one is consistent with. */
  readonly consistentWith?: { size: bigint; checkedAt: string };
  /** The witness cosignatures that verified under the reader's witness policy. */
  readonly cosignatures: string[];
  /** The reader's witness policy, when set: the checkpoint is then the newest one a quorum cosigned. */
  readonly policy?: { witnesses: string[]; quorum: number };
  /** Cosignature lines by keys outside the policy (or all, without a policy): present, not checked. */
  readonly unchecked: string[];
}

/** Pins a verifier key given out of band; throws when it does not parse. */
export function pinKey(key: string): void {
  parseVerifierKey(key.trim());
  save({ verifierKey: key.trim(), pinned: true });
}

/**
 * Sets the witnesses this browser trusts (cosignature/v1 keys, as
 * `agenttrail witness` prints them) and how many must cosign; an empty list
 * clears the policy. Throws when a key does not parse or the quorum cannot
 * be met.
 */
export function setWitnessPolicy(keys: string[], quorum: number): void {
  const saved = load();
  if (!saved) throw new TrustError("pin the log's verifier key first, or visit a session once");
  keys.forEach((k) => parseWitnessKey(k));
  if (keys.length > 0 && (!Number.isInteger(quorum) || quorum < 1 || quorum > keys.length)) {
    throw new TrustError(`the quorum must be between 1 and ${keys.length}`);
  }
  save({ ...saved, witnesses: keys.length > 0 ? keys : undefined, quorum: keys.length > 0 ? quorum : undefined });
}

export function witnessPolicy(): { witnesses: string[]; quorum: number } | undefined {
  const s = load();
  return s?.witnesses?.length ? { witnesses: s.witnesses, quorum: s.quorum ?? s.witnesses.length } : undefined;
}

/** Forgets the saved key and checkpoint of this server. */
export function forget(): void {
  save(undefined);
}

export function savedKey(): { key: string; pinned: boolean } | undefined {
  const s = load();
  return s ? { key: s.verifierKey, pinned: s.pinned } : undefined;
}

/** A failure to establish trust in the log, with what it means. */
export class TrustError extends Error {
  override name = "TrustError";
}

let current: Promise<LogTrust> | undefined;

/** The latest checkpoint, verified, and consistent with the saved one. Cached until refresh. */
export function logTrust(refresh = false): Promise<LogTrust> {
  if (!current || refresh) current = establish();
  current.catch(() => {
    current = undefined;
  });
  return current;
}

async function establish(): Promise<LogTrust> {
  let saved = load();
  if (!saved) {
    const stated = await log.getVerifierKey({});
    saved = { verifierKey: stated.verifierKey, pinned: false };
  }
  const key = parseVerifierKey(saved.verifierKey);
  const policy = saved.witnesses?.length ? { witnesses: saved.witnesses, quorum: saved.quorum ?? saved.witnesses.length } : undefined;
  // With a witness policy, the newest checkpoint a quorum cosigned, which
  // may be older than the latest; events after it wait for the next one.
  const { checkpoint } = await log.getCheckpoint({ cosigned: policy !== undefined });
  if (!checkpoint) throw new TrustError("the server sent no checkpoint");
  let head: TreeHead;
  let cosignatures: string[] = [];
  try {
    if (policy) {
      const r = verifyCosignedCheckpoint(checkpoint.signedNote, saved.verifierKey, key.name, policy.witnesses, policy.quorum);
      head = r.head;
      cosignatures = r.cosignatures.map((c) => c.witness);
    } else {
      head = verifyCheckpoint(checkpoint.signedNote, saved.verifierKey, key.name);
    }
  } catch (e) {
    throw new TrustError(`the ${policy ? "cosigned " : ""}checkpoint does not verify with the ${saved.pinned ? "pinned" : "saved"} key${policy ? ` and your witness policy (${policy.quorum} of ${policy.witnesses.length})` : ""}: ${String((e as Error).message)}`);
  }
  let consistentWith: LogTrust["consistentWith"];
  if (saved.size !== undefined && saved.root !== undefined) {
    const oldSize = BigInt(saved.size);
    const oldRoot = unb64(saved.root);
    if (head.size < oldSize) {
      throw new TrustError(`the log shrank: this browser saw ${oldSize} events on ${saved.checkedAt}, the server now signs ${head.size}`);
    }
    try {
      if (head.size === oldSize) {
        verifyConsistency(oldSize, head.size, oldRoot, head.root, []);
      } else {
        const p = await log.getConsistencyProof({ fromSize: oldSize, toSize: head.size });
        verifyConsistency(oldSize, head.size, oldRoot, head.root, p.hashes);
      }
    } catch (e) {
      throw new TrustError(`the log is not consistent with the checkpoint this browser saved on ${saved.checkedAt} (${oldSize} events): ${String((e as Error).message)}`);
    }
    consistentWith = { size: oldSize, checkedAt: saved.checkedAt ?? "" };
  }
  const note = new TextDecoder().decode(checkpoint.signedNote);
  const sigs = note.slice(note.lastIndexOf("\n\n") + 2).split("\n").filter((l) => l.startsWith("— "));
  const unchecked = sigs.map((l) => l.slice(2).split(" ")[0] ?? "").filter((n) => n !== key.name && !cosignatures.includes(n));
  save({ ...saved, size: head.size.toString(), root: b64(head.root), note, checkedAt: new Date().toISOString() });
  return { head, checkpoint, verifierKey: saved.verifierKey, pinned: saved.pinned, consistentWith, cosignatures, policy, unchecked };
}

/** The outcome of checking one entry. */
export type EntryCheck =
  | { state: "ok"; contentChecked: boolean; proof: GetInclusionProofResponse; head: TreeHead }
  | { state: "pending"; reason: string }
  | { state: "failed"; reason: string; code: string; proof?: GetInclusionProofResponse };

/** Checks each entry's commitment at once (no network). */
export function checkCommitment(e: Entry): EntryCheck | undefined {
  try {
    verifyEntry(e);
    return undefined;
  } catch (err) {
    return failure(err);
  }
}

function failure(err: unknown, proof?: GetInclusionProofResponse): EntryCheck {
  if (err instanceof VerificationError) return { state: "failed", reason: err.message, code: err.code, proof };
  return { state: "failed", reason: String(err), code: "error", proof };
}

const BATCH = 1000;

/**
 * Checks entries against the trusted checkpoint: commitment, then inclusion
 * proofs fetched a thousand at a time. Calls report(index, check) for each,
 * and yields to the page between batches.
 */
export async function checkEntries(entries: readonly Entry[], trust: LogTrust, report: (index: bigint, c: EntryCheck) => void, signal?: AbortSignal): Promise<void> {
  const size = trust.head.size;
  const toProve: Entry[] = [];
  for (const e of entries) {
    const index = e.stamp?.logIndex ?? 0n;
    const bad = checkCommitment(e);
    if (bad) report(index, bad);
    else if (index >= size) report(index, { state: "pending", reason: `logged after the latest checkpoint (${size} events): a later visit proves it` });
    else toProve.push(e);
  }
  for (let i = 0; i < toProve.length; i += BATCH) {
    if (signal?.aborted) return;
    const batch = toProve.slice(i, i + BATCH);
    const resp = await log.getInclusionProofs({ logIndexes: batch.map((e) => e.stamp!.logIndex), treeSize: size }, { signal });
    batch.forEach((e, j) => {
      const index = e.stamp!.logIndex;
      const p = resp.proofs[j] ?? create(GetInclusionProofResponseSchema);
      try {
        if (p.logIndex !== index) throw new Error(`the server sent the proof of event ${p.logIndex} for event ${index}`);
        // The entry's own leaf hash (checked against its header above),
        // never the one the proof states.
        verifyInclusion(index, size, e.commitment!.leafHash, p.hashes, trust.head.root);
        report(index, { state: "ok", contentChecked: e.view?.content === ContentState.PRESENT, proof: p, head: trust.head });
      } catch (err) {
        report(index, failure(err, p));
      }
    });
    await new Promise((r) => setTimeout(r, 0));
  }
}
