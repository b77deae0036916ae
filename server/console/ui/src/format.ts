// Small formatting helpers.
import type { Timestamp, Duration } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";

export function time(t: Timestamp | undefined): string {
  if (!t) return "";
  const d = timestampDate(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function timeShort(t: Timestamp | undefined): string {
  if (!t) return "";
  return timestampDate(t).toISOString().slice(11, 23);
}

export function millis(t: Timestamp | undefined): number {
  return t ? timestampDate(t).getTime() : 0;
}

export function duration(d: Duration | undefined): string {
  if (!d) return "";
  const ms = Number(d.seconds) * 1000 + d.nanos / 1e6;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function spanMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function num(n: bigint | number): string {
  return Number(n).toLocaleString("en-US");
}

export function money(micros: bigint | number, currency: string): string {
  const v = Number(micros) / 1e6;
  return `${v.toFixed(v < 1 ? 4 : 2)} ${currency || ""}`.trim();
}

export function hex(b: Uint8Array, n = b.length): string {
  let s = "";
  for (const x of b.subarray(0, n)) s += x.toString(16).padStart(2, "0");
  return s;
}

/** A generated enum's value name (protoc-gen-es strips the prefix), lower case with spaces: "timed out". */
export function enumName(e: Record<number, string>, v: number): string {
  return (e[v] ?? String(v)).toLowerCase().replace(/_/g, " ");
}
