// Stats: tool usage, error rate, tokens and cost over time come from the
// Stats RPC of issue 14, which this server does not have yet. Until then the
// page says so, and shows what the session summaries already tell.
import type { SessionSummary } from "@agenttrail/gen/query_service_pb.js";
import { useEffect, useState } from "preact/hooks";
import { explain, query } from "../api.js";
import { money, num } from "../format.js";
import { Notice, Spinner } from "../widgets.js";

export function Stats() {
  const [rows, setRows] = useState<SessionSummary[] | undefined>();
  const [error, setError] = useState("");
  useEffect(() => {
    query.listSessions({ pageSize: 500 }).then((r) => setRows(r.sessions), (e) => setError(explain(e)));
  }, []);
  const sessions = rows?.length ?? 0;
  const failed = rows?.filter((s) => s.errorCount > 0n).length ?? 0;
  const tokens = rows?.reduce((t, s) => t + s.inputTokens + s.outputTokens, 0n) ?? 0n;
  const costs = new Map<string, bigint>();
  for (const s of rows ?? []) if (s.cost) costs.set(s.cost.currencyCode, (costs.get(s.cost.currencyCode) ?? 0n) + s.cost.micros);
  return (
    <section aria-labelledby="stats-h">
      <h1 id="stats-h">Stats</h1>
      <Notice kind="info">
        Tool usage, error rates, tokens and cost over time need the server's Stats RPC, which this agenttrail version does not have yet. Meanwhile, here is what the summaries of the newest 500 sessions say.
      </Notice>
      {error && <Notice kind="error">{error}</Notice>}
      {!rows && !error && <Spinner label="Summing sessions" />}
      {rows && (
        <div class="cards">
          <div class="card"><b>{num(sessions)}</b><span>sessions</span></div>
          <div class="card"><b>{sessions ? `${Math.round((100 * failed) / sessions)}%` : "–"}</b><span>with errors</span></div>
          <div class="card"><b>{num(tokens)}</b><span>tokens</span></div>
          <div class="card"><b>{[...costs].map(([c, m]) => money(m, c)).join(" + ") || "–"}</b><span>cost</span></div>
        </div>
      )}
    </section>
  );
}
