// Every event kind round-trips between Go and TypeScript.
//
// The fixtures in clients/testdata/events are written by the Go suite
// (go test ./store/event/eventtest -update): the Go encoding of one sample
// event of each kind and its JSON. TypeScript must decode both to the same
// message and re-encode it to exactly the bytes Go produced.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { equals, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { EventSchema } from "../src/gen/agenttrail/v1/event_pb.js";
import { testdata } from "./testdata.js";

const dir = join(testdata, "events");
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".binpb"))
  .map((f) => f.slice(0, -".binpb".length))
  .sort();

// The payload each fixture must carry, by file name.
const expectedPayload: Record<string, string> = {
  session_start: "sessionStart",
  reasoning: "reasoning",
  llm_call: "llmCall",
  tool_call: "toolCall",
  tool_call_failed: "toolCall",
  human_approval: "humanApproval",
  error: "error",
  output: "output",
  session_end: "sessionEnd",
  access: "access",
  erasure: "erasure",
  retention: "retention",
  key_change: "keyChange",
  legal_hold: "legalHold",
  retention_policy: "retentionPolicy",
};

test("a fixture for every payload", () => {
  assert.deepEqual(fixtures, Object.keys(expectedPayload).sort());
  const oneof = EventSchema.oneofs.find((o) => o.name === "payload");
  assert.ok(oneof, "Event has no payload oneof");
  assert.deepEqual(
    oneof.fields.map((f) => f.localName).sort(),
    [...new Set(Object.values(expectedPayload))].sort(),
  );
});

for (const name of fixtures) {
  test(`Go bytes round-trip: ${name}`, () => {
    const goBytes = new Uint8Array(readFileSync(join(dir, `${name}.binpb`)));
    const fromBin = fromBinary(EventSchema, goBytes, { readUnknownFields: true });
    const fromJson = fromJsonString(EventSchema, readFileSync(join(dir, `${name}.json`), "utf8"));

    assert.ok(equals(EventSchema, fromBin, fromJson), "binary and JSON fixtures decode differently");
    assert.equal(fromBin.payload.case, expectedPayload[name]);
    assert.ok(fromBin.eventId.length > 0, "fixture has no event id");
    assert.ok(fromBin.occurredAt && fromBin.occurredAt.seconds > 0n);
    assert.equal(fromBin.$unknown, undefined, "TypeScript met fields it does not know");

    const tsBytes = toBinary(EventSchema, fromBin);
    assert.deepEqual(Buffer.from(tsBytes), Buffer.from(goBytes), "TypeScript's encoding differs from Go's");
    assert.ok(equals(EventSchema, fromBinary(EventSchema, tsBytes), fromBin));
    assert.ok(equals(EventSchema, fromJsonString(EventSchema, toJsonString(EventSchema, fromBin)), fromBin));
  });
}
