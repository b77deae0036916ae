// Verification badges and the proof behind them.
import type { Entry } from "@agenttrail/gen/entry_pb.js";
import { ContentState } from "@agenttrail/gen/entry_pb.js";
import { hex } from "./format.js";
import type { EntryCheck, LogTrust } from "./trust.js";
import { Dialog } from "./widgets.js";

export function Badge({ check, onOpen }: { check: EntryCheck | undefined; onOpen?: () => void }) {
  const [cls, label, title] = !check
    ? ["badge-wait", "…", "checking"]
    : check.state === "ok"
      ? ["badge-ok", "✓ verified", check.contentChecked ? "header and content verified, included in the signed log" : "header verified and included in the signed log (content not shown in your view)"]
      : check.state === "pending"
        ? ["badge-wait", "pending", check.reason]
        : ["badge-bad", "✗ failed", check.reason];
  return (
    <button type="button" class={`badge ${cls}`} title={title} aria-label={`verification: ${title}`} onClick={(e) => { e.stopPropagation(); onOpen?.(); }}>
      {label}
    </button>
  );
}

export function TrustLine({ trust }: { trust: LogTrust }) {
  return (
    <>
      <div>Checkpoint: log <span class="mono">{trust.head.origin}</span>, {trust.head.size.toString()} events, root <span class="mono">{hex(trust.head.root, 8)}…</span>, signature verified with {trust.pinned ? "the key you pinned" : <b class="warn-text">the server's own key, trusted on first use (pin the key on the Verification page)</b>}.</div>
      <div>{trust.consistentWith ? `Consistent with the checkpoint of ${trust.consistentWith.size} events this browser saved on ${trust.consistentWith.checkedAt}.` : "First visit from this browser: its checkpoint is saved, and later visits check that the log only grew."}</div>
      <div>
        Witnesses:{" "}
        {trust.policy
          ? `cosigned by ${trust.cosignatures.join(", ")}, verified: your policy asks ${trust.policy.quorum} of ${trust.policy.witnesses.length}.`
          : trust.unchecked.length > 0
            ? `cosigned by ${trust.unchecked.join(", ")}, not checked: set the witnesses you trust on the Verification page.`
            : "no cosignatures on this checkpoint, and no witness policy set."}
        {trust.policy && trust.unchecked.length > 0 ? ` Also signed by ${trust.unchecked.join(", ")} (not in your policy).` : ""}
      </div>
    </>
  );
}

export function ProofDialog({ entry, check, trust, onClose }: { entry: Entry; check: EntryCheck | undefined; trust: LogTrust | undefined; onClose: () => void }) {
  const c = entry.commitment;
  const index = entry.stamp?.logIndex ?? 0n;
  return (
    <Dialog title={`Proof of event ${index}`} onClose={onClose}>
      <p class={check?.state === "failed" ? "bad" : check?.state === "ok" ? "good" : ""}>
        {!check ? "Checking…" : check.state === "ok" ? "Verified in this browser." : check.state === "pending" ? `Not yet provable: ${check.reason}.` : `Does not verify (${check.code}): ${check.reason}`}
      </p>
      <dl class="details">
        <div class="field"><dt>leaf hash</dt><dd class="mono">{c ? hex(c.leafHash) : ""}</dd></div>
        <div class="field"><dt>content digest</dt><dd class="mono">{c ? hex(c.contentDigest) : ""}</dd></div>
        <div class="field"><dt>header</dt><dd>{c ? `${c.header.length} bytes, compared field by field with the event shown` : ""}</dd></div>
        <div class="field"><dt>content</dt><dd>{entry.view?.content === ContentState.PRESENT ? "present: SHA-256(salt ‖ content) recomputed and compared with the digest" : entry.view?.content === ContentState.ERASED ? "erased: the digest stands for it" : "withheld in your view: the digest stands for it"}</dd></div>
        {check && check.state !== "pending" && check.proof && (
          <div class="field"><dt>inclusion proof</dt><dd>
            <div>index {index.toString()} in the tree of {check.proof.treeSize.toString()} events, {check.proof.hashes.length} hashes:</div>
            <ol class="mono small">{check.proof.hashes.map((h, i) => <li key={i}>{hex(h)}</li>)}</ol>
          </dd></div>
        )}
        {trust && (
          <>
            <div class="field"><dt>root</dt><dd class="mono">{hex(trust.head.root)}</dd></div>
            <div class="field"><dt>checkpoint</dt><dd><pre class="mono small">{new TextDecoder().decode(trust.checkpoint.signedNote)}</pre></dd></div>
            <div class="field"><dt>verifier key</dt><dd class="mono small">{trust.verifierKey}</dd></div>
            <div class="field"><dt>trust</dt><dd><TrustLine trust={trust} /></dd></div>
          </>
        )}
      </dl>
    </Dialog>
  );
}
