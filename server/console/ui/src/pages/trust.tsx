// Verification: which key this browser trusts for the log, the checkpoint
// it last verified, and pinning a key given out of band.
import { useEffect, useState } from "preact/hooks";
import { forget, logTrust, pinKey, savedKey, setWitnessPolicy, witnessPolicy } from "../trust.js";
import type { LogTrust } from "../trust.js";
import { TrustLine } from "../verdict.js";
import { Notice, Spinner } from "../widgets.js";

export function TrustPage() {
  const [trust, setTrust] = useState<LogTrust | undefined>();
  const [error, setError] = useState("");
  const [msg, setMsg] = useState("");
  const [round, setRound] = useState(0);
  useEffect(() => {
    setError("");
    logTrust(true).then(setTrust, (e) => setError(String((e as Error).message)));
  }, [round]);
  const saved = savedKey();
  function pin(e: Event) {
    e.preventDefault();
    const key = String(new FormData(e.currentTarget as HTMLFormElement).get("key") ?? "");
    try {
      pinKey(key);
      setMsg("Key pinned. The checkpoint is checked with it from now on.");
      setRound(round + 1);
    } catch (err) {
      setMsg(`That is not a verifier key: ${(err as Error).message}`);
    }
  }
  function policy(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const keys = String(f.get("witnesses") ?? "").split("\n").map((k) => k.trim()).filter(Boolean);
    try {
      setWitnessPolicy(keys, Number(f.get("quorum") ?? 1));
      setMsg(keys.length > 0 ? `Witness policy set: ${Number(f.get("quorum"))} of ${keys.length}.` : "Witness policy cleared.");
      setRound(round + 1);
    } catch (err) {
      setMsg(`Not set: ${(err as Error).message}`);
    }
  }
  return (
    <section aria-labelledby="trust-h">
      <h1 id="trust-h">Verification</h1>
      <p>
        Every badge in this console is computed in your browser: each event's leaf hash and (where your view shows it) content digest, its inclusion proof, and the checkpoint's
        Ed25519 signature. What you must trust is the log's verifier key. Compare it with the one <code>agenttrail serve</code> prints, or ask the operator, and pin it here.
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      {!trust && !error && <Spinner label="Checking the checkpoint" />}
      {trust && <div class="trust"><TrustLine trust={trust} /></div>}
      <p>Key in use: <span class="mono small">{saved?.key ?? "none yet"}</span> {saved && (saved.pinned ? "(pinned by you)" : "(trusted on first use)")}</p>
      <form class="filters" onSubmit={pin}>
        <label class="wide">Verifier key <input name="key" class="mono" placeholder="origin+hash+base64" spellcheck={false} /></label>
        <button type="submit">Pin key</button>
        <button type="button" class="secondary" onClick={() => { forget(); setMsg("Forgot the saved key and checkpoint of this server."); setRound(round + 1); }}>Forget saved state</button>
      </form>
      <h2>Witnesses</h2>
      <p>
        Independent witnesses cosign checkpoints after checking that the log only grew. Paste the cosignature keys of the witnesses you trust (one per line, as{" "}
        <code>agenttrail witness</code> prints them) and how many must cosign: badges are then computed against the newest checkpoint a quorum cosigned.
      </p>
      <form class="filters" onSubmit={policy}>
        <label class="wide">Witness keys <textarea name="witnesses" class="mono" rows={3} spellcheck={false} defaultValue={witnessPolicy()?.witnesses.join("\n") ?? ""} /></label>
        <label>Quorum <input name="quorum" type="number" min={1} defaultValue={String(witnessPolicy()?.quorum ?? 1)} /></label>
        <button type="submit">Set witnesses</button>
      </form>
      {msg && <Notice kind="info">{msg}</Notice>}
    </section>
  );
}
