// UUIDv7 (RFC 9562, section 5.7) event and session ids that sort by time
// within one process, even when the clock stands still or steps back.
import { randomFillSync } from "node:crypto";

// Random bytes are drawn from the system in blocks: one syscall serves many ids.
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolAt = POOL_SIZE;

function randomBytes(n: number): Uint8Array {
  if (poolAt + n > POOL_SIZE) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

// The 42-bit counter of RFC 9562, section 6.2, method 1: the 12 bits of
// rand_a and the top 30 bits of rand_b. It starts at a random value below
// 2^41 in each new millisecond (leaving room to count up) and counts up
// within one; the remaining 32 bits of rand_b are fresh random bits.
const COUNTER_BITS = 42;
const COUNTER_MAX = 2 ** COUNTER_BITS - 1;
let lastMs = -1;
let counter = 0;

/**
 * Returns a new UUIDv7 (RFC 9562) as a lowercase hyphenated string.
 *
 * The first 48 bits are the Unix time in milliseconds, so ids sort by
 * creation time. Ids made by one process are strictly increasing: within one
 * millisecond a 42-bit counter (RFC 9562, section 6.2, method 1) orders
 * them, and if the clock steps back the previous timestamp is kept. 32 bits
 * of every id are random.
 */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    const r = randomBytes(6);
    // A random start below 2^41, so the counter cannot run out in practice.
    counter = ((r[0]! & 0x01) * 2 ** 40) + r[1]! * 2 ** 32 + ((r[2]! << 24) >>> 0) + (r[3]! << 16) + (r[4]! << 8) + r[5]!;
    lastMs = ms;
  } else {
    ms = lastMs;
    counter++;
    if (counter > COUNTER_MAX) {
      // Counter exhausted within one millisecond: move the timestamp on,
      // as RFC 9562, section 6.2 allows.
      lastMs = ++ms;
      counter = 0;
    }
  }
  const rnd = randomBytes(4);
  const b = new Uint8Array(16);
  // unix_ts_ms: 48 bits, big-endian.
  const hi = Math.floor(ms / 2 ** 32);
  const lo = ms >>> 0;
  b[0] = (hi >>> 8) & 0xff;
  b[1] = hi & 0xff;
  b[2] = (lo >>> 24) & 0xff;
  b[3] = (lo >>> 16) & 0xff;
  b[4] = (lo >>> 8) & 0xff;
  b[5] = lo & 0xff;
  // ver (0111) and the top 12 counter bits as rand_a.
  const cHi = Math.floor(counter / 2 ** 30); // top 12 bits
  const cLo = counter % 2 ** 30; // low 30 bits
  b[6] = 0x70 | ((cHi >>> 8) & 0x0f);
  b[7] = cHi & 0xff;
  // var (10), then the low 30 counter bits, then 32 random bits.
  b[8] = 0x80 | ((cLo >>> 24) & 0x3f);
  b[9] = (cLo >>> 16) & 0xff;
  b[10] = (cLo >>> 8) & 0xff;
  b[11] = cLo & 0xff;
  b[12] = rnd[0]!;
  b[13] = rnd[1]!;
  b[14] = rnd[2]!;
  b[15] = rnd[3]!;
  return (
    HEX[b[0]!]! + HEX[b[1]!]! + HEX[b[2]!]! + HEX[b[3]!]! + "-" +
    HEX[b[4]!]! + HEX[b[5]!]! + "-" + HEX[b[6]!]! + HEX[b[7]!]! + "-" +
    HEX[b[8]!]! + HEX[b[9]!]! + "-" +
    HEX[b[10]!]! + HEX[b[11]!]! + HEX[b[12]!]! + HEX[b[13]!]! + HEX[b[14]!]! + HEX[b[15]!]!
  );
}

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Reports whether s is a UUIDv7 in the lowercase hyphenated form uuidv7 returns. */
export function isUuidv7(s: string): boolean {
  return UUIDV7.test(s);
}

/** The Unix time in milliseconds a UUIDv7 carries in its first 48 bits. */
export function uuidv7Time(id: string): number {
  if (!isUuidv7(id)) {
    throw new TypeError(`${JSON.stringify(id)} is not a lowercase UUIDv7`);
  }
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
