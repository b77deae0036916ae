// Live tail: a following Query that renders events as they commit.
import type { Entry } from "@agenttrail/gen/entry_pb.js";
import { EventKind } from "@agenttrail/gen/event_pb.js";
import { Order } from "@agenttrail/gen/query_service_pb.js";
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import { explain, query } from "../api.js";
import { isFailure, KIND_LABEL, summary, Details } from "../event.js";
import type { Kind } from "../event.js";
import { timeShort } from "../format.js";
import { VirtualList } from "../virtual.js";
import { Notice } from "../widgets.js";

const KEEP = 20_000; // the newest events kept in the page
const BACKLOG = 100; // stored events shown before the live ones

export function Tail() {
  const entries = useRef<Entry[]>([]);
  const [, tick] = useReducer((n: number) => n + 1, 0);
  const [filter, setFilter] = useState({ session: "", agent: "", kind: "" });
  const [running, setRunning] = useState(true);
  const [status, setStatus] = useState("connecting…");
  const [error, setError] = useState("");
  const [open, setOpen] = useState<bigint | undefined>();
  const [follow, setFollow] = useState(true);

  useEffect(() => {
    if (!running) return;
    const ctl = new AbortController();
    entries.current = [];
    tick(0);
    setError("");
    let frame = 0;
    const redraw = () => {
      if (frame === 0) frame = requestAnimationFrame(() => ((frame = 0), tick(0)));
    };
    (async () => {
      try {
        const kinds = filter.kind ? [Number(filter.kind) as EventKind] : [];
        const f = { sessionId: filter.session.trim(), agentId: filter.agent.trim(), kinds };
        // The newest matches first, then everything after them as it commits.
        const backlog: Entry[] = [];
        for await (const r of query.query({ filter: f, order: Order.DESCENDING, limit: BACKLOG }, { signal: ctl.signal })) {
          if (r.item.case === "entry") backlog.push(r.item.value);
        }
        entries.current = backlog.reverse();
        redraw();
        const after = entries.current.at(-1)?.stamp?.logIndex;
        for await (const r of query.query({ filter: f, follow: true, resumeAfter: after }, { signal: ctl.signal })) {
          if (r.item.case === "caughtUp") {
            setStatus(`live · following from log size ${r.item.value.treeSize}`);
            document.body.dataset.tailLive = "1";
          } else if (r.item.case === "entry") {
            entries.current.push(r.item.value);
            if (entries.current.length > KEEP) entries.current.splice(0, entries.current.length - KEEP);
            redraw();
          }
        }
        setStatus("the server ended the tail");
      } catch (e) {
        if (!ctl.signal.aborted) {
          setError(`${explain(e)} The tail stopped; press Resume to reconnect.`);
          setRunning(false);
        }
      }
    })();
    return () => {
      ctl.abort();
      cancelAnimationFrame(frame);
      delete document.body.dataset.tailLive;
    };
  }, [running, filter]);

  function apply(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setFilter({ session: String(f.get("session") ?? ""), agent: String(f.get("agent") ?? ""), kind: String(f.get("kind") ?? "") });
    setRunning(true);
  }
  const n = entries.current.length;
  return (
    <section aria-labelledby="tail-h" class="timeline">
      <h1 id="tail-h">Live tail</h1>
      <form class="filters" onSubmit={apply} aria-label="Tail filter">
        <label>Session <input name="session" defaultValue={filter.session} placeholder="session id" /></label>
        <label>Agent <input name="agent" defaultValue={filter.agent} placeholder="agent id" /></label>
        <label>Kind
          <select name="kind">
            <option value="">any</option>
            {Object.entries(KIND_LABEL).map(([k, label]) => {
              const v = EventKind[k.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase() as keyof typeof EventKind];
              return <option key={k} value={String(v)} selected={filter.kind === String(v)}>{label}</option>;
            })}
          </select>
        </label>
        <button type="submit">Follow</button>
        <button type="button" class="secondary" onClick={() => setRunning(!running)}>{running ? "Pause" : "Resume"}</button>
        <label class="inline"><input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> keep at newest</label>
      </form>
      <p class="counts" aria-live="polite">{running ? status : "paused"} · {n.toLocaleString("en-US")} events</p>
      {error && <Notice kind="error">{error}</Notice>}
      {n === 0 && !error && <Notice kind="empty">No matching events yet. New events appear here as soon as they commit.</Notice>}
      {n > 0 && (
        <VirtualList
          label="live events"
          count={n}
          estimate={36}
          follow={follow}
          rowKey={(i) => String(entries.current[i]?.stamp?.logIndex ?? i)}
          row={(i) => {
            const e = entries.current[i]!;
            const kind = e.event?.payload.case as Kind | undefined;
            const index = e.stamp!.logIndex;
            return (
              <div class={`event kind-${kind}${isFailure(e.event) ? " failed" : ""}`} data-index-log={String(index)}>
                <div class="event-line" onClick={() => setOpen(open === index ? undefined : index)}>
                  <span class="idx mono">#{index.toString()}</span>
                  <span class="when mono">{timeShort(e.event?.occurredAt)}</span>
                  <span class={`kind kind-chip-${kind}`}>{kind ? KIND_LABEL[kind] : "?"}</span>
                  {e.event?.sessionId && <a class="mono small" href={`#/session/${encodeURIComponent(e.event.sessionId)}`} onClick={(ev) => ev.stopPropagation()}>{e.event.sessionId}</a>}
                  <span class="summary">{summary(e.event)}</span>
                </div>
                {open === index && <Details entry={e} />}
              </div>
            );
          }}
        />
      )}
    </section>
  );
}
