// Delivery against the real server when it crashes, restarts and is away:
// every event ends up in the log exactly once and in order, full-buffer
// policies do what they say, and tails resume where they broke.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { ClientClosedError, Code, DeliveryError, DeliveryTimeoutError } from "../src/index.js";
import type { AgentTrailClient, Entry, RejectedEvent, Session } from "../src/index.js";
import { TestServer, collect } from "./harness.js";

/** Waits until cond holds, checking every few milliseconds. */
async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

/** Checks that a session's trail holds exactly ids, in order, with steps 1..n and consecutive log indexes. */
async function assertTrail(reader: AgentTrailClient, sessionId: string, ids: string[]): Promise<Entry[]> {
  const entries = await collect(reader.query({ sessionId }));
  const got = entries.map((e) => e.event!.eventId);
  assert.equal(new Set(got).size, got.length, "an event id is in the log more than once");
  const missing = ids.filter((id) => !got.includes(id));
  assert.deepEqual(missing, [], `${missing.length} event(s) missing from the log`);
  assert.deepEqual(got, ids, "the log holds other events, or holds them out of order");
  assert.deepEqual(entries.map((e) => e.event!.step), ids.map((_, i) => i + 1), "steps have gaps");
  const first = entries[0]!.stamp!.logIndex;
  assert.deepEqual(entries.map((e) => e.stamp!.logIndex), entries.map((_, i) => first + BigInt(i)), "log indexes have gaps");
  return entries;
}

test("SIGKILL mid-session: after the restart every event is in the log exactly once, with no gaps", async () => {
  const server = await TestServer.start();
  const writer = server.client("agent", { onDeliveryError: () => {} });
  const reader = server.client("auditor");
  try {
    const s = await writer.startSession({});
    const ids = [s.startEventId];
    for (let i = 0; i < 300; i++) ids.push(await s.reasoning({ thought: `before ${i}` }));
    await writer.flush({ timeoutMs: 10_000 });
    const acked = writer.stats().delivered;

    // A burst, then the crash while part of it is sent and unanswered.
    for (let i = 0; i < 2000; i++) ids.push(await s.toolCall({ toolName: "t", arguments: { i } }));
    await until("part of the burst to be answered", () => writer.stats().delivered > acked + 50);
    const atCrash = writer.stats();
    await server.kill();
    assert.ok(atCrash.unacknowledged > 0, "every event was answered before the crash: the test proves nothing");

    // Logging goes on while the server is down, without waiting for it.
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) ids.push(await s.reasoning({ thought: `during ${i}` }));
    ids.push(await s.end());
    assert.ok(performance.now() - t0 < 2_000, "logging waited for the server");
    await delay(200);
    await server.restart();
    await writer.flush({ timeoutMs: 20_000 });

    const stats = writer.stats();
    assert.equal(stats.delivered, ids.length, "every event has a receipt");
    assert.equal(stats.rejected, 0);
    assert.equal(stats.unacknowledged, 0);
    assert.ok(stats.retries >= 1, "the stream was never retried");
    assert.ok(stats.resent >= 1, "no event was resent");
    await assertTrail(reader, s.id, ids);
  } finally {
    await writer.close({ timeoutMs: 5_000 });
    await reader.close({ timeoutMs: 5_000 });
    await server.dispose();
  }
});

test("SIGTERM while events stream: the graceful shutdown loses nothing and duplicates nothing", async () => {
  const server = await TestServer.start();
  const writer = server.client("agent", { onDeliveryError: () => {} });
  const reader = server.client("auditor");
  try {
    const s = await writer.startSession({});
    const ids = [s.startEventId];
    let stop = false;
    const logging = (async () => {
      while (!stop) {
        ids.push(await s.output({ text: `n${ids.length}` }));
        if (ids.length % 20 === 0) await delay(1);
      }
    })();
    await until("events to flow", () => writer.stats().delivered > 200);
    await server.stop();
    await server.restart();
    const atRestart = writer.stats().delivered;
    await until("events to flow again", () => writer.stats().delivered > atRestart + 200);
    stop = true;
    await logging;
    ids.push(await s.end());
    await writer.flush({ timeoutMs: 20_000 });
    assert.equal(writer.stats().delivered, ids.length);
    await assertTrail(reader, s.id, ids);
  } finally {
    await writer.close({ timeoutMs: 5_000 });
    await reader.close({ timeoutMs: 5_000 });
    await server.dispose();
  }
});

/** A server that has been stopped, so that a client's events pile up until it restarts. */
async function stoppedServer(): Promise<TestServer> {
  const server = await TestServer.start();
  await server.stop();
  return server;
}

test('onFull "drop": calls never wait; events past the buffer are dropped and counted', async () => {
  const server = await stoppedServer();
  const writer = server.client("agent", { delivery: { bufferSize: 5, onFull: "drop" }, onDeliveryError: () => {} });
  const reader = server.client("auditor");
  try {
    const t0 = performance.now();
    const s = await writer.startSession({});
    const ids = [s.startEventId];
    for (let i = 0; i < 9; i++) ids.push(await s.output({ text: `${i}` }));
    assert.ok(performance.now() - t0 < 500, "a call waited");
    const stats = writer.stats();
    assert.equal(stats.logged, 5);
    assert.equal(stats.dropped, 5);
    assert.equal(stats.unacknowledged, 5);
    assert.equal(s.step, 10, "dropped events still use their steps, so the trail shows the gap");
    await server.restart();
    await writer.flush({ timeoutMs: 20_000 });
    assert.equal(writer.stats().delivered, 5);
    await assertTrail(reader, s.id, ids.slice(0, 5));
  } finally {
    await writer.close({ timeoutMs: 5_000 });
    await reader.close({ timeoutMs: 5_000 });
    await server.dispose();
  }
});

test('onFull "block": calls wait for room, in order, and nothing is lost', async () => {
  const server = await stoppedServer();
  const writer = server.client("agent", { delivery: { bufferSize: 3, onFull: "block" }, onDeliveryError: () => {} });
  const reader = server.client("auditor");
  try {
    const s: Session = await writer.startSession({});
    const ids = [s.startEventId, await s.output({ text: "1" }), await s.output({ text: "2" })];
    let resolved = 0;
    const blocked = [s.output({ text: "3" }), s.output({ text: "4" })].map((p) => p.then((id) => (resolved++, id)));
    await delay(300);
    assert.equal(resolved, 0, "a call resolved while the buffer was full");
    assert.equal(writer.stats().waiting, 2);
    assert.equal(writer.stats().dropped, 0);
    await server.restart();
    ids.push(...(await Promise.all(blocked)));
    ids.push(await s.end());
    await writer.flush({ timeoutMs: 20_000 });
    assert.equal(writer.stats().delivered, 6);
    await assertTrail(reader, s.id, ids);
  } finally {
    await writer.close({ timeoutMs: 5_000 });
    await reader.close({ timeoutMs: 5_000 });
    await server.dispose();
  }
});

test("close with a timeout while the server is away abandons what is left, and says how much", async () => {
  const server = await stoppedServer();
  const writer = server.client("agent", { delivery: { bufferSize: 2 }, onDeliveryError: () => {} });
  try {
    const s = await writer.startSession({});
    await s.output({ text: "1" });
    const waiting = s.output({ text: "2" });
    await assert.rejects(writer.flush({ timeoutMs: 100 }), (e: unknown) => {
      assert.ok(e instanceof DeliveryTimeoutError);
      assert.equal(e.unacknowledged, 3);
      assert.match(e.message, /^3 event\(s\) not acknowledged by the server at 127\.0\.0\.1:\d+ within 100 ms \(delivery goes on\); the last attempt failed: .*ECONNREFUSED/);
      return true;
    });
    await assert.rejects(writer.close({ timeoutMs: 200 }), (e: unknown) => e instanceof DeliveryTimeoutError && e.unacknowledged === 3 && /they are not in the log/.test(e.message));
    await assert.rejects(waiting, ClientClosedError);
    assert.equal(writer.stats().abandoned, 3);
    await assert.rejects(s.output({ text: "after close" }), ClientClosedError);
    await assert.rejects(writer.startSession({}), ClientClosedError);
  } finally {
    await writer.close().catch(() => {});
    await server.dispose();
  }
});

test("a stream refused for good (a wrong key) rejects the waiting events at once, and close says so", async () => {
  const server = await TestServer.start();
  const seen: RejectedEvent[] = [];
  const writer = server.client("agent", { apiKey: "at_0000000000000000_not-a-key", onRejected: (r) => seen.push(r), onDeliveryError: () => {} });
  try {
    const t0 = performance.now();
    await writer.withSession({}, async (s) => {
      await s.output({ text: "nowhere to go" });
    });
    await assert.rejects(writer.close(), (e: unknown) => {
      assert.ok(e instanceof DeliveryError && !(e instanceof DeliveryTimeoutError), String(e));
      assert.equal(e.rejected, 3);
      assert.match(e.message, /^3 events were refused \(not in the log\); the first, event \S+ \(sessionStart\): UNAUTHENTICATED: /);
      return true;
    });
    assert.ok(performance.now() - t0 < 5_000, "a refused stream was retried");
    assert.deepEqual(seen.map((r) => r.code), [Code.Unauthenticated, Code.Unauthenticated, Code.Unauthenticated]);
    assert.equal(writer.stats().rejected, 3);
  } finally {
    await server.dispose();
  }
});

test("tail follows the log and resumes after a restart without skipping or repeating", async () => {
  const server = await TestServer.start();
  const writer = server.client("agent");
  const reader = server.client("auditor");
  const ac = new AbortController();
  try {
    const s = await writer.startSession({});
    const ids = [s.startEventId];
    for (let i = 0; i < 5; i++) ids.push(await s.output({ text: `${i}` }));
    await writer.flush({ timeoutMs: 10_000 });

    const seen: string[] = [];
    const caughtUp: bigint[] = [];
    const tailing = (async () => {
      for await (const e of reader.tail({ sessionId: s.id }, { signal: ac.signal, onCaughtUp: (n) => caughtUp.push(n) })) {
        seen.push(e.event!.eventId);
      }
    })();
    await until("the tail to catch up", () => seen.length === 6 && caughtUp.length === 1);
    for (let i = 0; i < 5; i++) ids.push(await s.output({ text: `live ${i}` }));
    await until("live events", () => seen.length === 11);

    await server.stop();
    await server.restart();
    for (let i = 0; i < 5; i++) ids.push(await s.output({ text: `after restart ${i}` }));
    ids.push(await s.end());
    await writer.flush({ timeoutMs: 20_000 });
    await until("events after the restart", () => seen.length >= ids.length);
    await delay(100);
    ac.abort();
    await tailing;
    assert.deepEqual(seen, ids);
    assert.ok(caughtUp.length >= 2, "the tail did not resume with a new stream");
  } finally {
    ac.abort();
    await writer.close({ timeoutMs: 5_000 });
    await reader.close({ timeoutMs: 5_000 });
    await server.dispose();
  }
});

test("a burst logged before the stream's headers come goes out in batched frames", async () => {
  const server = await TestServer.start();
  const writer = server.client("agent");
  try {
    // No flush first: the stream opens with the burst waiting, and its
    // headers come only with the answer to its first request.
    const s = await writer.startSession({});
    const pending: Promise<string>[] = [];
    for (let i = 0; i < 1200; i++) pending.push(s.output({ text: `event ${i}` }));
    await Promise.all(pending);
    await writer.flush({ timeoutMs: 30_000 });
    const stats = writer.stats();
    assert.equal(stats.delivered, 1201);
    // The first alone, then frames of up to 256: 6 requests.
    assert.ok(stats.requests <= 12, `${stats.requests} requests for 1201 events: want the first alone, then frames of up to 256`);
  } finally {
    await writer.close({ timeoutMs: 5_000 });
    await server.dispose();
  }
});

test("a burst goes out in batched frames, answered event by event", async () => {
  const server = await TestServer.start();
  const seen: RejectedEvent[] = [];
  const writer = server.client("agent", { onRejected: (r) => seen.push(r) });
  const reader = server.client("auditor");
  try {
    const s = await writer.startSession({});
    await writer.flush({ timeoutMs: 20_000 }); // the stream is open: its headers are in
    const ids = [s.startEventId];
    const pending: Promise<string>[] = [];
    for (let i = 0; i < 600; i++) pending.push(s.output({ text: `event ${i}` }));
    // The server refuses events from more than --clock-skew in the future.
    const future = s.output({ text: "from the future", occurredAt: Date.now() + 24 * 3600_000 });
    for (let i = 600; i < 1200; i++) pending.push(s.output({ text: `event ${i}` }));
    const sent = await Promise.all(pending);
    const bad = await future;
    ids.push(...sent.slice(0, 600), ...sent.slice(600));
    // flush reports the refusal (once), naming the event and why.
    await assert.rejects(writer.flush({ timeoutMs: 30_000 }), (e: unknown) => {
      assert.ok(e instanceof DeliveryError && !(e instanceof DeliveryTimeoutError), String(e));
      assert.equal(e.rejected, 1);
      assert.match(e.message, new RegExp(`event ${bad} \\(output\\): INVALID_ARGUMENT: event\\.occurred_at`));
      return true;
    });
    const stats = writer.stats();
    assert.equal(stats.delivered, 1201);
    assert.equal(stats.rejected, 1);
    assert.ok(stats.requests <= 1202 / 4, `${stats.requests} requests for 1202 events: want batched frames`);
    assert.deepEqual(seen.map((r) => [r.eventId, r.code, r.field]), [[bad, Code.InvalidArgument, "event.occurred_at"]]);
    const entries = await collect(reader.query({ sessionId: s.id }));
    assert.deepEqual(entries.map((e) => e.event!.eventId), ids, "every event but the refused one, in order");
  } finally {
    await writer.close({ timeoutMs: 5_000 });
    await reader.close({ timeoutMs: 5_000 });
    await server.dispose();
  }
});
