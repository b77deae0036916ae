// The delivery loop's event encoder writes exactly what toBinary writes,
// for events of every payload filled with random values of every field, and
// leaves to toBinary what it does not handle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ScalarType, create, toBinary, fromBinary } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import { EventSchema } from "../src/gen/agenttrail/v1/event_pb.js";
import { AppendRequestSchema } from "../src/gen/agenttrail/v1/append_service_pb.js";
import { encodeMessage } from "../src/encode.js";

// A small deterministic generator, so that a failure can be replayed.
let seed = 0x2545f491;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

const TEXTS = ["", "a", "stop", "ünïcödé", "emoji 🙂 and a lone surrogate \ud800 here", "x".repeat(130), "y".repeat(20_000)];

function scalar(t: ScalarType): unknown {
  switch (t) {
    case ScalarType.STRING:
      return TEXTS[rnd(TEXTS.length)]!;
    case ScalarType.BYTES:
      return new Uint8Array(rnd(3) === 0 ? 0 : 1 + rnd(300)).map(() => rnd(256));
    case ScalarType.BOOL:
      return rnd(2) === 0;
    case ScalarType.DOUBLE:
      return [0, -0, 0.2, -1.5, 1e300, Number.NaN, Number.POSITIVE_INFINITY][rnd(7)];
    case ScalarType.INT32:
      return [0, 1, 127, 128, 300, -1, -2147483648, 2147483647][rnd(8)];
    case ScalarType.UINT32:
      return [0, 1, 127, 128, 16384, 4294967295][rnd(6)];
    case ScalarType.INT64:
      return [0n, 1n, 128n, 9007199254740993n, -1n, -(1n << 63n), (1n << 63n) - 1n][rnd(7)];
    case ScalarType.UINT64:
      return [0n, 1n, 128n, 9007199254740993n, (1n << 64n) - 1n][rnd(5)];
    default:
      throw new Error(`no generator for scalar type ${t}`);
  }
}

/** A message of desc with every field set at random (each oneof to member), depth-limited. */
function fill(desc: DescMessage, depth: number, member?: Map<string, string>): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const f of desc.fields) {
    if (rnd(5) === 0) continue; // some fields left unset
    let v: unknown;
    switch (f.fieldKind) {
      case "scalar":
        v = scalar(f.scalar);
        break;
      case "enum":
        v = f.enum.values[rnd(f.enum.values.length)]!.number;
        break;
      case "message":
        if (depth <= 0) continue;
        v = fill(f.message, depth - 1);
        break;
      case "list": {
        const n = rnd(4);
        v = Array.from({ length: n }, () =>
          f.listKind === "message"
            ? fill(f.message, depth - 1)
            : f.listKind === "enum"
              ? f.enum.values[rnd(f.enum.values.length)]!.number
              : scalar(f.scalar),
        );
        break;
      }
      case "map": {
        const m: Record<string, unknown> = {};
        for (let i = rnd(4); i > 0; i--) {
          m[`${TEXTS[rnd(TEXTS.length)]!.slice(0, 10)}${i}`] =
            f.mapKind === "message" ? fill(f.message, depth - 1) : f.mapKind === "enum" ? f.enum.values[0]!.number : scalar(f.scalar);
        }
        v = m;
        break;
      }
    }
    if (f.oneof !== undefined) {
      const want = member?.get(f.oneof.name);
      if (want !== undefined ? want !== f.name : init[f.oneof.localName] !== undefined) continue;
      init[f.oneof.localName] = { case: f.localName, value: v };
    } else {
      init[f.localName] = v;
    }
  }
  return init;
}

test("encodeMessage writes what toBinary writes, for events of every payload", () => {
  const payload = EventSchema.oneofs.find((o) => o.name === "payload")!;
  let compared = 0;
  for (const member of payload.fields) {
    for (let i = 0; i < 40; i++) {
      const ev = create(EventSchema, fill(EventSchema, 4, new Map([["payload", member.name]])) as never);
      const want = toBinary(EventSchema, ev);
      const got = encodeMessage(EventSchema, ev);
      assert.deepEqual(Buffer.from(got).toString("hex"), Buffer.from(want).toString("hex"), `payload ${member.name}, event ${i}`);
      compared++;
    }
  }
  assert.ok(compared >= 40 * 10, `only ${compared} events compared`);
});

test("encodeMessage: an empty event, and a proto3 optional set to zero", () => {
  const empty = create(EventSchema);
  assert.equal(encodeMessage(EventSchema, empty).length, 0);
  const ev = create(EventSchema, { payload: { case: "llmCall", value: { temperature: 0, maxTokens: 0n } } });
  assert.deepEqual(Buffer.from(encodeMessage(EventSchema, ev)), Buffer.from(toBinary(EventSchema, ev)));
  assert.equal(fromBinary(EventSchema, encodeMessage(EventSchema, ev)).payload.case, "llmCall");
});

test("encodeMessage leaves unknown fields and wrong types to toBinary", () => {
  // An event of step 7 with field 1000 (unknown) inside an AppendRequest.
  const withUnknown = fromBinary(AppendRequestSchema, new Uint8Array([0x0a, 0x05, 0x20, 0x07, 0xc0, 0x3e, 0x01]));
  assert.equal(withUnknown.event?.step, 7);
  const got = encodeMessage(AppendRequestSchema, withUnknown);
  assert.deepEqual(Buffer.from(got), Buffer.from(toBinary(AppendRequestSchema, withUnknown)));
  assert.equal(got.length, 7);
  const wrong = create(EventSchema, { step: 1 });
  (wrong as unknown as { step: unknown }).step = -1;
  assert.throws(() => encodeMessage(EventSchema, wrong), /cannot encode field agenttrail\.v1\.Event\.step/);
});
