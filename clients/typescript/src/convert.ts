// Plain JavaScript values to the fields of agenttrail.v1 messages. Every
// failure is an InvalidEventError naming the field, never its value.
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { InvalidEventError } from "./errors.js";

/** A point in time: a Date, or milliseconds since the Unix epoch. */
export type TimeInput = Date | number;

/** Converts a time to a google.protobuf.Timestamp. */
export function toTimestamp(field: string, t: TimeInput): Timestamp {
  const ms = t instanceof Date ? t.getTime() : t;
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new InvalidEventError(field, "must be a valid Date or a finite number of milliseconds since 1970");
  }
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  // A literal, not create(TimestampSchema, ...), which costs a caller more.
  return { $typeName: "google.protobuf.Timestamp", seconds: BigInt(seconds), nanos: Math.min(nanos, 999_999_999) };
}

/** Converts a duration in milliseconds (fractions allowed) to a google.protobuf.Duration. */
export function toDuration(field: string, ms: number): Duration {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new InvalidEventError(field, "must be a finite, non-negative number of milliseconds");
  }
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return { $typeName: "google.protobuf.Duration", seconds: BigInt(seconds), nanos: Math.min(nanos, 999_999_999) };
}

/** Converts a count (tokens, micros) given as a number or bigint to an int64. */
export function toCount(field: string, v: number | bigint): bigint {
  if (typeof v === "bigint") {
    if (v < 0n || v > 0x7fffffffffffffffn) {
      throw new InvalidEventError(field, "must be a non-negative integer below 2^63");
    }
    return v;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidEventError(field, "must be a non-negative safe integer (or a bigint)");
  }
  return BigInt(v);
}

/** Checks a non-negative integer that fits a uint32. */
export function toUint32(field: string, v: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new InvalidEventError(field, "must be an integer from 0 to 2^32-1");
  }
  return v;
}

/** Checks a finite number within [min, max]. */
export function toNumber(field: string, v: number, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new InvalidEventError(field, `must be a finite number from ${min} to ${max}`);
  }
  return v;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * Text for a field that holds JSON when the tool takes or returns JSON:
 * strings are kept as they are; undefined is the empty string; anything else
 * is serialized with JSON.stringify, bigints as decimal strings.
 */
export function toJsonText(field: string, v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  let s: string | undefined;
  try {
    s = JSON.stringify(v, jsonReplacer);
  } catch (e) {
    throw new InvalidEventError(field, "does not serialize to JSON (it holds a cycle or a value JSON.stringify refuses)", {
      cause: e,
    });
  }
  return s ?? "";
}

/** Checks a map of string labels or attributes and copies it. */
export function toStringMap(field: string, m: Readonly<Record<string, string>>): Record<string, string> {
  if (m === null || typeof m !== "object") {
    throw new InvalidEventError(field, "must be an object of string values");
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== "string") {
      throw new InvalidEventError(`${field}[${JSON.stringify(k)}]`, "must be a string");
    }
    out[k] = v;
  }
  return out;
}

// What the server accepts as an id: 1 to 128 characters from
// [A-Za-z0-9._:-], starting with a letter or digit (store/event.IsID).
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Checks an id the server would accept (UUIDs, ULIDs and most hand-made ids). */
export function checkId(field: string, id: string): string {
  if (typeof id !== "string" || !ID.test(id)) {
    throw new InvalidEventError(
      field,
      "must be 1 to 128 characters from [A-Za-z0-9._:-], starting with a letter or digit (a UUID is recommended)",
    );
  }
  return id;
}

// What the server accepts as an event id (store/event.IsEventID): an RFC 9562
// UUID of version 1 to 8 in canonical lower-case form.
const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Checks an event id (or a reference to one) as the server does: a UUID in canonical form, such as uuidv7() makes. */
export function checkEventId(field: string, id: string): string {
  if (typeof id !== "string" || !EVENT_ID.test(id)) {
    throw new InvalidEventError(
      field,
      "must be a UUID in canonical form (RFC 9562, version 1 to 8, lower-case 8-4-4-4-12 hex), such as uuidv7() makes",
    );
  }
  return id;
}

/** The type name of a thrown value, for error_type fields: "TypeError", "AbortError", or "string" for a thrown string. */
export function errorType(err: unknown): string {
  if (err instanceof Error) {
    const name = err.name && err.name !== "Error" ? err.name : err.constructor?.name;
    return name || "Error";
  }
  if (err === null) return "null";
  if (typeof err === "object") return (err as object).constructor?.name || "object";
  return typeof err;
}

/** The message of a thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err, jsonReplacer) ?? String(err);
  } catch {
    return String(err);
  }
}
