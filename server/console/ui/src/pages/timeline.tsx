// A session's timeline: every event in log order, nested under its parent,
// each with a verification badge computed in this browser; the session's
// badge sums them up. Loads progressively and renders only what is in view.
import type { Entry } from "@agenttrail/gen/entry_pb.js";
import { ContentState } from "@agenttrail/gen/entry_pb.js";
import { useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { explain, query } from "../api.js";
import { isFailure, KIND_LABEL, summary, Details } from "../event.js";
import type { Kind } from "../event.js";
import { bundle, download } from "../export.js";
import { timeShort } from "../format.js";
import { checkEntries, logTrust } from "../trust.js";
import type { EntryCheck, LogTrust } from "../trust.js";
import { Badge, ProofDialog, TrustLine } from "../verdict.js";
import { VirtualList } from "../virtual.js";
import { Notice, Spinner } from "../widgets.js";

interface Row {
  entry: Entry;
  depth: number;
}

/** Orders entries depth first under their parents (log order among siblings). */
export function nest(entries: readonly Entry[]): Row[] {
  const byId = new Map<string, Entry>();
  for (const e of entries) if (e.event?.eventId) byId.set(e.event.eventId, e);
  const children = new Map<string, Entry[]>();
  const roots: Entry[] = [];
  for (const e of entries) {
    const parent = e.event?.parentEventId;
    if (parent && parent !== e.event?.eventId && byId.has(parent)) {
      const list = children.get(parent) ?? [];
      list.push(e);
      children.set(parent, list);
    } else roots.push(e);
  }
  const out: Row[] = [];
  const seen = new Set<Entry>();
  const stack: Row[] = roots.slice().reverse().map((entry) => ({ entry, depth: 0 }));
  while (stack.length > 0) {
    const r = stack.pop()!;
    if (seen.has(r.entry)) continue;
    seen.add(r.entry);
    out.push(r);
    const kids = children.get(r.entry.event?.eventId ?? "") ?? [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ entry: kids[i]!, depth: r.depth + 1 });
  }
  for (const e of entries) if (!seen.has(e)) out.push({ entry: e, depth: 0 }); // cycles
  return out;
}

export function Timeline({ sessionId, role }: { sessionId: string; role: string }) {
  const entries = useRef<Entry[]>([]);
  const checks = useRef(new Map<bigint, EntryCheck>());
  const [, tick] = useReducer((n: number) => n + 1, 0);
  const [done, setDone] = useState(false);
  const [error, setError] = useState("");
  const [trust, setTrust] = useState<LogTrust | undefined>();
  const [trustError, setTrustError] = useState("");
  const [open, setOpen] = useState<Set<bigint>>(new Set());
  const [active, setActive] = useState(0);
  const [proofOf, setProofOf] = useState<Entry | undefined>();
  const [loadMs, setLoadMs] = useState(0);
  const [exported, setExported] = useState("");

  useEffect(() => {
    const ctl = new AbortController();
    const started = performance.now();
    let last = 0;
    (async () => {
      const trusting = logTrust(true).then(
        (t) => (setTrust(t), t),
        (e) => (setTrustError(explainTrust(e)), undefined),
      );
      try {
        for await (const r of query.query({ filter: { sessionId } }, { signal: ctl.signal })) {
          if (r.item.case !== "entry") continue;
          entries.current.push(r.item.value);
          if (performance.now() - last > 150) {
            last = performance.now();
            tick(0);
          }
        }
      } catch (e) {
        if (!ctl.signal.aborted) setError(explain(e));
        return;
      }
      setLoadMs(performance.now() - started);
      setDone(true);
      document.body.dataset.timelineLoaded = String(entries.current.length);
      const t = await trusting;
      if (!t) return;
      let lastTick = 0;
      await checkEntries(entries.current, t, (index, c) => {
        checks.current.set(index, c);
        if (performance.now() - lastTick > 200) {
          lastTick = performance.now();
          tick(0);
        }
      }, ctl.signal).catch((e) => setTrustError(`Inclusion proofs could not be fetched: ${explain(e)}`));
      tick(0);
      document.body.dataset.timelineVerified = "1";
    })();
    return () => ctl.abort();
  }, [sessionId]);

  const rows = useMemo(() => (done ? nest(entries.current) : entries.current.map((entry) => ({ entry, depth: 0 }))), [done, entries.current.length]);
  const n = entries.current.length;
  let ok = 0, bad = 0, pending = 0;
  for (const c of checks.current.values()) c.state === "ok" ? ok++ : c.state === "failed" ? bad++ : pending++;
  const errors = useMemo(() => entries.current.filter((e) => isFailure(e.event)).length, [done, n]);
  const sessionState = bad > 0 ? "bad" : trustError ? "bad" : ok + pending < n || !done ? "wait" : pending > 0 ? "wait" : "ok";

  function toggle(index: bigint) {
    setOpen((s) => {
      const t = new Set(s);
      t.has(index) ? t.delete(index) : t.add(index);
      return t;
    });
  }
  function onKey(e: KeyboardEvent) {
    const r = rows[active];
    if (e.key === "ArrowDown" || e.key === "j") setActive((a) => Math.min(a + 1, rows.length - 1));
    else if (e.key === "ArrowUp" || e.key === "k") setActive((a) => Math.max(a - 1, 0));
    else if (e.key === "Home") setActive(0);
    else if (e.key === "End") setActive(rows.length - 1);
    else if ((e.key === "Enter" || e.key === " ") && r) toggle(r.entry.stamp!.logIndex);
    else if (e.key === "v" && r) setProofOf(r.entry);
    else return;
    e.preventDefault();
  }

  function exportBundle() {
    if (!trust) return;
    const b = bundle(trust, entries.current, checks.current);
    download(`agenttrail-${sessionId}.jsonl`, b.text);
    setExported(
      `Exported ${b.count} events with their proofs against the checkpoint of ${trust.head.size} events. Check it anywhere with: agenttrail verify --export agenttrail-${sessionId}.jsonl --verifier-key <key>` +
        (b.left > 0 ? `. ${b.left} events were left out: they do not verify yet (pending a checkpoint) or fail verification.` : "."),
    );
  }

  return (
    <section aria-labelledby="timeline-h" class="timeline">
      <div class="timeline-head">
        <div>
          <a href="#/sessions" class="back">← Sessions</a>
          <h1 id="timeline-h">Session <span class="mono">{sessionId}</span></h1>
          <p class="counts">
            {n.toLocaleString("en-US")} events{done ? "" : " so far"} · {errors} errors{done && loadMs ? ` · loaded in ${Math.round(loadMs)} ms` : ""}
          </p>
        </div>
        <div class="session-verdict">
          <span class={`badge badge-${sessionState} big`} data-testid="session-badge" title={trustError || undefined}>
            {sessionState === "ok" ? `✓ all ${ok} events verified` : sessionState === "bad" ? `✗ ${bad > 0 ? `${bad} of ${n} events fail verification` : "log not trusted"}` : `verifying… ${ok}/${n}${pending ? `, ${pending} pending` : ""}`}
          </span>
          <button type="button" onClick={exportBundle} disabled={!trust || !done || ok === 0} title="Evidence bundle for: agenttrail verify --export FILE">Export evidence</button>
          {(role === "compliance" || role === "admin") && <a class="button-link" href={`#/privacy/session/${encodeURIComponent(sessionId)}`} title="Erase this session's content, or its data subject's">Erase…</a>}
        </div>
      </div>
      {trust && <div class="trust small"><TrustLine trust={trust} /></div>}
      {trustError && <Notice kind="error">{trustError}</Notice>}
      {exported && <Notice kind="info">{exported}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      {!error && done && n === 0 && <Notice kind="empty">No events in session {sessionId} that your role may see. Check the session id, or go back to the list.</Notice>}
      {role === "admin" && <Notice kind="info">Admin view: metadata only. Content is withheld; every event still verifies by its header and digest.</Notice>}
      {!done && n === 0 && !error && <Spinner label="Loading events" />}
      {n > 0 && (
        <VirtualList
          label={`events of session ${sessionId}`}
          count={rows.length}
          estimate={44}
          active={active}
          onKey={onKey}
          rowKey={(i) => String(rows[i]?.entry.stamp?.logIndex ?? i)}
          row={(i) => {
            const r = rows[i]!;
            const e = r.entry;
            const index = e.stamp!.logIndex;
            const kind = e.event?.payload.case as Kind | undefined;
            const failed = isFailure(e.event);
            const erased = e.view?.content === ContentState.ERASED;
            const isOpen = open.has(index);
            return (
              <div class={`event kind-${kind ?? "unknown"}${failed ? " failed" : ""}${i === active ? " active" : ""}${erased ? " erased" : ""}`} style={{ paddingLeft: `${0.75 + Math.min(r.depth, 8) * 1.25}rem` }} data-index-log={String(index)}>
                <div class="event-line" onClick={() => { setActive(i); toggle(index); }} aria-expanded={isOpen}>
                  <span class="idx mono">#{index.toString()}</span>
                  <span class="when mono">{timeShort(e.event?.occurredAt)}</span>
                  <span class={`kind kind-chip-${kind}`}>{kind ? KIND_LABEL[kind] : "unknown"}</span>
                  {erased && <span class="erased-chip">erased</span>}
                  <span class="summary">{summary(e.event)}</span>
                  <Badge check={checks.current.get(index)} onOpen={() => setProofOf(e)} />
                </div>
                {isOpen && <Details entry={e} />}
              </div>
            );
          }}
        />
      )}
      <p class="hint">↑/↓ or j/k to move, Enter to expand, v for the proof. Click a badge for its proof.</p>
      {proofOf && <ProofDialog entry={proofOf} check={checks.current.get(proofOf.stamp!.logIndex)} trust={trust} onClose={() => setProofOf(undefined)} />}
    </section>
  );
}

function explainTrust(e: unknown): string {
  if (e instanceof Error && e.name === "TrustError") return `The log is not trusted: ${e.message}`;
  if (e instanceof Error && "code" in e && typeof (e as { code: unknown }).code === "string") return `The log is not trusted: ${e.message}`;
  return `The checkpoint could not be checked: ${explain(e)}`;
}
