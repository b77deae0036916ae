// The evidence bundle `agenttrail verify --export FILE` accepts
// (cmd/agenttrail/exportfile.go): a header line with the verifier key and
// the signed checkpoint, then one line per entry with its inclusion proof
// against that checkpoint, in protojson with the .proto field names. Built
// in the browser from what it has verified.
import { toJson } from "@bufbuild/protobuf";
import type { Entry } from "@agenttrail/gen/entry_pb.js";
import { EntrySchema } from "@agenttrail/gen/entry_pb.js";
import { CheckpointSchema, GetInclusionProofResponseSchema } from "@agenttrail/gen/log_service_pb.js";
import type { EntryCheck, LogTrust } from "./trust.js";

const opts = { useProtoFieldName: true } as const;

/** The bundle's text, for the entries that verified against trust's checkpoint. */
export function bundle(trust: LogTrust, entries: readonly Entry[], checks: ReadonlyMap<bigint, EntryCheck>): { text: string; count: number; left: number } {
  const lines = [JSON.stringify({ format: "agenttrail-export-v1", verifier_key: trust.verifierKey, checkpoint: toJson(CheckpointSchema, trust.checkpoint, opts) })];
  let left = 0;
  for (const e of entries) {
    const c = checks.get(e.stamp?.logIndex ?? -1n);
    if (c?.state !== "ok") {
      left++;
      continue;
    }
    lines.push(JSON.stringify({ entry: toJson(EntrySchema, e, opts), inclusion_proof: toJson(GetInclusionProofResponseSchema, c.proof, opts) }));
  }
  return { text: lines.join("\n") + "\n", count: lines.length - 1, left };
}

/** Saves text as a file through the browser's download. */
export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
