// Sessions: newest first, filtered by agent, user, start time, outcome and
// errors, with what each did; a page at a time, resumed where the last one
// stopped.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { SessionSummary } from "@agenttrail/gen/query_service_pb.js";
import { SessionOutcome } from "@agenttrail/gen/query_service_pb.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { explain, query } from "../api.js";
import { enumName, millis, money, num, spanMs, time } from "../format.js";
import { Notice, Spinner } from "../widgets.js";

interface Filters {
  agent: string;
  user: string;
  after: string;
  before: string;
  outcome: string;
  errors: string;
}

const EMPTY: Filters = { agent: "", user: "", after: "", before: "", outcome: "", errors: "" };
const PAGE = 50;

function request(f: Filters, resumeAfter?: bigint) {
  return {
    agentId: f.agent.trim(),
    userId: f.user.trim(),
    startedAfter: f.after ? timestampFromDate(new Date(f.after)) : undefined,
    startedBefore: f.before ? timestampFromDate(new Date(f.before)) : undefined,
    outcomes: f.outcome ? [Number(f.outcome) as SessionOutcome] : [],
    hasErrors: f.errors === "" ? undefined : f.errors === "yes",
    pageSize: PAGE,
    resumeAfter,
  };
}

export function Sessions() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<SessionSummary[]>([]);
  const [next, setNext] = useState<bigint | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [active, setActive] = useState(0);
  const table = useRef<HTMLTableSectionElement>(null);
  const form = useRef<HTMLFormElement>(null);

  const generation = useRef(0);
  async function load(f: Filters, resume?: bigint) {
    const mine = ++generation.current; // a newer load wins over an older one
    setLoading(true);
    setError("");
    try {
      const r = await query.listSessions(request(f, resume));
      if (mine !== generation.current) return;
      setRows((old) => (resume === undefined ? r.sessions : [...old, ...r.sessions]));
      setNext(r.nextResumeAfter);
    } catch (e) {
      if (mine === generation.current) setError(explain(e));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }
  useEffect(() => void load(filters), []);

  function apply(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const f = Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v)])) as unknown as Filters;
    setFilters(f);
    setActive(0);
    void load(f);
  }

  function onKey(e: KeyboardEvent) {
    if (e.key === "ArrowDown" || e.key === "j") setActive((a) => Math.min(a + 1, rows.length - 1));
    else if (e.key === "ArrowUp" || e.key === "k") setActive((a) => Math.max(a - 1, 0));
    else if (e.key === "Enter" && rows[active]) location.hash = `#/session/${encodeURIComponent(rows[active].sessionId)}`;
    else return;
    e.preventDefault();
  }
  useEffect(() => {
    (table.current?.children[active] as HTMLElement | undefined)?.focus();
  }, [active]);

  const errorsTotal = rows.filter((r) => r.errorCount > 0n).length;
  return (
    <section aria-labelledby="sessions-h">
      <h1 id="sessions-h">Sessions</h1>
      <form class="filters" ref={form} onSubmit={apply} aria-label="Filter sessions">
        <label>Agent <input name="agent" placeholder="agent id" defaultValue={filters.agent} /></label>
        <label>User <input name="user" placeholder="user id" defaultValue={filters.user} /></label>
        <label>Started after <input name="after" type="datetime-local" defaultValue={filters.after} /></label>
        <label>Started before <input name="before" type="datetime-local" defaultValue={filters.before} /></label>
        <label>Outcome
          <select name="outcome">
            <option value="">any</option>
            {[SessionOutcome.OPEN, SessionOutcome.COMPLETED, SessionOutcome.FAILED, SessionOutcome.TIMED_OUT, SessionOutcome.MAX_ITERATIONS, SessionOutcome.CANCELLED, SessionOutcome.ENDED].map((o) => (
              <option key={o} value={String(o)} selected={filters.outcome === String(o)}>{enumName(SessionOutcome, o)}</option>
            ))}
          </select>
        </label>
        <label>Errors
          <select name="errors">
            <option value="">any</option>
            <option value="yes" selected={filters.errors === "yes"}>with errors</option>
            <option value="no" selected={filters.errors === "no"}>without errors</option>
          </select>
        </label>
        <button type="submit">Apply</button>
        <button type="button" class="secondary" onClick={() => { form.current?.reset(); setFilters(EMPTY); void load(EMPTY); }}>Clear</button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {!error && !loading && rows.length === 0 && (
        <Notice kind="empty">
          {filters === EMPTY
            ? "No sessions yet. Sessions appear here once an agent appends a session_start event (see the README's walkthrough or a client quickstart)."
            : "No session matches these filters. Widen the time range or clear a filter."}
        </Notice>
      )}
      {rows.length > 0 && (
        <>
          <p class="counts" aria-live="polite">{rows.length} sessions shown{next !== undefined ? " (more below)" : ""} · {errorsTotal} with errors</p>
          <table class="sessions">
            <thead>
              <tr><th>Started</th><th>Session</th><th>Agent</th><th>User</th><th>Outcome</th><th class="n">Events</th><th class="n">LLM</th><th class="n">Tools</th><th class="n">Errors</th><th class="n">Tokens</th><th class="n">Cost</th><th class="n">Span</th></tr>
            </thead>
            <tbody ref={table} onKeyDown={onKey}>
              {rows.map((s, i) => (
                <tr key={s.sessionId} tabIndex={i === active ? 0 : -1} class={s.errorCount > 0n ? "has-errors" : ""} onClick={() => (location.hash = `#/session/${encodeURIComponent(s.sessionId)}`)} onFocus={() => setActive(i)}>
                  <td>{time(s.startedAt)}</td>
                  <td><a href={`#/session/${encodeURIComponent(s.sessionId)}`} tabIndex={-1} class="mono">{s.sessionId}</a></td>
                  <td>{s.agentId}{s.agentVersion && <span class="dim"> {s.agentVersion}</span>}</td>
                  <td>{s.userId}</td>
                  <td><span class={`outcome outcome-${SessionOutcome[s.outcome]?.toLowerCase()}`}>{enumName(SessionOutcome, s.outcome)}</span></td>
                  <td class="n">{num(s.eventCount)}</td>
                  <td class="n">{num(s.llmCallCount)}</td>
                  <td class="n">{num(s.toolCallCount)}</td>
                  <td class="n">{s.errorCount > 0n ? <b class="bad">{num(s.errorCount)}</b> : "0"}</td>
                  <td class="n">{num(s.inputTokens + s.outputTokens)}</td>
                  <td class="n">{s.cost ? money(s.cost.micros, s.cost.currencyCode) : ""}</td>
                  <td class="n">{s.lastEventAt ? spanMs(millis(s.lastEventAt) - millis(s.startedAt)) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="hint">↑/↓ or j/k to move, Enter to open.</p>
        </>
      )}
      {loading && <Spinner label="Loading sessions" />}
      {next !== undefined && !loading && <button type="button" onClick={() => void load(filters, next)}>Load more</button>}
    </section>
  );
}
