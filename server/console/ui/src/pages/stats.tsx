// Stats: counts, failures and error rate, tokens, cost and latency
// percentiles, grouped by agent, model, tool, user or kind, per hour or day
// or over the whole range, from the server's Stats RPC (answered from the
// aggregates the store keeps in each batch's commit; docs/stats.md). Times
// are UTC, as the RPC's hour and day buckets are.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { EventKind } from "@agenttrail/gen/event_pb.js";
import type { DurationPercentiles, StatsResponse, StatsRow } from "@agenttrail/gen/stats_service_pb.js";
import { StatsDimension, StatsInterval } from "@agenttrail/gen/stats_service_pb.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { explain, stats } from "../api.js";
import { duration, enumName, money, num, time } from "../format.js";
import { Notice, Spinner } from "../widgets.js";

interface Form {
  from: string; // datetime-local, read as UTC
  to: string;
  agent: string;
  user: string;
  tool: string;
  kind: string; // an EventKind number, or ""
  errors: boolean;
  by: StatsDimension[];
  every: StatsInterval;
}

const DEFAULT: Form = { from: "", to: "", agent: "", user: "", tool: "", kind: "", errors: false, by: [StatsDimension.KIND], every: StatsInterval.UNSPECIFIED };

const DIMENSIONS: { d: StatsDimension; label: string; cell: (r: StatsRow) => string }[] = [
  { d: StatsDimension.AGENT, label: "Agent", cell: (r) => r.agentId },
  { d: StatsDimension.MODEL, label: "Model", cell: (r) => r.model },
  { d: StatsDimension.TOOL, label: "Tool", cell: (r) => r.toolName },
  { d: StatsDimension.USER, label: "User", cell: (r) => r.userId },
  { d: StatsDimension.KIND, label: "Kind", cell: (r) => enumName(EventKind, r.kind) },
];

const KINDS = [EventKind.SESSION_START, EventKind.LLM_CALL, EventKind.TOOL_CALL, EventKind.REASONING, EventKind.HUMAN_APPROVAL, EventKind.ERROR, EventKind.OUTPUT, EventKind.SESSION_END, EventKind.ACCESS, EventKind.ERASURE, EventKind.RETENTION, EventKind.KEY_CHANGE];

/** A datetime-local value read as UTC. */
function utc(v: string): Timestamp | undefined {
  return v ? timestampFromDate(new Date(v.length === 16 ? `${v}:00Z` : `${v}Z`)) : undefined;
}

function request(f: Form) {
  return {
    filter: {
      agentId: f.agent.trim(),
      userId: f.user.trim(),
      toolName: f.tool.trim(),
      kinds: f.kind ? [Number(f.kind) as EventKind] : [],
      occurredAfter: utc(f.from),
      occurredBefore: utc(f.to),
      errorsOnly: f.errors,
    },
    groupBy: f.by,
    interval: f.every,
  };
}

function bucket(t: Timestamp | undefined, every: StatsInterval): string {
  const s = time(t);
  if (every === StatsInterval.DAY) return s.slice(0, 10);
  if (every === StatsInterval.HOUR) return s.slice(0, 13) + ":00Z";
  return s;
}

function pct(p: DurationPercentiles | undefined): string {
  if (!p || p.count === 0n) return "";
  return `${duration(p.p50)} / ${duration(p.p95)} / ${duration(p.p99)}`;
}

function costs(rows: StatsRow[]): string {
  const by = new Map<string, bigint>();
  for (const r of rows) for (const c of r.cost) by.set(c.currencyCode, (by.get(c.currencyCode) ?? 0n) + c.micros);
  return [...by].map(([c, m]) => money(m, c)).join(" + ");
}

export function Stats() {
  const [form, setForm] = useState<Form>(DEFAULT);
  const [res, setRes] = useState<StatsResponse | undefined>();
  const [shown, setShown] = useState<Form>(DEFAULT); // the form of the answer on screen
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const generation = useRef(0);

  async function load(f: Form) {
    const mine = ++generation.current; // a newer load wins over an older one
    setLoading(true);
    setError("");
    try {
      const r = await stats.stats(request(f));
      if (mine !== generation.current) return;
      setRes(r);
      setShown(f);
    } catch (e) {
      if (mine === generation.current) setError(explain(e));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }
  useEffect(() => void load(DEFAULT), []);

  function apply(e: Event) {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    const f: Form = {
      from: String(data.get("from") ?? ""),
      to: String(data.get("to") ?? ""),
      agent: String(data.get("agent") ?? ""),
      user: String(data.get("user") ?? ""),
      tool: String(data.get("tool") ?? ""),
      kind: String(data.get("kind") ?? ""),
      errors: data.get("errors") === "on",
      by: data.getAll("by").map((v) => Number(v) as StatsDimension),
      every: Number(data.get("every") ?? 0) as StatsInterval,
    };
    setForm(f);
    void load(f);
  }

  const rows = res?.rows ?? [];
  const dims = DIMENSIONS.filter((d) => shown.by.includes(d.d));
  const total = rows.reduce((t, r) => t + r.events, 0n);
  const failures = rows.reduce((t, r) => t + r.failures, 0n);
  const tokensIn = rows.reduce((t, r) => t + r.inputTokens, 0n);
  const tokensOut = rows.reduce((t, r) => t + r.outputTokens, 0n);
  const most = rows.reduce((m, r) => (r.events > m ? r.events : m), 0n);
  return (
    <section aria-labelledby="stats-h">
      <h1 id="stats-h">Stats</h1>
      <form class="filters" onSubmit={apply} aria-label="Statistics">
        <label>From (UTC) <input name="from" type="datetime-local" defaultValue={form.from} /></label>
        <label>To (UTC) <input name="to" type="datetime-local" defaultValue={form.to} /></label>
        <label>Agent <input name="agent" placeholder="agent id" defaultValue={form.agent} /></label>
        <label>User <input name="user" placeholder="user id" defaultValue={form.user} /></label>
        <label>Tool <input name="tool" placeholder="tool name" defaultValue={form.tool} /></label>
        <label>Kind
          <select name="kind">
            <option value="">any</option>
            {KINDS.map((k) => <option key={k} value={String(k)} selected={form.kind === String(k)}>{enumName(EventKind, k)}</option>)}
          </select>
        </label>
        <label class="inline"><input name="errors" type="checkbox" defaultChecked={form.errors} /> Failures only</label>
        <fieldset class="group-by">
          <legend>Group by</legend>
          {DIMENSIONS.map((d) => (
            <label key={d.d}><input type="checkbox" name="by" value={String(d.d)} defaultChecked={form.by.includes(d.d)} /> {d.label}</label>
          ))}
        </fieldset>
        <label>Per
          <select name="every">
            <option value={String(StatsInterval.UNSPECIFIED)} selected={form.every === StatsInterval.UNSPECIFIED}>whole range</option>
            <option value={String(StatsInterval.HOUR)} selected={form.every === StatsInterval.HOUR}>hour</option>
            <option value={String(StatsInterval.DAY)} selected={form.every === StatsInterval.DAY}>day</option>
          </select>
        </label>
        <button type="submit">Apply</button>
        <button type="button" class="secondary" onClick={(e) => { (e.currentTarget as HTMLButtonElement).form?.reset(); setForm(DEFAULT); void load(DEFAULT); }}>Clear</button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {loading && <Spinner label="Counting" />}
      {res && !error && rows.length === 0 && (
        <Notice kind="empty">No events match. Widen the time range or clear a filter.</Notice>
      )}
      {res && !error && rows.length > 0 && (
        <>
          <div class="cards" aria-label="Totals">
            <div class="card"><b>{num(total)}</b><span>events</span></div>
            <div class="card"><b>{num(failures)}</b><span>failures ({total > 0n ? `${((100 * Number(failures)) / Number(total)).toFixed(1)}%` : "–"})</span></div>
            <div class="card"><b>{num(tokensIn)} / {num(tokensOut)}</b><span>tokens in / out</span></div>
            <div class="card"><b>{costs(rows) || "–"}</b><span>cost</span></div>
          </div>
          <p class="counts" aria-live="polite">
            {rows.length} rows · {res.fromAggregates ? "answered from the aggregates the store keeps" : "counted from the events' headers (this filter is finer than the hourly aggregates)"} · latencies p50 / p95 / p99
          </p>
          <table class="stats">
            <thead>
              <tr>
                {shown.every !== StatsInterval.UNSPECIFIED && <th>{shown.every === StatsInterval.DAY ? "Day" : "Hour"}</th>}
                {dims.map((d) => <th key={d.d}>{d.label}</th>)}
                <th class="n">Events</th><th class="n">Failures</th><th class="n">Error rate</th>
                <th class="n">Tokens in</th><th class="n">Tokens out</th><th class="n">Cost</th>
                <th class="n">LLM calls</th><th class="n">LLM latency</th><th class="n">Tool calls</th><th class="n">Tool duration</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i} class={r.failures > 0n ? "has-errors" : ""}>
                  {shown.every !== StatsInterval.UNSPECIFIED && <td>{bucket(r.bucketStart, shown.every)}</td>}
                  {dims.map((d) => <td key={d.d}>{d.cell(r) || <span class="dim">none</span>}</td>)}
                  <td class="n"><meter min={0} max={Number(most)} value={Number(r.events)} aria-hidden="true" /> {num(r.events)}</td>
                  <td class="n">{r.failures > 0n ? <b class="bad">{num(r.failures)}</b> : "0"}</td>
                  <td class="n">{`${(100 * r.errorRate).toFixed(1)}%`}</td>
                  <td class="n">{num(r.inputTokens)}</td>
                  <td class="n">{num(r.outputTokens)}</td>
                  <td class="n">{r.cost.map((c) => money(c.micros, c.currencyCode)).join(" + ")}</td>
                  <td class="n">{num(r.llmCalls)}</td>
                  <td class="n">{pct(r.llmLatency)}</td>
                  <td class="n">{num(r.toolCalls)}</td>
                  <td class="n">{pct(r.toolDuration)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
