// Personal data: the legal holds in force, the retention policies, and the
// two actions a data subject request needs: erase (compliance and admin)
// and place or release a hold (admin). Every action is an event of the
// trail, written by the server before anything is destroyed; this page only
// asks, with a reason, and shows the log index of what the server wrote.
import type { Hold } from "@agenttrail/gen/lifecycle_service_pb.js";
import type { RetentionPolicy } from "@agenttrail/gen/event_pb.js";
import { EventKind } from "@agenttrail/gen/event_pb.js";
import { useEffect, useState } from "preact/hooks";
import { explain, lifecycle } from "../api.js";
import { duration, enumName, time } from "../format.js";
import { Notice, Spinner } from "../widgets.js";

type Target = "user" | "session" | "events";

const TARGET_LABEL: Record<Target, string> = { user: "Data subject (user id)", session: "Session id", events: "Event ids (one per line or comma-separated)" };

function scopeOf(h: Hold): string {
  if (h.userId) return `subject ${h.userId}`;
  if (h.sessionId) return `session ${h.sessionId}`;
  return `agent ${h.agentId}`;
}

function eventIds(text: string): string[] {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s !== "");
}

/** Runs a form's call: busy while it runs, its failure explained. */
async function act(setBusy: (b: boolean) => void, setError: (e: string) => void, f: () => Promise<void>): Promise<void> {
  setBusy(true);
  try {
    await f();
  } catch (err) {
    setError(explain(err));
  } finally {
    setBusy(false);
  }
}

/** The erase form: target, reason, and a confirmation that names the target. */
function Erase({ onDone, initial }: { onDone: () => void; initial?: { target: Target; value: string } }) {
  const [target, setTarget] = useState<Target>(initial?.target ?? "user");
  const [value, setValue] = useState(initial?.value ?? "");
  const [reason, setReason] = useState("");
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [result, setResult] = useState("");
  async function submit(e: Event) {
    e.preventDefault();
    setError("");
    setResult("");
    const v = value.trim();
    const ids = eventIds(value);
    if ((target === "events" && ids.length === 0) || (target !== "events" && v === "")) {
      setError(`Say what to erase: ${TARGET_LABEL[target].toLowerCase()}.`);
      return;
    }
    if (reason.trim() === "") {
      setError("A reason is required, such as the reference of the data subject request.");
      return;
    }
    if (!confirm) {
      setError("Tick the confirmation: erasure cannot be undone.");
      return;
    }
    await act(setBusy, setError, async () => {
      const r = await lifecycle.erase({
        reason: reason.trim(),
        target: target === "user" ? { case: "userId", value: v } : target === "session" ? { case: "sessionId", value: v } : { case: "eventIds", value: { eventIds: ids } },
      });
      if (r.erasureIndex === undefined) setResult("Nothing matched: no content was erased and no event was written.");
      else if (r.alreadyErased) setResult(`Already erased by the erasure event at log index ${r.erasureIndex} (${r.count} events). Nothing new was written.`);
      else setResult(`Erased the content of ${r.count} events. The erasure is the event at log index ${r.erasureIndex}.`);
      setConfirm(false);
      onDone();
    });
  }
  return (
    <form class="lifecycle" onSubmit={submit} aria-labelledby="erase-h">
      <h2 id="erase-h">Erase</h2>
      <p class="hint">
        Destroys the keys that encrypt the content (crypto-shredding). Headers and content digests stay, so every entry still verifies and shows as erased, with the index of the erasure event. A legal hold blocks it.
      </p>
      <fieldset>
        <legend>What to erase</legend>
        {(["user", "session", "events"] as Target[]).map((t) => (
          <label key={t} class="inline">
            <input type="radio" name="erase-target" value={t} checked={target === t} onChange={() => setTarget(t)} /> {t === "user" ? "a data subject" : t === "session" ? "a session" : "events"}
          </label>
        ))}
      </fieldset>
      <label for="erase-value">{TARGET_LABEL[target]}</label>
      {target === "events" ? (
        <textarea id="erase-value" rows={3} value={value} onInput={(e) => setValue(e.currentTarget.value)} spellcheck={false} />
      ) : (
        <input id="erase-value" value={value} onInput={(e) => setValue(e.currentTarget.value)} spellcheck={false} autocomplete="off" />
      )}
      <label for="erase-reason">Reason</label>
      <input id="erase-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="DSR-2026-118" autocomplete="off" />
      <label class="inline">
        <input type="checkbox" checked={confirm} onChange={(e) => setConfirm(e.currentTarget.checked)} /> I understand that erasure cannot be undone
      </label>
      <button type="submit" class="danger" disabled={busy}>{busy ? "Erasing…" : "Erase"}</button>
      {error && <Notice kind="error">{error}</Notice>}
      {result && <Notice kind="info">{result}</Notice>}
    </form>
  );
}

/** The form that places a hold (admin). */
function PlaceHold({ onDone }: { onDone: () => void }) {
  const [scope, setScope] = useState<"user" | "session" | "agent">("user");
  const [value, setValue] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  async function submit(e: Event) {
    e.preventDefault();
    setError("");
    const v = value.trim();
    if (v === "" || reason.trim() === "") {
      setError("Both what the hold covers and a reason are required.");
      return;
    }
    await act(setBusy, setError, async () => {
      await lifecycle.placeHold({
        reason: reason.trim(),
        scope: scope === "user" ? { case: "userId", value: v } : scope === "session" ? { case: "sessionId", value: v } : { case: "agentId", value: v },
      });
      setValue("");
      setReason("");
      onDone();
    });
  }
  return (
    <form class="lifecycle" onSubmit={submit} aria-labelledby="place-h">
      <h3 id="place-h">Place a hold</h3>
      <label for="hold-scope">Covers</label>
      <select id="hold-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value as typeof scope)}>
        <option value="user">a data subject (user id)</option>
        <option value="session">a session</option>
        <option value="agent">an agent</option>
      </select>
      <label for="hold-value">Id</label>
      <input id="hold-value" value={value} onInput={(e) => setValue(e.currentTarget.value)} spellcheck={false} autocomplete="off" />
      <label for="hold-reason">Hold reason</label>
      <input id="hold-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="case 12" autocomplete="off" />
      <button type="submit" disabled={busy}>{busy ? "Placing…" : "Place hold"}</button>
      {error && <Notice kind="error">{error}</Notice>}
    </form>
  );
}

/** The page, at #/privacy, or #/privacy/session/<id> (and user/<id>) with the erase form filled in. */
export function Privacy({ role, route }: { role: string; route: string[] }) {
  const [holds, setHolds] = useState<Hold[] | undefined>();
  const [policies, setPolicies] = useState<{ version: bigint; logIndex: bigint; policies: RetentionPolicy[] } | undefined>();
  const [error, setError] = useState("");
  const [releasing, setReleasing] = useState<string | undefined>();
  const [releaseReason, setReleaseReason] = useState("");
  const admin = role === "admin";

  async function load() {
    setError("");
    try {
      const [h, r] = await Promise.all([lifecycle.listHolds({}), lifecycle.getRetention({})]);
      setHolds(h.holds);
      setPolicies({ version: r.version, logIndex: r.logIndex, policies: r.policies });
    } catch (e) {
      setError(explain(e));
    }
  }
  useEffect(() => void load(), []);

  async function release(id: string) {
    setError("");
    if (releaseReason.trim() === "") {
      setError("A reason is required to release a hold.");
      return;
    }
    try {
      await lifecycle.releaseHold({ holdId: id, reason: releaseReason.trim() });
      setReleasing(undefined);
      setReleaseReason("");
      await load();
    } catch (e) {
      setError(explain(e));
    }
  }

  if (role === "developer") return <Notice kind="info">Erasure, legal holds and retention are for the compliance and admin roles.</Notice>;
  return (
    <section aria-labelledby="privacy-h">
      <h1 id="privacy-h">Personal data</h1>
      <p class="hint">Content is encrypted at rest under a key per data subject. Erasure and retention destroy keys, never the log: every change below is an event of the trail.</p>
      {error && <Notice kind="error">{error}</Notice>}

      <Erase onDone={() => void load()} initial={initialTarget(route)} />

      <h2 id="holds-h">Legal holds</h2>
      <p class="hint">Held content is never expired by retention, and an erasure that meets a hold is refused, naming it.</p>
      {!holds && !error && <Spinner label="Loading holds" />}
      {holds && holds.length === 0 && <Notice kind="empty">No legal hold is in force.</Notice>}
      {holds && holds.length > 0 && (
        <table class="holds" aria-labelledby="holds-h">
          <thead><tr><th>Hold</th><th>Covers</th><th>Reason</th><th>Placed by</th><th>Placed at</th><th>Log index</th>{admin && <th />}</tr></thead>
          <tbody>
            {holds.map((h) => (
              <tr key={h.holdId}>
                <td class="mono">{h.holdId}</td>
                <td>{scopeOf(h)}</td>
                <td>{h.reason}</td>
                <td>{h.placedBy}</td>
                <td>{time(h.placedAt)}</td>
                <td class="mono">{h.logIndex.toString()}</td>
                {admin && (
                  <td>
                    {releasing === h.holdId ? (
                      <form class="inline" onSubmit={(e) => { e.preventDefault(); void release(h.holdId); }}>
                        <label for={`release-${h.holdId}`} class="sr-only">Release reason</label>
                        <input id={`release-${h.holdId}`} value={releaseReason} onInput={(e) => setReleaseReason(e.currentTarget.value)} placeholder="release reason" autocomplete="off" />
                        <button type="submit">Confirm release</button>
                        <button type="button" class="link" onClick={() => setReleasing(undefined)}>cancel</button>
                      </form>
                    ) : (
                      <button type="button" onClick={() => { setReleasing(h.holdId); setReleaseReason(""); }}>Release</button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin ? <PlaceHold onDone={() => void load()} /> : <p class="hint">An admin places and releases holds (<code>agenttrail hold place</code>).</p>}

      <h2 id="retention-h">Retention</h2>
      {policies && policies.version === 0n && <Notice kind="empty">No retention policy is set: content is kept until erased.</Notice>}
      {policies && policies.version > 0n && (
        <>
          <p class="hint">Version {policies.version.toString()}, set by the event at log index {policies.logIndex.toString()}. The server applies it at least hourly and logs one retention event per policy that expired content. Change it with <code>agenttrail retention set</code>.</p>
          {policies.policies.length === 0 ? (
            <Notice kind="empty">The policy set is empty: content is kept until erased.</Notice>
          ) : (
            <table class="retention" aria-labelledby="retention-h">
              <thead><tr><th>Policy</th><th>Agent</th><th>Kinds</th><th>Label</th><th>Keeps content for</th></tr></thead>
              <tbody>
                {policies.policies.map((p) => (
                  <tr key={p.name}>
                    <td class="mono">{p.name}</td>
                    <td>{p.agentId || "any"}</td>
                    <td>{p.kinds.length ? p.kinds.map((k) => enumName(EventKind, k)).join(", ") : "any"}</td>
                    <td>{p.labelKey ? `${p.labelKey}=${p.labelValue || "*"}` : "any"}</td>
                    <td>{keepFor(p)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

function keepFor(p: RetentionPolicy): string {
  const s = Number(p.keepFor?.seconds ?? 0n);
  if (s > 0 && s % 86400 === 0) return `${s / 86400} days`;
  return duration(p.keepFor);
}

function initialTarget(route: string[]): { target: Target; value: string } | undefined {
  const [kind, value] = route;
  if (!value) return undefined;
  if (kind === "session") return { target: "session", value };
  if (kind === "user") return { target: "user", value };
  return undefined;
}
