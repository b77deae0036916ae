// The access log: who read what, newest first. The trail records every
// read by a person; this page reads those records (and is recorded too).
import type { Entry } from "@agenttrail/gen/entry_pb.js";
import { EventKind } from "@agenttrail/gen/event_pb.js";
import { Order } from "@agenttrail/gen/query_service_pb.js";
import { useEffect, useState } from "preact/hooks";
import { explain, query } from "../api.js";
import { Details, summary } from "../event.js";
import { time } from "../format.js";
import { Notice, Spinner } from "../widgets.js";

const PAGE = 100;

export function AccessLog({ role }: { role: string }) {
  const [rows, setRows] = useState<Entry[]>([]);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [open, setOpen] = useState<bigint | undefined>();

  async function load(after?: bigint) {
    setLoading(true);
    setError("");
    try {
      const got: Entry[] = [];
      for await (const r of query.query({ filter: { kinds: [EventKind.ACCESS] }, order: Order.DESCENDING, limit: PAGE, resumeAfter: after })) {
        if (r.item.case === "entry") got.push(r.item.value);
      }
      setRows((old) => (after === undefined ? got : [...old, ...got]));
      setMore(got.length === PAGE);
    } catch (e) {
      setError(explain(e));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => void load(), []);
  if (role === "developer") return <Notice kind="info">The access log is for compliance and admin roles. Your own reads are recorded there too.</Notice>;
  return (
    <section aria-labelledby="access-h">
      <h1 id="access-h">Access log</h1>
      <p class="hint">Every read by a person is an event in the trail: who, which call, which filter, how many events, in which view. Reading this page is recorded as well.</p>
      {error && <Notice kind="error">{error}</Notice>}
      {!loading && !error && rows.length === 0 && <Notice kind="empty">No reads recorded yet.</Notice>}
      <table class="access">
        <thead><tr><th>When</th><th>Log index</th><th>Read</th></tr></thead>
        <tbody>
          {rows.map((e) => {
            const index = e.stamp!.logIndex;
            return (
              <>
                <tr key={String(index)} tabIndex={0} onClick={() => setOpen(open === index ? undefined : index)} onKeyDown={(k) => k.key === "Enter" && setOpen(open === index ? undefined : index)}>
                  <td>{time(e.event?.occurredAt)}</td>
                  <td class="mono">{index.toString()}</td>
                  <td>{summary(e.event)}</td>
                </tr>
                {open === index && <tr><td colSpan={3}><Details entry={e} /></td></tr>}
              </>
            );
          })}
        </tbody>
      </table>
      {loading && <Spinner label="Loading reads" />}
      {more && !loading && <button type="button" onClick={() => void load(rows[rows.length - 1]?.stamp?.logIndex)}>Load more</button>}
    </section>
  );
}
