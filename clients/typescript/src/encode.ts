// Binary encoding of events for the delivery loop, byte for byte what
// @bufbuild/protobuf's toBinary writes (fields in number order, proto3
// presence, packed repeated scalars, map entries with key and value), at a
// fraction of its cost: toBinary builds each nested message in a chunk of
// its own and copies it into its parent, and encodes every string through
// TextEncoder, which made it about 60 µs of a 1.2 KB LLM-call event here,
// more than everything else the client does for an event. This encoder
// measures the message first (sizes of nested messages and strings kept in
// one array, in the order they are written), then writes it into one buffer.
//
// It covers the field types events use (strings, bytes, bool, 32- and
// 64-bit varints, enums, doubles, messages, lists, maps); for anything else
// (another scalar type, group encoding, wrapper types, unknown fields) or
// a value of the wrong type it falls back to toBinary, which encodes it or
// throws its own error. encode.test.ts checks it against toBinary.
import { ScalarType, toBinary } from "@bufbuild/protobuf";
import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";

const enum Kind {
  Str,
  Bytes,
  Bool,
  I32,
  U32,
  I64,
  U64,
  Dbl,
  Msg,
}

const enum Card {
  /** Singular, set unless the zero value. */
  Implicit,
  /** Singular, set unless undefined (proto3 optional, messages, oneof members). */
  Explicit,
  List,
  Map,
}

interface FieldPlan {
  readonly local: string;
  /** The oneof's local name, for a member of a oneof. */
  readonly oneof: string | undefined;
  readonly tag: number;
  readonly card: Card;
  readonly kind: Kind;
  readonly packed: boolean;
  /** The zero value of an enum with implicit presence. */
  readonly enumZero: number;
  readonly sub: Plan | undefined;
  /** Maps: the key's kind (the value's is kind, its message sub). */
  readonly keyKind: Kind;
}

interface Plan {
  fields: FieldPlan[];
  /** False when the message has a field this encoder does not write. */
  ok: boolean;
}

const plans = new WeakMap<DescMessage, Plan>();

/** Thrown (and caught in encodeMessage) when toBinary must do the job. */
class Unsupported extends Error {}

// The scalar types this encoder writes; the others make a plan not ok.
const KINDS = new Map<ScalarType, Kind>([
  [ScalarType.STRING, Kind.Str],
  [ScalarType.BYTES, Kind.Bytes],
  [ScalarType.BOOL, Kind.Bool],
  [ScalarType.INT32, Kind.I32],
  [ScalarType.UINT32, Kind.U32],
  [ScalarType.INT64, Kind.I64],
  [ScalarType.UINT64, Kind.U64],
  [ScalarType.DOUBLE, Kind.Dbl],
]);

function kindOf(t: ScalarType): Kind | undefined {
  return KINDS.get(t);
}

function wireType(k: Kind): number {
  return k === Kind.Str || k === Kind.Bytes || k === Kind.Msg ? 2 : k === Kind.Dbl ? 1 : 0;
}

function planOf(desc: DescMessage): Plan {
  let plan = plans.get(desc);
  if (plan !== undefined) return plan;
  plan = { fields: [], ok: true };
  plans.set(desc, plan); // before the fields: a message may contain itself
  const fields = [...desc.fields].sort((a, b) => a.number - b.number);
  for (const f of fields) {
    const p = fieldPlan(f);
    if (p === undefined) {
      plan.ok = false;
      plan.fields = [];
      break;
    }
    plan.fields.push(p);
  }
  return plan;
}

function fieldPlan(f: DescField): FieldPlan | undefined {
  let kind: Kind | undefined;
  let sub: Plan | undefined;
  let card: Card;
  let keyKind = Kind.Str;
  let packed = false;
  let enumZero = 0;
  const implicit = f.presence === 2; // FeatureSet.FieldPresence.IMPLICIT
  switch (f.fieldKind) {
    case "scalar":
      kind = kindOf(f.scalar);
      card = f.oneof === undefined && implicit ? Card.Implicit : Card.Explicit;
      break;
    case "enum":
      kind = Kind.I32;
      enumZero = f.enum.values[0]?.number ?? 0;
      card = f.oneof === undefined && implicit ? Card.Implicit : Card.Explicit;
      break;
    case "message":
      if (f.delimitedEncoding || f.message.typeName.startsWith("google.protobuf.") && f.message.typeName.endsWith("Value")) {
        return undefined; // groups; wrapper types, which the generated code unboxes
      }
      kind = Kind.Msg;
      sub = planOf(f.message);
      card = Card.Explicit;
      break;
    case "list":
      card = Card.List;
      if (f.listKind === "message") {
        if (f.delimitedEncoding) return undefined;
        kind = Kind.Msg;
        sub = planOf(f.message);
      } else {
        kind = f.listKind === "enum" ? Kind.I32 : kindOf(f.scalar);
        packed = f.packed && kind !== Kind.Str && kind !== Kind.Bytes;
      }
      break;
    case "map": {
      card = Card.Map;
      const k = kindOf(f.mapKey);
      if (k === undefined || k === Kind.Dbl || k === Kind.Bytes) return undefined;
      keyKind = k;
      if (f.mapKind === "message") {
        kind = Kind.Msg;
        sub = planOf(f.message);
      } else {
        kind = f.mapKind === "enum" ? Kind.I32 : kindOf(f.scalar);
      }
      break;
    }
  }
  if (kind === undefined) return undefined;
  return {
    local: f.localName,
    oneof: f.oneof?.localName,
    tag: (f.number << 3) | (packed ? 2 : card === Card.Map ? 2 : wireType(kind)),
    card,
    kind,
    packed,
    enumZero,
    sub,
    keyKind,
  };
}

// Sizes of nested messages and byte lengths of strings, in the order the
// writer meets them. Encoding is synchronous, so one array serves all.
let sizes: number[] = [];
let at = 0;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

/** A 64-bit value as its unsigned varint value: a number when it is a safe one, else a bigint. */
function u64(v: unknown, signed: boolean): number | bigint {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    v = BigInt(v); // throws for a fraction: the fallback reports it
  } else if (typeof v === "string") {
    v = BigInt(v);
  }
  if (typeof v !== "bigint") throw new Unsupported();
  if (v >= 0n && v <= MAX_SAFE) return Number(v);
  if (signed ? v < I64_MIN || v > I64_MAX : v < 0n || v > U64_MAX) throw new Unsupported();
  return BigInt.asUintN(64, v);
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function bigVarintSize(v: bigint): number {
  let n = 1;
  while (v >= 128n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function isZero(p: FieldPlan, v: unknown): boolean {
  switch (p.kind) {
    case Kind.Str:
      return v === "";
    case Kind.Bytes:
      return v instanceof Uint8Array && v.byteLength === 0;
    case Kind.Bool:
      return v === false;
    case Kind.Dbl:
      return Object.is(v, 0);
    case Kind.I32:
      return p.sub === undefined && p.enumZero !== 0 ? v === p.enumZero : v == 0;
    default:
      return v == 0; // 0, 0n and "0"
  }
}

/** The encoded size of a value of kind k (without its tag); records string and message sizes. */
function valueSize(k: Kind, sub: Plan | undefined, v: unknown): number {
  switch (k) {
    case Kind.Str: {
      if (typeof v !== "string") throw new Unsupported();
      const n = Buffer.byteLength(v, "utf8");
      sizes.push(n);
      return varintSize(n) + n;
    }
    case Kind.Bytes:
      if (!(v instanceof Uint8Array)) throw new Unsupported();
      return varintSize(v.byteLength) + v.byteLength;
    case Kind.Bool:
      if (typeof v !== "boolean") throw new Unsupported();
      return 1;
    case Kind.I32:
      if (typeof v !== "number" || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Unsupported();
      return v < 0 ? 10 : varintSize(v);
    case Kind.U32:
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Unsupported();
      return varintSize(v);
    case Kind.I64:
    case Kind.U64: {
      const u = u64(v, k === Kind.I64);
      return typeof u === "number" ? varintSize(u) : bigVarintSize(u);
    }
    case Kind.Dbl:
      if (typeof v !== "number") throw new Unsupported();
      return 8;
    case Kind.Msg: {
      const i = sizes.length;
      sizes.push(0);
      const n = messageSize(sub!, v);
      sizes[i] = n;
      return varintSize(n) + n;
    }
  }
}

function mapKey(k: Kind, key: string): unknown {
  switch (k) {
    case Kind.Str:
      return key;
    case Kind.Bool:
      return key === "true";
    case Kind.I64:
    case Kind.U64:
      return BigInt(key);
    default:
      return Number(key);
  }
}

/** Marks a field that is not written: unset, or a singular zero value. */
const ABSENT = Symbol("absent");

/** A field's value, or ABSENT when it is not written. */
function valueOf(p: FieldPlan, msg: Record<string, unknown>): unknown {
  let v: unknown;
  if (p.oneof !== undefined) {
    const o = msg[p.oneof] as { case: string | undefined; value?: unknown } | undefined;
    if (o === undefined || o.case !== p.local) return ABSENT;
    v = o.value;
  } else {
    v = msg[p.local];
  }
  if (p.card === Card.Implicit ? isZero(p, v) : p.card === Card.Explicit && v === undefined) return ABSENT;
  return v;
}

function messageSize(plan: Plan, m: unknown): number {
  if (!plan.ok || typeof m !== "object" || m === null) throw new Unsupported();
  const msg = m as Record<string, unknown>;
  const unknown = msg.$unknown as unknown[] | undefined;
  if (unknown !== undefined && unknown.length > 0) throw new Unsupported();
  let size = 0;
  for (const p of plan.fields) {
    const v = valueOf(p, msg);
    if (v === ABSENT) continue;
    switch (p.card) {
      case Card.Implicit:
      case Card.Explicit:
        size += varintSize(p.tag) + valueSize(p.kind, p.sub, v);
        break;
      case Card.List: {
        if (!Array.isArray(v)) throw new Unsupported();
        if (v.length === 0) continue;
        if (p.packed) {
          let n = 0;
          for (const x of v) n += valueSize(p.kind, undefined, x);
          sizes.push(n);
          size += varintSize(p.tag) + varintSize(n) + n;
        } else {
          const t = varintSize(p.tag);
          for (const x of v) size += t + valueSize(p.kind, p.sub, x);
        }
        break;
      }
      case Card.Map: {
        if (typeof v !== "object" || v === null) throw new Unsupported();
        const t = varintSize(p.tag);
        for (const key of Object.keys(v)) {
          const i = sizes.length;
          sizes.push(0);
          // Key (field 1) and value (field 2), both always written.
          const n = 1 + valueSize(p.keyKind, undefined, mapKey(p.keyKind, key)) + 1 + valueSize(p.kind, p.sub, (v as Record<string, unknown>)[key]);
          sizes[i] = n;
          size += t + varintSize(n) + n;
        }
        break;
      }
    }
  }
  return size;
}

// The writer: buf and pos, the same traversal as the size pass.
let buf: Buffer = Buffer.alloc(0);
let pos = 0;
const view = new DataView(new ArrayBuffer(8));

function writeVarint(v: number): void {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
}

function writeBigVarint(v: bigint): void {
  while (v >= 128n) {
    buf[pos++] = Number(v & 127n) | 128;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
}

function writeValue(k: Kind, sub: Plan | undefined, v: unknown): void {
  switch (k) {
    case Kind.Str: {
      const n = sizes[at++]!;
      writeVarint(n);
      if (n > 0) pos += buf.write(v as string, pos, n, "utf8");
      return;
    }
    case Kind.Bytes: {
      const b = v as Uint8Array;
      writeVarint(b.byteLength);
      buf.set(b, pos);
      pos += b.byteLength;
      return;
    }
    case Kind.Bool:
      buf[pos++] = v ? 1 : 0;
      return;
    case Kind.I32:
      if ((v as number) < 0) writeBigVarint(BigInt.asUintN(64, BigInt(v as number)));
      else writeVarint(v as number);
      return;
    case Kind.U32:
      writeVarint(v as number);
      return;
    case Kind.I64:
    case Kind.U64: {
      const u = u64(v, k === Kind.I64);
      if (typeof u === "number") writeVarint(u);
      else writeBigVarint(u);
      return;
    }
    case Kind.Dbl:
      view.setFloat64(0, v as number, true);
      for (let i = 0; i < 8; i++) buf[pos++] = view.getUint8(i);
      return;
    case Kind.Msg:
      writeVarint(sizes[at++]!);
      writeMessage(sub!, v as Record<string, unknown>);
      return;
  }
}

function writeMessage(plan: Plan, msg: Record<string, unknown>): void {
  for (const p of plan.fields) {
    const v = valueOf(p, msg);
    if (v === ABSENT) continue;
    switch (p.card) {
      case Card.Implicit:
      case Card.Explicit:
        writeVarint(p.tag);
        writeValue(p.kind, p.sub, v);
        break;
      case Card.List: {
        const list = v as unknown[];
        if (list.length === 0) continue;
        if (p.packed) {
          writeVarint(p.tag);
          writeVarint(sizes[at++]!);
          for (const x of list) writeValue(p.kind, undefined, x);
        } else {
          for (const x of list) {
            writeVarint(p.tag);
            writeValue(p.kind, p.sub, x);
          }
        }
        break;
      }
      case Card.Map: {
        const map = v as Record<string, unknown>;
        for (const key of Object.keys(map)) {
          writeVarint(p.tag);
          writeVarint(sizes[at++]!);
          buf[pos++] = (1 << 3) | wireType(p.keyKind);
          writeValue(p.keyKind, undefined, mapKey(p.keyKind, key));
          buf[pos++] = (2 << 3) | wireType(p.kind);
          writeValue(p.kind, p.sub, map[key]);
        }
        break;
      }
    }
  }
}

/**
 * Encodes a message of the given schema as toBinary does (unknown fields
 * included, by toBinary itself when there are any). Throws what toBinary
 * throws for a message it cannot encode.
 */
export function encodeMessage<Desc extends DescMessage>(schema: Desc, message: Message): Uint8Array {
  sizes = [];
  at = 0;
  let size: number;
  try {
    size = messageSize(planOf(schema), message);
  } catch (e) {
    if (e instanceof Unsupported || e instanceof SyntaxError || e instanceof RangeError || e instanceof TypeError) {
      return toBinary(schema, message as never);
    }
    throw e;
  }
  buf = Buffer.allocUnsafe(size);
  pos = 0;
  writeMessage(planOf(schema), message as unknown as Record<string, unknown>);
  const out = buf;
  buf = Buffer.alloc(0);
  sizes = [];
  if (pos !== size) throw new Error(`agenttrail: encoded ${pos} bytes of a message measured at ${size}`);
  return out;
}
