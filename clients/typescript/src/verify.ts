// Checks what an agenttrail server hands to a reader, with nothing but the
// bytes it was given and the log's verifier key.
//
// Each event is committed as one RFC 6962 leaf (see message Commitment in
// proto/agenttrail/v1/entry.proto):
//
//   leaf_data      = uint32_be(len(header)) || header || content_digest
//   leaf_hash      = SHA-256(0x00 || leaf_data)
//   content_digest = SHA-256(salt || content)
//
// where header is the encoded agenttrail.v1.EventHeader, content is the
// encoded Event holding only its non-METADATA fields, and salt is 32 random
// bytes. The leaves form an RFC 6962 / RFC 9162 Merkle tree whose size and
// root hash the log publishes in C2SP tlog-checkpoint notes signed with
// Ed25519.
//
// To check an entry end to end: verifyCheckpoint opens a signed checkpoint
// with the log's verifier key; verifyEntry checks the entry against its
// commitment; verifyInclusion checks that its leaf is at its log index in the
// checkpoint's tree; verifyConsistency checks that a newer checkpoint's tree
// extends one trusted before. An entry the reader may not see comes as a
// withheld leaf (log index and leaf hash only): verifyWithheld checks its
// form, and its inclusion is proven the same way.
//
// Every failure throws a subclass of VerificationError. The same checks, in
// the same order and with the same error classes, are in the Go package
// clients/go/verify (which uses golang.org/x/mod/sumdb/tlog and note) and the
// Python module agenttrail.verify; clients/testdata/vectors holds the test
// vectors all three must pass.
import { clone, create, equals, fromBinary, getOption } from "@bufbuild/protobuf";
import type { DescField } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import type { ReflectMessage } from "@bufbuild/protobuf/reflect";
import { ContentState, EventHeaderSchema } from "./gen/agenttrail/v1/entry_pb.js";
import type { Entry, EventHeader, Stamp } from "./gen/agenttrail/v1/entry_pb.js";
import { EventSchema, file_agenttrail_v1_event } from "./gen/agenttrail/v1/event_pb.js";
import type { Event } from "./gen/agenttrail/v1/event_pb.js";
import { FieldClass, field_class } from "./gen/agenttrail/v1/field_class_pb.js";
import type { WithheldEntry } from "./gen/agenttrail/v1/query_service_pb.js";
import { ed25519Verify, sha256 } from "./crypto.js";

/** Size in bytes of every hash, digest and salt of the log. */
export const HASH_SIZE = 32;

const MAX_TREE_SIZE = (1n << 63n) - 1n;
const MAX_UINT64 = (1n << 64n) - 1n;
const MAX_SIGNATURES = 100;
const ALG_ED25519 = 0x01;
const EMPTY_ROOT = sha256();
const SIG_PREFIX = new TextEncoder().encode("— ");
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The error classes, named as the shared test vectors name them. The Go
 * verifier's sentinel errors are ErrMalformed, ErrBadSignature and so on.
 */
export type VerificationErrorCode =
  | "malformed"
  | "bad_signature"
  | "no_signature"
  | "origin_mismatch"
  | "bad_proof"
  | "leaf_mismatch"
  | "digest_mismatch"
  | "event_mismatch"
  | "no_quorum"
  | "unproven_erasure"
  | "missing";

/** Base class of every error this module throws. */
export class VerificationError extends Error {
  /** The error class, as the shared test vectors name it. */
  readonly code: VerificationErrorCode;

  constructor(code: VerificationErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * An input is not in its documented format: a note that breaks the
 * signed-note rules, a checkpoint body that is not origin, decimal size and
 * base64 root, a verifier key that does not parse, a hash or salt of the
 * wrong length, or header or content bytes that do not decode.
 */
export class MalformedError extends VerificationError {
  constructor(message: string) {
    super("malformed", message);
  }
}

/**
 * A note carries a signature line with the verifier key's name and key hash
 * whose Ed25519 signature does not verify over the note text.
 */
export class BadSignatureError extends VerificationError {
  constructor(message: string) {
    super("bad_signature", message);
  }
}

/**
 * A well-formed note carries no signature line with the verifier key's name
 * and key hash. Signatures by other keys are ignored.
 */
export class NoSignatureError extends VerificationError {
  constructor(message: string) {
    super("no_signature", message);
  }
}

/** A correctly signed checkpoint names a log other than the expected origin. */
export class OriginMismatchError extends VerificationError {
  constructor(message: string) {
    super("origin_mismatch", message);
  }
}

/**
 * An inclusion or consistency proof does not prove what it is claimed to
 * prove: it does not lead to the given root hashes, has too few or too many
 * hashes, or is for sizes and indexes that cannot be.
 */
export class BadProofError extends VerificationError {
  constructor(message: string) {
    super("bad_proof", message);
  }
}

/** An entry's leaf hash is not the leaf hash of its header and content digest. */
export class LeafMismatchError extends VerificationError {
  constructor(message: string) {
    super("leaf_mismatch", message);
  }
}

/** An entry's content and salt do not hash to its content digest. */
export class DigestMismatchError extends VerificationError {
  constructor(message: string) {
    super("digest_mismatch", message);
  }
}

/**
 * The event or stamp an entry shows disagrees with the header and content
 * bytes it commits to.
 */
export class EventMismatchError extends VerificationError {
  constructor(message: string) {
    super("event_mismatch", message);
  }
}

/**
 * A checkpoint the log signed is not cosigned by as many of the trusted
 * witnesses as the reader's witness policy demands.
 */
export class NoQuorumError extends VerificationError {
  constructor(message: string) {
    super("no_quorum", message);
  }
}

/**
 * An entry's content is said to be erased, but no erasure or retention event
 * of the log at a later index, which verified, names its index.
 */
export class UnprovenErasureError extends VerificationError {
  constructor(message: string) {
    super("unproven_erasure", message);
  }
}

/**
 * The server sent neither an entry nor a withheld leaf for a log index that
 * a verified checkpoint covers: an entry was left out without saying so.
 * (Thrown by AgentTrailClient.verifyLog; not part of the shared vectors.)
 */
export class MissingEntryError extends VerificationError {
  constructor(message: string) {
    super("missing", message);
  }
}

/** A parsed note verifier key for an Ed25519 signing key. */
export interface VerifierKey {
  /** The key name that signature lines by this key carry; for an agenttrail log, conventionally its origin. */
  readonly name: string;
  /** The first 4 bytes, big-endian, of SHA-256(name || "\n" || 0x01 || public key). */
  readonly keyHash: number;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

/** What a verified checkpoint states about the log. */
export interface TreeHead {
  /** The log's name, the checkpoint's first line. */
  readonly origin: string;
  /** The number of leaves in the tree. */
  readonly size: bigint;
  /** The 32-byte RFC 6962 root hash of the tree of that size. */
  readonly root: Uint8Array;
}

// --- Leaves ------------------------------------------------------------------

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function hex(b: Uint8Array): string {
  let out = "";
  for (const x of b) out += x.toString(16).padStart(2, "0");
  return out;
}

/**
 * Returns the RFC 6962 leaf hash the log commits to for one event:
 * SHA-256(0x00 || uint32_be(len(header)) || header || digest), where header
 * is the encoded EventHeader exactly as committed and digest is the content
 * digest (see contentDigest).
 *
 * Throws RangeError if header is 4 GiB or longer, since its length does not
 * fit the 32-bit prefix; verifyEntry reports such a header as MalformedError.
 */
export function leafHash(header: Uint8Array, digest: Uint8Array): Uint8Array {
  if (header.length > 0xffffffff) {
    throw new RangeError(`header of ${header.length} bytes is too long for a leaf`);
  }
  const prefix = new Uint8Array(5);
  new DataView(prefix.buffer).setUint32(1, header.length);
  return sha256(prefix, header, digest);
}

/**
 * Returns SHA-256(salt || content), the digest through which the log commits
 * to an event's content. The salt is 32 bytes chosen by the server; content
 * is the encoded Event holding only its non-METADATA fields, exactly as
 * committed.
 */
export function contentDigest(salt: Uint8Array, content: Uint8Array): Uint8Array {
  return sha256(salt, content);
}

// --- Entries -----------------------------------------------------------------

/**
 * Checks that a log entry is what its commitment says, in this order:
 *
 * 1. The commitment is there; its content digest and leaf hash are 32 bytes;
 *    its salt is empty or 32 bytes; content is never shown without its salt;
 *    and a view whose content state is PRESENT carries the salt
 *    (MalformedError).
 * 2. The leaf hash is leafHash of the header bytes and the content digest
 *    (LeafMismatchError).
 * 3. When the salt is present, the digest is contentDigest of the salt and
 *    the content bytes (DigestMismatchError). Redacted and erased views carry
 *    no salt: their content cannot be checked, but their header can.
 * 4. The header bytes decode as an EventHeader (MalformedError), whose
 *    receivedAt and principal equal the entry's stamp, and whose event equals
 *    the METADATA half of the entry's event (EventMismatchError). The half is
 *    taken as the server splits events (store/event.Split in Go): every field
 *    whose (agenttrail.v1.field_class) is METADATA, going into METADATA fields
 *    of agenttrail message types field by field; the payload container is
 *    always kept, so the kind of the event is checked too.
 * 5. When the salt is present, the content bytes decode as an Event
 *    (MalformedError) equal to the other half of the entry's event
 *    (EventMismatchError).
 *
 * Unknown fields are ignored in the comparisons of steps 4 and 5; the bytes
 * that hold them are still covered by steps 2 and 3. The entry is not
 * modified. It does not check that the leaf is in the log: pass the leaf hash
 * and stamp.logIndex to verifyInclusion for that.
 */
export function verifyEntry(entry: Entry): void {
  const c = entry.commitment;
  if (c === undefined) {
    throw new MalformedError("entry has no commitment");
  }
  checkLength("content digest", c.contentDigest);
  checkLength("leaf hash", c.leafHash);
  if (c.header.length > 0xffffffff) {
    throw new MalformedError(`header is ${c.header.length} bytes, more than a leaf's 32-bit length prefix allows`);
  }
  const { salt, content } = c;
  if (salt.length !== 0 && salt.length !== HASH_SIZE) {
    throw new MalformedError(`salt is ${salt.length} bytes, want ${HASH_SIZE}`);
  }
  if (salt.length === 0 && content.length !== 0) {
    throw new MalformedError("content is shown without its salt, so it cannot be checked");
  }
  if (salt.length === 0 && entry.view?.content === ContentState.PRESENT) {
    throw new MalformedError("view says the content is present, but the salt is missing");
  }

  const leaf = leafHash(c.header, c.contentDigest);
  if (!bytesEqual(leaf, c.leafHash)) {
    throw new LeafMismatchError(
      `leaf hash is ${hex(c.leafHash)}, but header and content digest hash to ${hex(leaf)}`,
    );
  }
  if (salt.length !== 0) {
    const digest = contentDigest(salt, content);
    if (!bytesEqual(digest, c.contentDigest)) {
      throw new DigestMismatchError(
        `content digest is ${hex(c.contentDigest)}, but salt and content hash to ${hex(digest)}`,
      );
    }
  }

  let header: EventHeader;
  try {
    header = fromBinary(EventHeaderSchema, c.header, { readUnknownFields: false });
  } catch (e) {
    throw new MalformedError(`header bytes do not decode as agenttrail.v1.EventHeader: ${String(e)}`);
  }
  const stamp = stampOf(entry.stamp);
  const committedStamp = stampOf(header);
  if (!equals(EventHeaderSchema, stamp, committedStamp)) {
    throw new EventMismatchError(
      `stamp field ${firstDiff(reflect(EventHeaderSchema, stamp), reflect(EventHeaderSchema, committedStamp))} differs from the committed header`,
    );
  }

  const [metadata, rest] = split(entry.event ?? create(EventSchema));
  const want = header.event ?? create(EventSchema);
  if (!equals(EventSchema, metadata, want)) {
    throw new EventMismatchError(
      `event field ${firstDiff(reflect(EventSchema, metadata), reflect(EventSchema, want))} differs from the committed header`,
    );
  }

  if (salt.length !== 0) {
    let committed: Event;
    try {
      committed = fromBinary(EventSchema, content, { readUnknownFields: false });
    } catch (e) {
      throw new MalformedError(`content bytes do not decode as agenttrail.v1.Event: ${String(e)}`);
    }
    if (!equals(EventSchema, rest, committed)) {
      throw new EventMismatchError(
        `event field ${firstDiff(reflect(EventSchema, rest), reflect(EventSchema, committed))} differs from the committed content`,
      );
    }
  }
}

/**
 * Checks a withheld entry, the stand-in a server sends for an entry the
 * reader's view may not show: its leaf hash must be 32 bytes
 * (MalformedError). It carries nothing else to check; pass its leaf hash and
 * log index to verifyInclusion to prove that the log holds that leaf at that
 * index. Report such an entry as withheld, not as missing: the log proves it
 * is there, and the server says the reader may not see it.
 */
export function verifyWithheld(withheld: WithheldEntry): void {
  checkLength("leaf hash", withheld.leafHash);
}

/**
 * For an entry whose content was erased (its view says CONTENT_STATE_ERASED),
 * the log index of the Erasure or Retention event that erased it, or -1n when
 * the view names none; undefined when the content was not erased. An erased
 * entry keeps its header and digest and passes verifyEntry; verifyErasure
 * checks its erasure.
 */
export function erasureOf(entry: Entry): bigint | undefined {
  if (entry.view?.content !== ContentState.ERASED) return undefined;
  return entry.view.erasedBy ?? -1n;
}

/**
 * Whether an Erasure or Retention event names a log index in its logIndexes
 * or ranges; undefined when the event is neither.
 */
export function erasureNames(event: Event | undefined, index: bigint): boolean | undefined {
  const p = event?.payload;
  let ranges;
  if (p?.case === "erasure") {
    if (p.value.logIndexes.includes(index)) return true;
    ranges = p.value.ranges;
  } else if (p?.case === "retention") {
    ranges = p.value.ranges;
  } else {
    return undefined;
  }
  return ranges.some((r) => r.first <= index && index <= r.last);
}

/**
 * Checks that erasure is the logged event that accounts for the missing
 * content of erased, as the Go verifier's CheckErasure does: erased's view
 * says its content was erased (and, when it names the erasure, names this
 * one); erasure passes verifyEntry; it is an Erasure or Retention event at a
 * later index whose committed header names erased's index. Throws
 * MalformedError or EventMismatchError. Check the erasure's inclusion in the
 * log as for any entry.
 */
export function verifyErasure(erased: Entry, erasure: Entry): void {
  const index = erased.stamp?.logIndex ?? 0n;
  const at = erasure.stamp?.logIndex ?? 0n;
  const by = erasureOf(erased);
  if (by === undefined) throw new MalformedError(`entry ${index} is not erased in its view`);
  if (by >= 0n && by !== at) throw new EventMismatchError(`entry ${index} names erasure ${by}, not ${at}`);
  if (at <= index) throw new EventMismatchError(`erasure ${at} is not later than the entry ${index} it would erase`);
  verifyEntry(erasure);
  // verifyEntry proved the event shown carries the committed header's
  // METADATA fields, which hold every index the erasure names.
  const named = erasureNames(erasure.event, index);
  if (named === undefined) throw new EventMismatchError(`entry ${at} is neither an Erasure nor a Retention event`);
  if (!named) throw new EventMismatchError(`erasure ${at} does not name entry ${index}`);
}

function checkLength(what: string, value: Uint8Array): void {
  if (value.length !== HASH_SIZE) {
    throw new MalformedError(`${what} is ${value.length} bytes, want ${HASH_SIZE}`);
  }
}

/** An EventHeader holding only the receivedAt and principal of a stamp or header, for comparison. */
function stampOf(source: Stamp | EventHeader | undefined): EventHeader {
  const out = create(EventHeaderSchema, { principal: source?.principal ?? "" });
  if (source?.receivedAt !== undefined) {
    out.receivedAt = source.receivedAt;
  }
  return out;
}

const modelPackage = file_agenttrail_v1_event.proto.package;

/** The (agenttrail.v1.field_class) of a field, UNSPECIFIED when it declares none. */
function classOf(field: DescField): FieldClass {
  return getOption(field, field_class);
}

/**
 * A singular METADATA field of an agenttrail message type, whose own fields
 * are split one by one (store/event.IsContainer in Go).
 */
function isContainer(field: DescField): boolean {
  return (
    field.fieldKind === "message" &&
    field.message.file.proto.package === modelPackage &&
    classOf(field) === FieldClass.METADATA
  );
}

/**
 * Splits an event into its METADATA half and the rest, as the server does
 * (store/event.Split in Go). The event is not modified.
 */
function split(event: Event): [Event, Event] {
  const header = clone(EventSchema, event);
  const content = clone(EventSchema, event);
  keep(reflect(EventSchema, header), true);
  keep(reflect(EventSchema, content), false);
  return [header, content];
}

/**
 * Clears every field of the other half. Containers stay in the METADATA half
 * even when empty, and leave the other half when empty.
 */
function keep(message: ReflectMessage, metadata: boolean): void {
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    if (field.fieldKind === "message" && isContainer(field)) {
      const sub = message.get(field);
      keep(sub, metadata);
      if (!metadata && !sub.fields.some((f) => sub.isSet(f))) {
        message.clear(field);
      }
    } else if ((classOf(field) === FieldClass.METADATA) !== metadata) {
      message.clear(field);
    }
  }
}

/**
 * Names the first field, in declaration order and as a dotted path, whose
 * presence or value differs between two messages of one type.
 */
function firstDiff(a: ReflectMessage, b: ReflectMessage): string {
  return diffPath(a, b) || "(none found)";
}

function diffPath(a: ReflectMessage, b: ReflectMessage): string {
  for (const field of a.fields) {
    const inA = a.isSet(field);
    if (inA !== b.isSet(field)) return field.name;
    if (!inA) continue;
    if (field.fieldKind === "message") {
      const sub = diffPath(a.get(field), b.get(field));
      if (sub) return `${field.name}.${sub}`;
    } else if (!sameValue(field, valueOf(a, field), valueOf(b, field))) {
      return field.name;
    }
  }
  return "";
}

/** The plain value of a field that is not a singular message. */
function valueOf(m: ReflectMessage, field: DescField): unknown {
  const obj = m.message as unknown as Record<string, unknown>;
  if (field.oneof !== undefined) {
    const o = obj[field.oneof.localName] as { case?: string; value?: unknown };
    return o.case === field.localName ? o.value : undefined;
  }
  return obj[field.localName];
}

function sameValue(field: DescField, x: unknown, y: unknown): boolean {
  if (field.fieldKind === "list" && field.listKind === "message") {
    const xs = x as Parameters<typeof equals>[1][];
    const ys = y as Parameters<typeof equals>[1][];
    return xs.length === ys.length && xs.every((v, i) => equals(field.message, v, ys[i]!));
  }
  if (field.fieldKind === "map" && field.mapKind === "message") {
    const xs = x as Record<string, Parameters<typeof equals>[1]>;
    const ys = y as Record<string, Parameters<typeof equals>[1]>;
    const keys = Object.keys(xs);
    return (
      keys.length === Object.keys(ys).length &&
      keys.every((k) => ys[k] !== undefined && equals(field.message, xs[k]!, ys[k]!))
    );
  }
  return sameScalars(x, y);
}

/**
 * Strict equality of field values that are not messages: scalars (as
 * Object.is sees them), bytes, and lists and maps of them.
 */
function sameScalars(x: unknown, y: unknown): boolean {
  if (Object.is(x, y)) return true;
  if (x instanceof Uint8Array && y instanceof Uint8Array) return bytesEqual(x, y);
  if (Array.isArray(x) && Array.isArray(y)) {
    return x.length === y.length && x.every((v, i) => sameScalars(v, y[i]));
  }
  if (typeof x === "object" && typeof y === "object" && x !== null && y !== null && !Array.isArray(x) && !Array.isArray(y)) {
    const xs = x as Record<string, unknown>;
    const ys = y as Record<string, unknown>;
    const keys = Object.keys(xs);
    return keys.length === Object.keys(ys).length && keys.every((k) => Object.hasOwn(ys, k) && sameScalars(xs[k], ys[k]));
  }
  return false;
}

// --- Proofs ------------------------------------------------------------------

function node(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0x01), left, right);
}

function toUint(what: string, value: bigint | number): bigint {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new MalformedError(`${what} ${value} is not an integer that a number holds exactly; pass a bigint`);
  }
  const v = BigInt(value);
  if (v < 0n) {
    throw new MalformedError(`${what} ${v} is negative`);
  }
  return v;
}

function checkProof(proof: readonly Uint8Array[]): void {
  proof.forEach((h, i) => {
    if (h.length !== HASH_SIZE) {
      throw new MalformedError(`proof hash ${i} is ${h.length} bytes, want ${HASH_SIZE}`);
    }
  });
}

/**
 * Checks an RFC 6962 inclusion proof with the algorithm of RFC 9162, section
 * 2.1.3.2: that leaf is the leaf hash at index in the tree of the given size
 * and root hash. The proof is the audit path from the leaf's sibling up, as
 * GetInclusionProofResponse.hashes carries it.
 *
 * Throws MalformedError when the leaf hash, root or a proof hash is not 32
 * bytes or index or size is negative (or a number that is not a safe
 * integer), and BadProofError when the size exceeds 2^63-1, the index is not
 * below the size, or the proof does not lead from the leaf to the root with
 * exactly the hashes a proof for that index and size has.
 */
export function verifyInclusion(
  index: bigint | number,
  size: bigint | number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkLength("leaf hash", leaf);
  checkLength("root hash", root);
  const idx = toUint("index", index);
  const n = toUint("tree size", size);
  checkProof(proof);
  if (n > MAX_TREE_SIZE) {
    throw new BadProofError(`tree size ${n} is larger than 2^63-1`);
  }
  if (idx >= n) {
    throw new BadProofError(`index ${idx} is not in a tree of size ${n}`);
  }
  let fn = idx;
  let sn = n - 1n;
  let r = leaf;
  let ok = true;
  for (const p of proof) {
    if (sn === 0n) {
      ok = false;
      break;
    }
    if ((fn & 1n) === 1n || fn === sn) {
      r = node(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = node(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (!ok || sn !== 0n || !bytesEqual(r, root)) {
    throw new BadProofError(
      `inclusion proof of ${proof.length} hashes does not lead from leaf ${hex(leaf)} ` +
        `at index ${idx} to root ${hex(root)} of tree size ${n}`,
    );
  }
}

/**
 * Checks an RFC 6962 consistency proof with the algorithm of RFC 9162,
 * section 2.1.4.2: that the tree of oldSize leaves with root oldRoot is a
 * prefix of the tree of newSize leaves with root newRoot. The proof is as
 * GetConsistencyProofResponse.hashes carries it.
 *
 * Equal sizes need an empty proof and equal roots. Every tree extends the
 * empty tree, so oldSize 0 needs an empty proof and oldRoot equal to the
 * empty tree's root, SHA-256 of nothing (and so does newRoot when newSize is
 * 0 too).
 *
 * Throws MalformedError when a root or proof hash is not 32 bytes or a size is
 * negative (or a number that is not a safe integer), and BadProofError when
 * newSize exceeds 2^63-1, oldSize exceeds newSize, or the proof does not lead
 * to both roots with exactly the hashes a proof for those sizes has.
 */
export function verifyConsistency(
  oldSize: bigint | number,
  newSize: bigint | number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  checkLength("old root hash", oldRoot);
  checkLength("new root hash", newRoot);
  const first = toUint("old tree size", oldSize);
  const second = toUint("new tree size", newSize);
  checkProof(proof);
  if (second > MAX_TREE_SIZE) {
    throw new BadProofError(`tree size ${second} is larger than 2^63-1`);
  }
  if (first > second) {
    throw new BadProofError(`old tree size ${first} is larger than new tree size ${second}`);
  }
  if (first === 0n) {
    if (proof.length !== 0) {
      throw new BadProofError(`a consistency proof from the empty tree has no hashes, got ${proof.length}`);
    }
    if (!bytesEqual(oldRoot, EMPTY_ROOT)) {
      throw new BadProofError(`old root ${hex(oldRoot)} is not the empty tree's root ${hex(EMPTY_ROOT)}`);
    }
    if (second === 0n && !bytesEqual(newRoot, EMPTY_ROOT)) {
      throw new BadProofError(`new root ${hex(newRoot)} is not the empty tree's root ${hex(EMPTY_ROOT)}`);
    }
    return;
  }
  if (!consistent(first, second, oldRoot, newRoot, proof)) {
    throw new BadProofError(
      `consistency proof of ${proof.length} hashes does not show tree size ${first} ` +
        `(root ${hex(oldRoot)}) to be a prefix of tree size ${second} (root ${hex(newRoot)})`,
    );
  }
}

/** RFC 9162, section 2.1.4.2, for 0 < first <= second. */
function consistent(
  first: bigint,
  second: bigint,
  firstHash: Uint8Array,
  secondHash: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (first === second) {
    return proof.length === 0 && bytesEqual(firstHash, secondHash);
  }
  if (proof.length === 0) {
    return false;
  }
  const path = (first & (first - 1n)) === 0n ? [firstHash, ...proof] : [...proof];
  let fn = first - 1n;
  let sn = second - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0n) {
      return false;
    }
    if ((fn & 1n) === 1n || fn === sn) {
      fr = node(c, fr);
      sr = node(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = node(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return bytesEqual(fr, firstHash) && bytesEqual(sr, secondHash) && sn === 0n;
}

// --- Verifier keys -------------------------------------------------------------

// Exactly the strings that standard, padded base64 (RFC 4648, section 4)
// decodes; the Go and Python verifiers use the same expression.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_HASH = /^[0-9a-fA-F]{8}$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
// Unicode white space as Go's unicode.IsSpace sees it (the White_Space
// property), which the signed-note rules forbid in key names.
const WHITE_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const CONTROL = /[\x00-\x1f]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Decodes standard padded base64, or returns undefined. */
function b64decode(s: string): Uint8Array | undefined {
  if (!BASE64.test(s)) return undefined;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Says which signed-note rule for key names a name breaks, if any. ASCII
 * control characters, which no signed note may hold, are refused too, so that
 * a key that could never match a signature line is rejected at once.
 */
function keyNameError(name: string): string | undefined {
  if (name === "") return "empty";
  if (LONE_SURROGATE.test(name)) return `${JSON.stringify(name)} is not valid UTF-8`;
  if (WHITE_SPACE.test(name)) return `${JSON.stringify(name)} contains white space`;
  if (CONTROL.test(name)) return `${JSON.stringify(name)} contains a control character`;
  if (name.includes("+")) return `${JSON.stringify(name)} contains "+"`;
  return undefined;
}

function keyHashOf(name: string, key: Uint8Array): number {
  const digest = sha256(new TextEncoder().encode(name + "\n"), key);
  return new DataView(digest.buffer, digest.byteOffset).getUint32(0);
}

function hash8(h: number): string {
  return h.toString(16).padStart(8, "0");
}

/**
 * Parses a note verifier key "<name>+<key hash>+<key>", as
 * GetVerifierKeyResponse.verifierKey and golang.org/x/mod/sumdb/note print it:
 * name is non-empty valid UTF-8 with neither Unicode white space, nor ASCII
 * control characters, nor "+"; key hash is 8 hexadecimal digits; key is the
 * standard, padded base64 of the byte 0x01 (Ed25519) followed by the 32-byte
 * public key; and the key hash is that of the name and key. Throws
 * MalformedError saying which rule any other input breaks.
 */
export function parseVerifierKey(key: string): VerifierKey {
  const plus1 = key.indexOf("+");
  const plus2 = plus1 < 0 ? -1 : key.indexOf("+", plus1 + 1);
  if (plus2 < 0) {
    throw new MalformedError(`verifier key ${JSON.stringify(key)} is not <name>+<key hash>+<base64 key>`);
  }
  const name = key.slice(0, plus1);
  const hash16 = key.slice(plus1 + 1, plus2);
  const key64 = key.slice(plus2 + 1);
  const problem = keyNameError(name);
  if (problem !== undefined) {
    throw new MalformedError(`verifier key name: ${problem}`);
  }
  if (!KEY_HASH.test(hash16)) {
    throw new MalformedError(`verifier key hash ${JSON.stringify(hash16)} is not 8 hexadecimal digits`);
  }
  const raw = b64decode(key64);
  if (raw === undefined) {
    throw new MalformedError(`verifier key ${JSON.stringify(key64)} is not standard padded base64`);
  }
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) {
    throw new MalformedError(
      "verifier key must be the byte 0x01 (Ed25519) and a 32-byte public key, " +
        `got ${raw.length} bytes starting 0x${(raw[0] ?? 0).toString(16).padStart(2, "0")}`,
    );
  }
  const keyHash = parseInt(hash16, 16);
  const want = keyHashOf(name, raw);
  if (keyHash !== want) {
    throw new MalformedError(`verifier key hash is ${hash8(keyHash)}, but name and key hash to ${hash8(want)}`);
  }
  return { name, keyHash, publicKey: raw.slice(1) };
}

// --- Checkpoints -----------------------------------------------------------------

/**
 * Opens a C2SP tlog-checkpoint signed note (the bytes of
 * Checkpoint.signedNote) with a verifier key in the form parseVerifierKey
 * accepts, checks that it is the checkpoint of the log named origin, and
 * returns the tree head it states. The checks, in order, which are those of
 * golang.org/x/mod/sumdb/note's Open:
 *
 * 1. The verifier key parses (MalformedError).
 * 2. The note follows the signed-note format (MalformedError): valid UTF-8
 *    without control characters other than newline; a text ending in a
 *    newline; a blank line; then one to 100 signature lines
 *    "— <key name> <base64 of key hash and signature>", each ending in a
 *    newline. The text ends at the last blank line.
 * 3. Signature lines are taken in order. A line whose key name and key hash
 *    are not the verifier key's is ignored; the first line that matches must
 *    verify over the note text, its final newline included
 *    (BadSignatureError), and later repeats of it are ignored. A note with no
 *    matching line is rejected (NoSignatureError).
 * 4. The text is a checkpoint body (MalformedError): at least three lines,
 *    none empty: the origin, the tree size in decimal without leading zeros
 *    (at most 2^64-1), and the standard base64 of a 32-byte root hash.
 *    Extension lines may follow; they are signed, and otherwise ignored.
 * 5. The origin line equals origin (OriginMismatchError).
 */
export function verifyCheckpoint(note: Uint8Array, verifierKey: string, origin: string): TreeHead {
  const key = parseVerifierKey(verifierKey);
  const text = openNote(note, key);
  const head = parseCheckpoint(utf8.decode(text));
  if (head.origin !== origin) {
    throw new OriginMismatchError(
      `checkpoint is for origin ${JSON.stringify(head.origin)}, want ${JSON.stringify(origin)}`,
    );
  }
  return head;
}

/**
 * The offset of the first byte that does not start a valid UTF-8 sequence (as
 * Go's utf8.DecodeRune decides: no overlong forms, surrogates or code points
 * above U+10FFFF), or of the first ASCII control character other than
 * newline, with what is wrong there; undefined when there is none.
 */
function firstBadByte(b: Uint8Array): { at: number; control: boolean } | undefined {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      if (c < 0x20 && c !== 0x0a) return { at: i, control: true };
      i++;
      continue;
    }
    let n: number;
    let cp: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [n, cp, min] = [1, c & 0x1f, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, cp, min] = [2, c & 0x0f, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, cp, min] = [3, c & 0x07, 0x10000];
    else return { at: i, control: false };
    if (i + n >= b.length) return { at: i, control: false };
    for (let k = 1; k <= n; k++) {
      const d = b[i + k]!;
      if ((d & 0xc0) !== 0x80) return { at: i, control: false };
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return { at: i, control: false };
    i += n + 1;
  }
  return undefined;
}

function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  return b.length >= prefix.length && prefix.every((x, i) => x === b[i]);
}

/**
 * Checks a signed note's format and its signature by key, as
 * golang.org/x/mod/sumdb/note's Open does, and returns its text.
 */
function openNote(note: Uint8Array, key: VerifierKey): Uint8Array {
  const bad = firstBadByte(note);
  if (bad !== undefined) {
    throw new MalformedError(
      bad.control
        ? `note has control character 0x${note[bad.at]!.toString(16).padStart(2, "0")} at byte ${bad.at}; only newline is allowed`
        : `note is not valid UTF-8 at byte ${bad.at}`,
    );
  }
  let split = -1;
  for (let i = note.length - 2; i >= 0; i--) {
    if (note[i] === 0x0a && note[i + 1] === 0x0a) {
      split = i;
      break;
    }
  }
  if (split < 0) {
    throw new MalformedError("note has no blank line between its text and its signatures");
  }
  const text = note.subarray(0, split + 1);
  const sigs = note.subarray(split + 2);
  if (sigs.length === 0) {
    throw new MalformedError("note has no signature lines after its last blank line");
  }
  if (sigs[sigs.length - 1] !== 0x0a) {
    throw new MalformedError("note does not end with a newline");
  }

  let verified = false;
  let seen = false;
  const others: string[] = [];
  let n = 0;
  for (let start = 0; start < sigs.length; ) {
    const end = sigs.indexOf(0x0a, start);
    const line = sigs.subarray(start, end);
    start = end + 1;
    n++;
    if (!startsWith(line, SIG_PREFIX)) {
      throw new MalformedError(`signature line ${n} does not start with an em dash (U+2014) and a space`);
    }
    const rest = utf8.decode(line.subarray(SIG_PREFIX.length));
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest : rest.slice(0, space);
    const b64 = space < 0 ? "" : rest.slice(space + 1);
    const problem = keyNameError(name);
    if (problem !== undefined) {
      throw new MalformedError(`signature line ${n}: key name: ${problem}`);
    }
    const sig = b64decode(b64);
    if (sig === undefined || b64 === "") {
      throw new MalformedError(`signature line ${n}: signature ${JSON.stringify(b64)} is not standard padded base64`);
    }
    if (sig.length < 5) {
      throw new MalformedError(
        `signature line ${n}: signature is ${sig.length} bytes, want a 4-byte key hash and a signature`,
      );
    }
    if (n > MAX_SIGNATURES) {
      throw new MalformedError(`note has more than ${MAX_SIGNATURES} signature lines`);
    }
    const keyHash = new DataView(sig.buffer, sig.byteOffset).getUint32(0);
    if (name !== key.name || keyHash !== key.keyHash) {
      const who = `${name}+${hash8(keyHash)}`;
      if (!others.includes(who)) others.push(who);
      continue;
    }
    if (seen) continue;
    seen = true;
    if (!ed25519Verify(key.publicKey, text, sig.subarray(4))) {
      throw new BadSignatureError(
        `the signature by ${key.name}+${hash8(key.keyHash)} does not verify over the note text`,
      );
    }
    verified = true;
  }
  if (!verified) {
    const has = others.length > 0 ? `signatures by ${others.join(", ")}` : "no other signatures";
    throw new NoSignatureError(`note has no signature by ${key.name}+${hash8(key.keyHash)} (it has ${has})`);
  }
  return text;
}

/** Parses a checkpoint body: a note text, which ends in a newline. */
function parseCheckpoint(text: string): TreeHead {
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) {
    throw new MalformedError(`checkpoint has ${lines.length} lines, want at least 3: origin, tree size, root hash`);
  }
  lines.forEach((line, i) => {
    if (line === "") throw new MalformedError(`checkpoint line ${i + 1} is empty`);
  });
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  if (!DECIMAL.test(sizeLine)) {
    throw new MalformedError(
      `checkpoint tree size ${JSON.stringify(sizeLine)} is not a decimal number without leading zeros`,
    );
  }
  const size = BigInt(sizeLine);
  if (size > MAX_UINT64) {
    throw new MalformedError(`checkpoint tree size ${sizeLine} is larger than 2^64-1`);
  }
  const root = b64decode(rootLine);
  if (root === undefined) {
    throw new MalformedError(`checkpoint root hash ${JSON.stringify(rootLine)} is not standard padded base64`);
  }
  if (root.length !== HASH_SIZE) {
    throw new MalformedError(`checkpoint root hash is ${root.length} bytes, want ${HASH_SIZE}`);
  }
  return { origin, size, root };
}

// --- Witnesses -----------------------------------------------------------------

const ALG_COSIGNATURE_V1 = 0x04;

/**
 * A parsed witness (cosigner) key: C2SP tlog-cosignature, cosignature/v1 over
 * Ed25519, the signed-note key type 0x04.
 */
export interface WitnessKey {
  /** The witness's name, which its signature lines carry. */
  readonly name: string;
  /** The first 4 bytes, big-endian, of SHA-256(name || "\n" || 0x04 || public key). */
  readonly keyHash: number;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

/** A witness's cosignature that verified. */
export interface Cosignature {
  readonly witness: string;
  readonly keyHash: number;
  /** When the witness cosigned, in POSIX seconds, as it says. */
  readonly timestamp: bigint;
}

/**
 * Parses a witness's cosignature/v1 verifier key
 * "<name>+<key hash>+<base64 of 0x04 and the Ed25519 public key>" with the
 * rules of parseVerifierKey but the type byte 0x04. Throws MalformedError
 * saying which rule any other input breaks.
 */
export function parseWitnessKey(key: string): WitnessKey {
  const plus1 = key.indexOf("+");
  const plus2 = plus1 < 0 ? -1 : key.indexOf("+", plus1 + 1);
  if (plus2 < 0) {
    throw new MalformedError(`witness key ${JSON.stringify(key)} is not <name>+<key hash>+<base64 key>`);
  }
  const name = key.slice(0, plus1);
  const hash16 = key.slice(plus1 + 1, plus2);
  const key64 = key.slice(plus2 + 1);
  const problem = keyNameError(name);
  if (problem !== undefined) throw new MalformedError(`witness key name: ${problem}`);
  if (!KEY_HASH.test(hash16)) {
    throw new MalformedError(`witness key hash ${JSON.stringify(hash16)} is not 8 hexadecimal digits`);
  }
  const raw = b64decode(key64);
  if (raw === undefined) throw new MalformedError(`witness key ${JSON.stringify(key64)} is not standard padded base64`);
  if (raw.length !== 33 || raw[0] !== ALG_COSIGNATURE_V1) {
    throw new MalformedError(
      "witness key must be the byte 0x04 (cosignature/v1, Ed25519) and a 32-byte public key, " +
        `got ${raw.length} bytes starting 0x${(raw[0] ?? 0).toString(16).padStart(2, "0")}`,
    );
  }
  const keyHash = parseInt(hash16, 16);
  const want = keyHashOf(name, raw);
  if (keyHash !== want) {
    throw new MalformedError(`witness key hash is ${hash8(keyHash)}, but name and key hash to ${hash8(want)}`);
  }
  return { name, keyHash, publicKey: raw.slice(1) };
}

/**
 * Opens a checkpoint as verifyCheckpoint does, and demands that a quorum of
 * trusted witnesses cosigned it (C2SP tlog-cosignature, cosignature/v1). The
 * checks, in order, as in Go (store/commitment.OpenCosignedCheckpoint):
 *
 * 1. The policy: each witness key parses (parseWitnessKey), no key is given
 *    twice, and 1 <= quorum <= witnessKeys.length (MalformedError).
 * 2. The checkpoint verifies with the log's key (verifyCheckpoint).
 * 3. Signature lines are taken in order; a line whose name and key hash are a
 *    trusted witness's must verify as a cosignature/v1 over
 *    "cosignature/v1\ntime <timestamp>\n" and the note text: 8 bytes of
 *    big-endian timestamp then a 64-byte Ed25519 signature
 *    (BadSignatureError). Repeats of a witness after its first line, and
 *    lines of other keys, are ignored.
 * 4. At least quorum distinct trusted witnesses cosigned (NoQuorumError).
 *
 * Returns the tree head and the cosignatures that verified, in line order.
 */
export function verifyCosignedCheckpoint(
  note: Uint8Array,
  verifierKey: string,
  origin: string,
  witnessKeys: readonly string[],
  quorum: number,
): { head: TreeHead; cosignatures: Cosignature[] } {
  const witnesses: WitnessKey[] = [];
  for (const k of witnessKeys) {
    const w = parseWitnessKey(k);
    if (witnesses.some((o) => o.name === w.name && o.keyHash === w.keyHash)) {
      throw new MalformedError(`witness key ${w.name}+${hash8(w.keyHash)} is given twice`);
    }
    witnesses.push(w);
  }
  if (witnesses.length === 0) throw new MalformedError("a witness policy needs at least one witness key");
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > witnesses.length) {
    throw new MalformedError(`quorum ${quorum} of ${witnesses.length} witness keys`);
  }
  const head = verifyCheckpoint(note, verifierKey, origin);
  let split = -1;
  for (let i = note.length - 2; i >= 0; i--) {
    if (note[i] === 0x0a && note[i + 1] === 0x0a) {
      split = i;
      break;
    }
  }
  const text = note.subarray(0, split + 1);
  const sigs = note.subarray(split + 2);
  const seen = new Set<string>();
  const cosignatures: Cosignature[] = [];
  for (let start = 0; start < sigs.length; ) {
    const end = sigs.indexOf(0x0a, start);
    const rest = utf8.decode(sigs.subarray(start + SIG_PREFIX.length, end));
    start = end + 1;
    const space = rest.indexOf(" ");
    const name = rest.slice(0, space);
    const sig = b64decode(rest.slice(space + 1)) ?? new Uint8Array();
    const keyHash = new DataView(sig.buffer, sig.byteOffset).getUint32(0);
    const signer = witnesses.find((o) => o.name === name && o.keyHash === keyHash);
    const id = `${name}+${hash8(keyHash)}`;
    if (signer === undefined || seen.has(id)) continue;
    seen.add(id);
    const body = sig.subarray(4);
    const timestamp = body.length >= 8 ? new DataView(body.buffer, body.byteOffset).getBigUint64(0) : 0n;
    const prefix = new TextEncoder().encode(`cosignature/v1\ntime ${timestamp}\n`);
    const message = new Uint8Array(prefix.length + text.length);
    message.set(prefix);
    message.set(text, prefix.length);
    if (body.length !== 8 + 64 || !ed25519Verify(signer.publicKey, message, body.subarray(8))) {
      throw new BadSignatureError(`the cosignature by witness ${id} does not verify over the checkpoint`);
    }
    cosignatures.push({ witness: signer.name, keyHash, timestamp });
  }
  if (cosignatures.length < quorum) {
    const has = cosignatures.length > 0 ? "only " + cosignatures.map((c) => c.witness).join(", ") : "none of them";
    throw new NoQuorumError(
      `the checkpoint of size ${head.size} needs cosignatures by ${quorum} of ${witnesses.length} trusted witnesses, it has ${has}`,
    );
  }
  return { head, cosignatures };
}

// --- Erasures ----------------------------------------------------------------------

/**
 * Returns the index ranges [first, last] whose content an event says it
 * destroyed: each of Erasure.logIndexes, and Erasure.ranges; or
 * Retention.ranges (fromIndex and toIndex only bound them). A range whose last
 * index is below its first names nothing.
 */
export function erasedBy(event: Event): Array<[bigint, bigint]> {
  const out: Array<[bigint, bigint]> = [];
  const p = event.payload;
  let ranges: ReadonlyArray<{ first: bigint; last: bigint }> = [];
  if (p.case === "erasure") {
    for (const i of p.value.logIndexes) out.push([i, i]);
    ranges = p.value.ranges;
  } else if (p.case === "retention") {
    ranges = p.value.ranges;
  }
  for (const r of ranges) if (r.last >= r.first) out.push([r.first, r.last]);
  return out;
}

/**
 * Checks that erased content is accounted for: content may be missing only
 * where an erasure or retention event of the same log, at a later index,
 * names the index. Note every entry that verified, in any order, then call
 * check.
 */
export class ErasureLedger {
  private readonly erasedIndexes: bigint[] = [];
  private readonly named: Array<[bigint, bigint, bigint]> = [];

  /** Records an entry at index that verified: whether its content is erased, and what it names. */
  note(index: bigint, event: Event, erased: boolean): void {
    if (erased) this.erasedIndexes.push(index);
    for (const [first, last] of erasedBy(event)) this.named.push([first, last, index]);
  }

  /** How many erased entries were noted. */
  get erased(): number {
    return this.erasedIndexes.length;
  }

  /** The erased indexes, in order, that no later erasure or retention event noted names. */
  unproven(): bigint[] {
    return this.erasedIndexes
      .filter((i) => !this.named.some(([first, last, at]) => first <= i && i <= last && at > i))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Throws UnprovenErasureError naming the first erased index that no later erasure names. */
  check(): void {
    const u = this.unproven();
    if (u.length > 0) {
      throw new UnprovenErasureError(
        `the content of entry ${u[0]} is erased, but no later erasure or retention event of the log names index ${u[0]} (${u.length} such entries)`,
      );
    }
  }
}
