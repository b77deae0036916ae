// UUIDv7 ids as RFC 9562 lays them out, strictly increasing in one process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { uuidv7 } from "../src/index.js";
import { isUuidv7, uuidv7Time } from "../src/uuid.js";

test("uuidv7: version, variant and timestamp", () => {
  const before = Date.now();
  const id = uuidv7();
  const after = Date.now();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(isUuidv7(id));
  const ms = uuidv7Time(id);
  assert.ok(ms >= before && ms <= after, `timestamp ${ms} is not between ${before} and ${after}`);
});

test("uuidv7: strictly increasing, so ids sort in creation order", () => {
  const ids = Array.from({ length: 100_000 }, () => uuidv7());
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i - 1]! < ids[i]!, `id ${i} (${ids[i]}) does not sort after ${ids[i - 1]}`);
  }
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids.slice(0, 1000)) assert.ok(isUuidv7(id), `${id} is not a UUIDv7`);
});

test("uuidv7: the clock stepping back keeps the order", (t) => {
  const now = Date.now();
  t.mock.method(Date, "now", () => now + 60_000);
  const late = uuidv7();
  t.mock.method(Date, "now", () => now);
  const early = uuidv7();
  assert.ok(late < early, "an id made after the clock stepped back sorts before the previous one");
  assert.equal(uuidv7Time(early), now + 60_000);
});

test("uuidv7: random bits differ between processes' ids of one millisecond", () => {
  // The 32 low bits are random for every id: two ids of the same
  // millisecond and counter value would still differ.
  const tails = new Set(Array.from({ length: 1000 }, () => uuidv7().slice(-8)));
  assert.ok(tails.size > 990, `only ${tails.size} distinct random tails in 1000 ids`);
});

test("uuidv7Time refuses other strings", () => {
  assert.throws(() => uuidv7Time("not-a-uuid"), /not a lowercase UUIDv7/);
  assert.throws(() => uuidv7Time("018f1d2e-3c4b-4a5d-8e6f-7a8b9c0d1e2f"), /not a lowercase UUIDv7/);
});
