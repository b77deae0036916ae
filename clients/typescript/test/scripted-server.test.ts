// Delivery against a scripted AppendService, for the answers the real server
// gives only by chance: receipts lost after a commit (answered as duplicates
// on the resend), an UNAVAILABLE rejection, an answer for the wrong event.
// The script is an in-process gRPC server made with connect-node's own
// adapter; it stores events by id as the real server does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  AgentTrailClient,
  AppendResponseSchema,
  AppendService,
  ReceiptSchema,
} from "../src/index.js";
import type { AppendRequest, AppendResponse, RejectedEvent, RetryInfo } from "../src/index.js";

/** What the script decides for the n-th request (from 0) of the s-th stream (from 0). */
type Step = (ctx: { stream: number; request: number; eventId: string; stored: boolean }) =>
  | "answer" // store (if new) and answer with a receipt, duplicate when stored before
  | "store-silently" // store, answer nothing
  | "break" // end the stream with UNAVAILABLE
  | "unavailable" // answer with an UNAVAILABLE rejection, storing nothing
  | "wrong-id"; // answer with a receipt for another event id

interface Scripted {
  readonly address: string;
  /** Event ids in the order stored, each once. */
  readonly log: string[];
  close(): Promise<void>;
}

async function scriptedServer(step: Step): Promise<Scripted> {
  const log: string[] = [];
  const index = new Map<string, number>();
  let streams = 0;
  const receipt = (eventId: string, duplicate: boolean): AppendResponse =>
    create(AppendResponseSchema, {
      eventId,
      result: { case: "receipt", value: create(ReceiptSchema, { eventId, logIndex: BigInt(index.get(eventId)!), duplicate }) },
    });
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(AppendService, {
        async *append(requests: AsyncIterable<AppendRequest>, _ctx: HandlerContext) {
          const stream = streams++;
          let request = 0;
          for await (const req of requests) {
            const eventId = req.event!.eventId;
            const stored = index.has(eventId);
            const store = () => {
              if (!index.has(eventId)) {
                index.set(eventId, log.length);
                log.push(eventId);
              }
            };
            switch (step({ stream, request: request++, eventId, stored })) {
              case "answer":
                store();
                yield receipt(eventId, stored);
                break;
              case "store-silently":
                store();
                break;
              case "break":
                throw new ConnectError("scripted crash", Code.Unavailable);
              case "unavailable":
                yield create(AppendResponseSchema, {
                  eventId,
                  result: { case: "rejection", value: { code: Code.Unavailable, message: "shutting down" } },
                });
                break;
              case "wrong-id":
                store();
                yield create(AppendResponseSchema, { eventId: "someone-else", result: { case: "receipt", value: { eventId: "someone-else" } } });
                break;
            }
          }
        },
      }),
  });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Logs n events through a client of the scripted server and flushes; returns their ids, rejections and retries. */
async function deliver(srv: Scripted, n: number) {
  const rejected: RejectedEvent[] = [];
  const retries: RetryInfo[] = [];
  const client = new AgentTrailClient({
    address: srv.address,
    agentId: "scripted",
    delivery: { retry: { initialDelayMs: 5, maxDelayMs: 20 } },
    onRejected: (r) => rejected.push(r),
    onDeliveryError: (_e, r) => retries.push(r),
  });
  try {
    const s = await client.startSession({});
    const ids = [s.startEventId];
    for (let i = 1; i < n; i++) ids.push(await s.output({ text: `${i}` }));
    await client.flush({ timeoutMs: 10_000 });
    return { ids, rejected, retries, stats: client.stats() };
  } finally {
    await client.close({ timeoutMs: 5_000 });
  }
}

test("receipts lost after a commit: the resend gets duplicate receipts, and each id is stored once", async () => {
  // First stream: answer two events, store three more without answering,
  // then crash. Later streams answer everything.
  const srv = await scriptedServer(({ stream, request }) =>
    stream > 0 || request < 2 ? "answer" : request < 5 ? "store-silently" : "break",
  );
  try {
    const { ids, rejected, retries, stats } = await deliver(srv, 20);
    assert.deepEqual(srv.log, ids, "the server stored other events, or some twice, or out of order");
    assert.equal(stats.delivered, 20);
    assert.equal(stats.duplicates, 3, "the three stored events answered as duplicates");
    assert.ok(stats.resent >= 4, `resent ${stats.resent}: at least the three stored and the one that broke the stream`);
    assert.equal(stats.retries, 1);
    assert.deepEqual(rejected, []);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.attempt, 1);
  } finally {
    await srv.close();
  }
});

test("an UNAVAILABLE rejection is resent, not reported", async () => {
  let refused = false;
  const srv = await scriptedServer(({ request }) => {
    if (request === 3 && !refused) {
      refused = true;
      return "unavailable";
    }
    return "answer";
  });
  try {
    const { ids, rejected, stats } = await deliver(srv, 10);
    assert.deepEqual(rejected, []);
    assert.equal(stats.rejected, 0);
    assert.equal(stats.delivered, 10);
    assert.equal(stats.retries, 1);
    // The events sent behind the refused one were stored before it was
    // resent: each once, though not in the order logged (the real server
    // stores nothing more after it refuses one with UNAVAILABLE).
    assert.deepEqual([...srv.log].sort(), [...ids].sort());
    assert.equal(srv.log.length, ids.length);
  } finally {
    await srv.close();
  }
});

test("an answer for another event breaks the stream, and the resend sets it right", async () => {
  let lied = false;
  const srv = await scriptedServer(({ request }) => {
    if (request === 2 && !lied) {
      lied = true;
      return "wrong-id";
    }
    return "answer";
  });
  const errors: string[] = [];
  const client = new AgentTrailClient({
    address: srv.address,
    agentId: "scripted",
    delivery: { retry: { initialDelayMs: 5 } },
    onDeliveryError: (e) => errors.push(e.message),
  });
  try {
    const s = await client.startSession({});
    const ids = [s.startEventId];
    for (let i = 1; i < 6; i++) ids.push(await s.output({ text: `${i}` }));
    await client.flush({ timeoutMs: 10_000 });
    assert.deepEqual(srv.log, ids);
    assert.equal(client.stats().delivered, 6);
    assert.match(errors[0]!, new RegExp(`answered event someone-else where ${ids[2]} was expected`));
  } finally {
    await client.close({ timeoutMs: 5_000 });
    await srv.close();
  }
});
