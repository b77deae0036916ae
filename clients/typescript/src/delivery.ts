// Background delivery of events over one Append stream: a bounded buffer,
// batched sends, and retries that resend every unanswered event with its
// original id until the server answers it.
//
// Every event accepted is in exactly one place until it is answered:
// waiting for room (onFull "block"), pending (buffered, not yet sent on the
// current stream) or in flight (sent on the current stream). The server
// answers the requests of a stream one by one, in order, so the answer at
// the head of the responses is always the answer to the head of the
// in-flight queue. When a stream breaks, its in-flight events go back to the
// front of pending, in order, and the next stream sends them again: the
// server answers an event it already stored with its original receipt
// (duplicate=true), so resending is safe, and answers still arrive in the
// order events were accepted. flush() therefore waits for a count.
//
// Batched frames: once the stream's response headers carry
// "agenttrail-append-batch" (the most events the server takes in one
// request), a batch of pending events goes out as one request (events
// instead of event), answered by one response whose results hold one
// answer per event, in order; each is applied as a single answer would be.
// The headers come with the first response, so a stream's first request
// goes alone and the sender waits for its answer (at most
// FIRST_ANSWER_WAIT_MS) before it sends more: what queues up meanwhile goes
// out in frames. The wait delays no receipt, since the server answers in
// request order. With servers that predate batched frames each event goes
// in its own request.
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import type { DescMethodBiDiStreaming, Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Transport } from "@connectrpc/connect";
import { AppendService } from "./gen/agenttrail/v1/append_service_pb.js";
import { RejectionSchema } from "./gen/agenttrail/v1/append_service_pb.js";
import { EventSchema } from "./gen/agenttrail/v1/event_pb.js";
import type { Event } from "./gen/agenttrail/v1/event_pb.js";
import { Deque } from "./deque.js";
import { encodeMessage } from "./encode.js";
import { ClientClosedError, DeliveryError, DeliveryTimeoutError } from "./errors.js";

/**
 * What a session call does when the buffer holds bufferSize unanswered
 * events:
 *
 * - "block": the call's promise resolves only once there is room. Awaiting
 *   every call slows the agent down to the pace the server takes events,
 *   and nothing is lost. Calls not awaited queue up in order behind the
 *   buffer (each holds its event in memory).
 * - "drop": the event is discarded at once and counted in
 *   DeliveryStats.dropped; the call's promise resolves as usual. The agent
 *   never waits, and the trail has gaps, which the step numbers reveal.
 */
export type FullPolicy = "block" | "drop";

/** Exponential backoff with jitter between attempts to reach the server. */
export interface RetryOptions {
  /** Delay before the first retry, in milliseconds. Default 100. */
  readonly initialDelayMs?: number;
  /** Largest delay between retries, in milliseconds. Default 10000. */
  readonly maxDelayMs?: number;
  /** Factor by which the delay grows after each failed attempt. Default 2. */
  readonly multiplier?: number;
  /**
   * Fraction of each delay that is random, from 0 to 1: a delay d becomes a
   * uniform draw from [d * (1 - jitter), d]. Default 0.5. Jitter keeps many
   * clients that lost one server from coming back all at once.
   */
  readonly jitter?: number;
}

/** How events are buffered and delivered. */
export interface DeliveryOptions {
  /**
   * Most events that may await the server's answer (buffered or sent and
   * unanswered) before onFull applies. Default 10000.
   */
  readonly bufferSize?: number;
  /** What a session call does when the buffer is full. Default "block". */
  readonly onFull?: FullPolicy;
  /** Most events sent in one batch, back to back, before the sender yields to other work. Default 256. */
  readonly batchSize?: number;
  /**
   * Most events sent on the stream and not yet answered. Default 1024, the
   * server's default per-stream window (serve --in-flight): sending more
   * gains nothing and, when the stream breaks, means more to resend.
   */
  readonly maxInFlight?: number;
  /**
   * How long, in milliseconds, a stream with nothing to send stays open
   * before the client ends it. Default 2000. While a stream is open the
   * process does not exit on its own; close() ends it at once.
   */
  readonly idleStreamMs?: number;
  /**
   * Largest encoded event sent, in bytes, matching the server's
   * --max-message-size (default 4 MiB). A larger event is rejected by the
   * client, since the server would end the whole stream over it.
   */
  readonly maxEventBytes?: number;
  /** Backoff between attempts to reach the server. */
  readonly retry?: RetryOptions;
}

/**
 * An event the server (or, for an oversized event, the client) refused.
 * Rejections are final: the event is not sent again.
 */
export interface RejectedEvent {
  /** The event's id. */
  readonly eventId: string;
  /** The session the event belongs to. */
  readonly sessionId: string;
  /** Which payload the event carries, such as "toolCall". */
  readonly kind: string;
  /** The gRPC status code, such as Code.InvalidArgument (3). */
  readonly code: Code;
  /** What was wrong, from the server. It never repeats the event's content. */
  readonly message: string;
  /** Path of the offending field, such as "event.tool_call.tool_name", when one field is at fault. */
  readonly field: string;
}

/** Facts about a failed attempt to deliver, passed to onDeliveryError. */
export interface RetryInfo {
  /** Consecutive failed attempts so far, from 1. */
  readonly attempt: number;
  /** Milliseconds until the next attempt. */
  readonly delayMs: number;
  /** Events awaiting the server's answer, all of which the next attempt resends or sends. */
  readonly unacknowledged: number;
}

/** Counters of delivery since the client was made. */
export interface DeliveryStats {
  /** Events accepted for delivery (including those waiting for room). */
  readonly logged: number;
  /** Events the server confirmed durable, with a receipt. */
  readonly delivered: number;
  /** Of delivered: receipts marked duplicate, for events sent again after their first receipt was lost. */
  readonly duplicates: number;
  /** Events refused, by the server or for their size (see onRejected). */
  readonly rejected: number;
  /** Events discarded because the buffer was full and onFull is "drop". */
  readonly dropped: number;
  /** Events given up when close() ran out of time. */
  readonly abandoned: number;
  /** Events awaiting the server's answer now: buffered or in flight. */
  readonly unacknowledged: number;
  /** Calls waiting for room now (onFull "block"). */
  readonly waiting: number;
  /** Events sent again after a stream broke before they were answered. */
  readonly resent: number;
  /** Streams that broke and were retried. */
  readonly retries: number;
  /** Append requests sent: one per event, or one per batched frame of several events. */
  readonly requests: number;
}

/** The callbacks through which delivery reports what the caller cannot await. */
export interface DeliveryHooks {
  onRejected(rejection: RejectedEvent): void;
  onDeliveryError(error: ConnectError, retry: RetryInfo): void;
}

// AppendRequest with its events as bytes: the same wire encoding (field 1,
// event, and field 2, events, length-delimited), so each event is encoded
// once, measured exactly, and resent without encoding it again.
type RawAppendRequest = Message<"agenttrail.client.internal.RawAppendRequest"> & {
  event: Uint8Array;
  events: Uint8Array[];
};
// AppendResponse with its receipt and rejection as bytes (the same wire
// encoding): the delivery loop needs a receipt's duplicate flag only, and
// decoding every receipt (log index, leaf hash, time: two 64-bit integers
// and a copy) cost it more than the rest of an answer; a rejection, rare,
// is decoded when it comes.
type RawAppendResponse = Message<"agenttrail.client.internal.RawAppendResponse"> & {
  eventId: string;
  result: { case: "receipt"; value: Uint8Array } | { case: "rejection"; value: Uint8Array } | { case: undefined; value?: undefined };
  results: RawAppendResponse[];
};
const BYTES = FieldDescriptorProto_Type.BYTES;
const OPTIONAL = FieldDescriptorProto_Label.OPTIONAL;
const REPEATED = FieldDescriptorProto_Label.REPEATED;
const rawRegistry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "agenttrail/client/internal/raw_append.proto",
    package: "agenttrail.client.internal",
    syntax: "proto3",
    messageType: [
      {
        name: "RawAppendRequest",
        field: [
          { name: "event", jsonName: "event", number: 1, type: BYTES, label: OPTIONAL },
          { name: "events", jsonName: "events", number: 2, type: BYTES, label: REPEATED },
        ],
      },
      {
        name: "RawAppendResponse",
        field: [
          { name: "event_id", jsonName: "eventId", number: 1, type: FieldDescriptorProto_Type.STRING, label: OPTIONAL },
          { name: "receipt", jsonName: "receipt", number: 2, type: BYTES, label: OPTIONAL, oneofIndex: 0 },
          { name: "rejection", jsonName: "rejection", number: 3, type: BYTES, label: OPTIONAL, oneofIndex: 0 },
          {
            name: "results",
            jsonName: "results",
            number: 4,
            type: FieldDescriptorProto_Type.MESSAGE,
            typeName: ".agenttrail.client.internal.RawAppendResponse",
            label: REPEATED,
          },
        ],
        oneofDecl: [{ name: "result" }],
      },
    ],
  }),
  () => undefined,
);
const RawAppendRequestSchema = rawRegistry.getMessage(
  "agenttrail.client.internal.RawAppendRequest",
) as GenMessage<RawAppendRequest>;
const RawAppendResponseSchema = rawRegistry.getMessage(
  "agenttrail.client.internal.RawAppendResponse",
) as GenMessage<RawAppendResponse>;
const rawAppend: DescMethodBiDiStreaming<typeof RawAppendRequestSchema, typeof RawAppendResponseSchema> = {
  ...AppendService.method.append,
  input: RawAppendRequestSchema,
  output: RawAppendResponseSchema,
};

/** Receipt.duplicate (field 5, a varint) of an encoded Receipt, skipping the other fields. */
function receiptDuplicate(b: Uint8Array): boolean {
  let i = 0;
  let duplicate = false;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= b.length) throw new StreamBroken("the server sent a malformed receipt");
      const c = b[i++]!;
      if (shift < 28) v |= (c & 0x7f) << shift;
      else if (shift < 53) v += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) return v;
      shift += 7;
    }
  };
  while (i < b.length) {
    const tag = varint();
    switch (tag & 7) {
      case 0: {
        const v = varint();
        if (tag >>> 3 === 5) duplicate = v !== 0;
        break;
      }
      case 1:
        i += 8;
        break;
      case 2: {
        const n = varint(); // before i is read: `i += varint()` would read i first
        i += n;
        break;
      }
      case 5:
        i += 4;
        break;
      default:
        throw new StreamBroken("the server sent a malformed receipt");
    }
  }
  if (i !== b.length) throw new StreamBroken("the server sent a malformed receipt");
  return duplicate;
}

// Overhead of the AppendRequest around an event and of gRPC's framing.
const FRAME_OVERHEAD = 16;

/** The response header by which a server says it takes batched Append frames, and how many events one may hold. */
export const BATCH_HEADER = "agenttrail-append-batch";

/** The most events the client sends in one batched frame. */
export const MAX_FRAME_EVENTS = 256;

/**
 * The longest the sender waits, after a stream's first request, for its
 * answer (which brings the batch header) before it sends more: a bound on
 * the wait for a server that would hold that answer back.
 */
export const FIRST_ANSWER_WAIT_MS = 2_000;

interface Item {
  readonly event: Event;
  readonly seq: number;
  /** The encoded event, made when it is first sent. */
  bytes?: Uint8Array;
  /** Times sent. */
  sends: number;
  /** Rejected by the client (too large to send): never sent, reported once. */
  rejected?: boolean;
}

interface Waiter {
  readonly item: Item;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

interface FlushWaiter {
  readonly target: number;
  readonly resolve: () => void;
}

/** A promise that can be resolved from outside, once. */
class Wake {
  private resolveFn: (() => void) | undefined;

  /** Resolves the pending wait, if any. */
  fire(): void {
    const r = this.resolveFn;
    this.resolveFn = undefined;
    r?.();
  }

  /** Waits for fire, or for timeoutMs when given. */
  wait(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.resolveFn = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => this.fire(), timeoutMs);
      }
    });
  }
}

/** A failure that ends one stream and is retried with the events unanswered. */
class StreamBroken extends Error {}

// Stream statuses no retry can fix (a wrong key, a role that may not
// append): they reject every event waiting, instead of retrying forever.
const FATAL = new Set<Code>([
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.Unimplemented,
  Code.InvalidArgument,
  Code.FailedPrecondition,
  Code.NotFound,
  Code.AlreadyExists,
  Code.OutOfRange,
]);

/** How many rejections a DeliveryError carries. */
const RAISED_REJECTIONS = 10;

const DEFAULTS = {
  bufferSize: 10_000,
  onFull: "block" as FullPolicy,
  batchSize: 256,
  maxInFlight: 1024,
  idleStreamMs: 2_000,
  maxEventBytes: 4 << 20,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  multiplier: 2,
  jitter: 0.5,
};

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`delivery.${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function nonNegative(name: string, v: number | undefined, dflt: number, max = Infinity): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > max) {
    throw new RangeError(`delivery.${name} must be a finite number from 0 to ${max}, got ${String(v)}`);
  }
  return v;
}

/** Delivers events over one Append stream at a time, in the background. */
export class Delivery {
  private readonly bufferSize: number;
  private readonly onFull: FullPolicy;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly idleStreamMs: number;
  private readonly maxEventBytes: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;

  private readonly pending = new Deque<Item>();
  private readonly inflight = new Deque<Item>();
  /** The requests in flight on the current stream, oldest first: 0 for one event, n for a batched frame of n. */
  private readonly frames = new Deque<number>();
  /** The most events per request on the current stream: 1 until its response headers say more. */
  private frameMax = 1;
  /** The current stream's response headers have come (with its first answer), or the stream has ended. */
  private headersSeen = false;
  private readonly waiters = new Deque<Waiter>();
  private flushWaiters: FlushWaiter[] = [];
  private readonly wake = new Wake();

  private issued = 0; // seq of the last event accepted
  private done = 0; // events answered (in seq order) or abandoned
  private running: Promise<void> | undefined;
  private closing = false;
  /** Aborted when close() gives up: ends the current stream and any backoff sleep. */
  private readonly abandon = new AbortController();

  private counts = { logged: 0, delivered: 0, duplicates: 0, rejected: 0, dropped: 0, abandoned: 0, resent: 0, retries: 0, requests: 0 };
  /** Rejections no flush or close has reported yet: how many, and the first few. */
  private unraised = 0;
  private unraisedFirst: RejectedEvent[] = [];

  constructor(
    private readonly transport: Transport,
    private readonly hooks: DeliveryHooks,
    options: DeliveryOptions = {},
    /** Names the server in messages, such as "the server at 127.0.0.1:7700". */
    private readonly server = "the server",
  ) {
    this.bufferSize = positiveInt("bufferSize", options.bufferSize, DEFAULTS.bufferSize);
    const onFull = options.onFull ?? DEFAULTS.onFull;
    if (onFull !== "block" && onFull !== "drop") {
      throw new RangeError(`delivery.onFull must be "block" or "drop", got ${JSON.stringify(onFull)}`);
    }
    this.onFull = onFull;
    this.batchSize = positiveInt("batchSize", options.batchSize, DEFAULTS.batchSize);
    this.maxInFlight = positiveInt("maxInFlight", options.maxInFlight, DEFAULTS.maxInFlight);
    this.idleStreamMs = nonNegative("idleStreamMs", options.idleStreamMs, DEFAULTS.idleStreamMs);
    this.maxEventBytes = positiveInt("maxEventBytes", options.maxEventBytes, DEFAULTS.maxEventBytes);
    const r = options.retry ?? {};
    this.initialDelayMs = nonNegative("retry.initialDelayMs", r.initialDelayMs, DEFAULTS.initialDelayMs);
    this.maxDelayMs = nonNegative("retry.maxDelayMs", r.maxDelayMs, DEFAULTS.maxDelayMs);
    this.multiplier = nonNegative("retry.multiplier", r.multiplier, DEFAULTS.multiplier);
    if (this.multiplier < 1) throw new RangeError(`delivery.retry.multiplier must be at least 1, got ${this.multiplier}`);
    this.jitter = nonNegative("retry.jitter", r.jitter, DEFAULTS.jitter, 1);
  }

  /** A snapshot of the counters. */
  stats(): DeliveryStats {
    return {
      ...this.counts,
      unacknowledged: this.pending.length + this.inflight.length,
      waiting: this.waiters.length,
    };
  }

  /**
   * Accepts an event for delivery. Resolves at once when the buffer has
   * room (or the event is dropped under "drop"); under "block" resolves when
   * there is room. Never waits on the network otherwise.
   */
  submit(event: Event): Promise<void> {
    return this.offer(event) ?? Promise.resolve();
  }

  /**
   * submit, without a promise when the event was accepted (or dropped) at
   * once: undefined then, the promise of submit otherwise. It spares the
   * caller of every event a promise.
   */
  offer(event: Event): Promise<void> | undefined {
    if (this.closing) {
      return Promise.reject(new ClientClosedError("the client is closed: no more events are accepted"));
    }
    const room = this.waiters.length === 0 && this.pending.length + this.inflight.length < this.bufferSize;
    if (!room && this.onFull === "drop") {
      this.counts.dropped++;
      return undefined;
    }
    const item: Item = { event, seq: ++this.issued, sends: 0 };
    this.counts.logged++;
    if (room) {
      this.pending.push(item);
      this.kickSoon();
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ item, resolve, reject });
    });
  }

  /**
   * Resolves when every event accepted before the call has been answered
   * (receipt or rejection). Rejects with DeliveryTimeoutError after
   * timeoutMs, when given (delivery goes on regardless), and with
   * DeliveryError when events were rejected since the last flush or close
   * that reported them.
   */
  async flush(timeoutMs?: number): Promise<void> {
    await this.answered(timeoutMs, "delivery goes on");
    this.raiseRejections();
  }

  /** Rejects with DeliveryError for the rejections not yet reported, if any. */
  private raiseRejections(): void {
    const { rejected, rejections } = this.takeUnraised();
    if (rejected > 0) {
      throw new DeliveryError(rejectedText(rejected, rejections), { rejected, rejections, unacknowledged: 0 });
    }
  }

  private takeUnraised(): { rejected: number; rejections: RejectedEvent[] } {
    const taken = { rejected: this.unraised, rejections: this.unraisedFirst };
    this.unraised = 0;
    this.unraisedFirst = [];
    return taken;
  }

  /**
   * Resolves when every event accepted before the call has been answered;
   * rejects with DeliveryTimeoutError (saying what became of the events:
   * fate) after timeoutMs, when given.
   */
  private answered(timeoutMs: number | undefined, fate: string): Promise<void> {
    const target = this.issued;
    if (this.done >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: FlushWaiter = {
        target,
        resolve: () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve();
        },
      };
      this.flushWaiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.flushWaiters = this.flushWaiters.filter((w) => w !== waiter);
          const left = target - this.done;
          const { rejected, rejections } = this.takeUnraised();
          reject(
            new DeliveryTimeoutError(
              `${left} event(s) not acknowledged by ${this.server} within ${timeoutMs} ms (${fate})` +
                (this.lastError ? `; the last attempt failed: ${this.lastError.message}` : "") +
                (rejected > 0 ? `; ${rejectedText(rejected, rejections)}` : ""),
              { rejected, rejections, unacknowledged: left },
            ),
          );
        }, timeoutMs);
      }
    });
  }

  /**
   * Stops accepting events, waits until every accepted event is answered,
   * and ends the stream. With timeoutMs, gives up after that long: the
   * events still unanswered are abandoned (counted in stats().abandoned) and
   * DeliveryTimeoutError says how many.
   */
  async close(timeoutMs?: number): Promise<void> {
    this.closing = true;
    this.kick();
    try {
      await this.answered(timeoutMs, "they are not in the log");
    } catch (e) {
      this.giveUp();
      await this.running;
      throw e;
    }
    await this.running;
    this.raiseRejections();
  }

  /** The error that last broke a stream, cleared by the next answer from the server. */
  private lastError: ConnectError | undefined;

  /** Abandons every event not yet answered: after close() timed out. */
  private giveUp(): void {
    this.abandon.abort(new ClientClosedError("close() timed out"));
    const left = [...this.inflight.drain(), ...this.pending.drain()];
    const stuck = this.waiters.drain();
    for (const w of stuck) {
      w.reject(new ClientClosedError("the client closed before there was room for this event"));
    }
    const n = left.length + stuck.length;
    this.counts.abandoned += n;
    this.complete(n);
    this.wake.fire();
  }

  private kickScheduled = false;

  /**
   * Wakes the sender once the caller's turn is over rather than in it, so
   * that its work (encoding, writing) is not done in the caller's microtasks
   * and events logged together go out in one batch.
   */
  private kickSoon(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      this.kick();
    });
  }

  /** Starts the sender if it is not running, and wakes it. */
  private kick(): void {
    if (this.running === undefined) {
      this.running = this.run().finally(() => {
        this.running = undefined;
        // Events accepted while the loop was finishing.
        if (this.pending.length > 0 && !this.abandon.signal.aborted) this.kick();
      });
    }
    this.wake.fire();
  }

  /** Marks n events (the oldest unanswered) answered, and lets waiting calls and flushes go on. */
  private complete(n: number): void {
    this.done += n;
    while (this.waiters.length > 0 && this.pending.length + this.inflight.length < this.bufferSize) {
      const w = this.waiters.shift()!;
      this.pending.push(w.item);
      w.resolve();
    }
    if (this.flushWaiters.length > 0) {
      const ready = this.flushWaiters.filter((w) => w.target <= this.done);
      if (ready.length > 0) {
        this.flushWaiters = this.flushWaiters.filter((w) => w.target > this.done);
        for (const w of ready) w.resolve();
      }
    }
  }

  /** The sender: one stream after another, with backoff after failures, until closed and drained. */
  private async run(): Promise<void> {
    let attempt = 0;
    for (;;) {
      if (this.abandon.signal.aborted) return;
      if (this.pending.length === 0 && this.inflight.length === 0) {
        if (this.closing) return;
        await this.wake.wait();
        continue;
      }
      try {
        await this.stream();
        attempt = 0;
      } catch (e) {
        if (this.abandon.signal.aborted) return;
        const error = ConnectError.from(e);
        if (this.pending.length === 0 && this.inflight.length === 0) {
          // An idle stream ended (such as by a server shutting down):
          // nothing to resend, and the next event opens a new stream.
          attempt = 0;
          continue;
        }
        this.lastError = error;
        for (const item of this.inflight.drain()) this.pending.push(item);
        this.requeueInOrder();
        if (FATAL.has(error.code)) {
          // No retry can succeed: every waiting event is rejected.
          const items = this.pending.drain();
          for (const item of items) {
            if (!item.rejected) this.reject(item, error.code, `the Append stream failed: ${error.rawMessage}`, "");
          }
          this.complete(items.length);
          attempt = 0;
          continue;
        }
        attempt++;
        this.counts.retries++;
        const delayMs = this.backoff(attempt);
        this.report(error, { attempt, delayMs, unacknowledged: this.pending.length });
        await sleep(delayMs, this.abandon.signal);
      }
    }
  }

  // Items in pending are in seq order except right after a failure, when
  // the in-flight ones were appended behind newer ones: sort them back.
  private requeueInOrder(): void {
    const all = this.pending.drain().sort((a, b) => a.seq - b.seq);
    for (const item of all) this.pending.push(item);
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * this.multiplier ** (attempt - 1));
    return Math.round(base * (1 - this.jitter * Math.random()));
  }

  private report(error: ConnectError, retry: RetryInfo): void {
    try {
      this.hooks.onDeliveryError(error, retry);
    } catch (e) {
      process.emitWarning(`agenttrail: the onDeliveryError callback threw: ${String(e)}`, "AgentTrailWarning");
    }
  }

  /** One Append stream: sends pending events and takes their answers until idle, closed or broken. */
  private async stream(): Promise<void> {
    const ac = new AbortController();
    const onAbandon = () => ac.abort(this.abandon.signal.reason);
    this.abandon.signal.addEventListener("abort", onAbandon);
    try {
      this.frameMax = 1;
      this.headersSeen = false;
      const res = await this.transport.stream(rawAppend, ac.signal, undefined, undefined, this.requests(ac.signal));
      const n = Number.parseInt(res.header.get(BATCH_HEADER) ?? "", 10);
      if (Number.isInteger(n) && n > 1) this.frameMax = Math.min(n, MAX_FRAME_EVENTS);
      this.headersSeen = true;
      this.wake.fire();
      for await (const resp of res.message) {
        const frame = this.frames.shift();
        if (frame === undefined) {
          throw new StreamBroken("the server answered more requests than were sent");
        }
        if (frame === 0) {
          this.answer(resp);
        } else if (resp.results.length === frame) {
          for (const r of resp.results) this.answer(r);
        } else if (resp.results.length === 0 && resp.eventId === "" && resp.result.case === "rejection") {
          // The server could not read the frame: every event of it is
          // refused alike.
          for (let i = 0; i < frame; i++) {
            this.answer({ ...resp, eventId: this.inflight.peek()?.event.eventId ?? "" });
          }
        } else {
          throw new StreamBroken(`the server answered a frame of ${frame} events with ${resp.results.length} results`);
        }
        this.wake.fire();
      }
      if (this.inflight.length > 0) {
        throw new StreamBroken(`the stream ended with ${this.inflight.length} event(s) unanswered`);
      }
    } finally {
      this.abandon.signal.removeEventListener("abort", onAbandon);
      // Ends the request generator if it is still waiting.
      ac.abort();
      this.frames.drain();
      this.frameMax = 1;
      this.headersSeen = true;
      this.wake.fire();
    }
  }

  /** Applies one answer to the head of the in-flight queue. */
  private answer(resp: RawAppendResponse): void {
    const item = this.inflight.peek();
    if (item === undefined) {
      throw new StreamBroken("the server answered more events than were sent");
    }
    if (resp.eventId !== item.event.eventId) {
      throw new StreamBroken(`the server answered event ${resp.eventId} where ${item.event.eventId} was expected`);
    }
    this.lastError = undefined;
    const result = resp.result;
    if (result.case === "receipt") {
      this.inflight.shift();
      this.counts.delivered++;
      if (receiptDuplicate(result.value)) this.counts.duplicates++;
    } else if (result.case === "rejection") {
      let rejection;
      try {
        rejection = fromBinary(RejectionSchema, result.value);
      } catch {
        throw new StreamBroken("the server sent a malformed rejection");
      }
      if (rejection.code === Code.Unavailable) {
        // Not stored because the server is going away: send it again
        // later, like an event whose stream broke.
        throw new StreamBroken(`event ${item.event.eventId} not stored: ${rejection.message}`);
      }
      this.inflight.shift();
      this.reject(item, rejection.code, rejection.message, rejection.field);
    } else {
      throw new StreamBroken(`the answer for event ${item.event.eventId} has neither a receipt nor a rejection`);
    }
    this.complete(1 + this.shiftRejected());
  }

  /** Records a final rejection and reports it. */
  private reject(item: Item, code: number, message: string, field: string): void {
    this.counts.rejected++;
    const rejection: RejectedEvent = {
      eventId: item.event.eventId,
      sessionId: item.event.sessionId,
      kind: item.event.payload.case ?? "",
      code: code as Code,
      message,
      field,
    };
    this.unraised++;
    if (this.unraisedFirst.length < RAISED_REJECTIONS) this.unraisedFirst.push(rejection);
    try {
      this.hooks.onRejected(rejection);
    } catch (e) {
      process.emitWarning(`agenttrail: the onRejected callback threw: ${String(e)}`, "AgentTrailWarning");
    }
  }

  /**
   * The requests of one stream: pending events in batches, as the in-flight
   * window allows. Returns (ending the client's side of the stream) when
   * nothing is left to send and the stream has been idle for idleStreamMs,
   * or at once when closing, or when the stream is aborted.
   */
  private async *requests(signal: AbortSignal): AsyncGenerator<RawAppendRequest> {
    let first = true;
    for (;;) {
      while (this.pending.length === 0 || this.inflight.length >= this.maxInFlight) {
        if (signal.aborted) return;
        const empty = this.pending.length === 0 && this.inflight.length === 0;
        if (empty && this.closing) return;
        if (empty) {
          const before = this.issued;
          await this.wake.wait(this.idleStreamMs);
          if (signal.aborted) return;
          if (this.issued === before && this.pending.length === 0 && this.inflight.length === 0) return;
        } else {
          await this.wake.wait();
        }
      }
      let frame: Uint8Array[] = [];
      let frameBytes = 0;
      const flushFrame = (): RawAppendRequest | undefined => {
        if (frame.length === 0) return undefined;
        const req =
          frame.length === 1
            ? create(RawAppendRequestSchema, { event: frame[0] })
            : create(RawAppendRequestSchema, { events: frame });
        this.frames.push(frame.length === 1 ? 0 : frame.length);
        this.counts.requests++;
        frame = [];
        frameBytes = 0;
        return req;
      };
      for (let n = 0; n < this.batchSize && this.pending.length > 0 && this.inflight.length < this.maxInFlight; n++) {
        if (signal.aborted) return;
        const item = this.pending.shift()!;
        if (!item.rejected) {
          item.bytes ??= encodeMessage(EventSchema, item.event);
          if (item.bytes.length + FRAME_OVERHEAD > this.maxEventBytes) {
            item.rejected = true;
            this.reject(
              item,
              Code.ResourceExhausted,
              `the event is ${item.bytes.length} bytes encoded; at most ${this.maxEventBytes - FRAME_OVERHEAD} are sent (delivery.maxEventBytes)`,
              "event",
            );
          }
        }
        if (item.rejected) {
          // Answered by the client; the server never sees it. It waits in
          // the in-flight queue for the answers to the events before it.
          this.inflight.push(item);
          const answered = this.shiftRejected();
          if (answered > 0) {
            this.complete(answered);
            this.wake.fire();
          }
          continue;
        }
        if (item.sends > 0) this.counts.resent++;
        item.sends++;
        if (this.frameMax > 1) {
          // Gather a batched frame of up to frameMax events and about
          // maxEventBytes, sent when full and at the end of the batch.
          if (frame.length > 0 && (frame.length >= this.frameMax || frameBytes + item.bytes!.length + FRAME_OVERHEAD > this.maxEventBytes)) {
            yield flushFrame()!;
            if (signal.aborted) return;
          }
          frame.push(item.bytes!);
          frameBytes += item.bytes!.length + FRAME_OVERHEAD;
          this.inflight.push(item);
          continue;
        }
        this.inflight.push(item);
        this.frames.push(0);
        this.counts.requests++;
        yield create(RawAppendRequestSchema, { event: item.bytes });
        if (first) {
          // The first request goes alone: wait for its answer, whose
          // headers say whether what queues up meanwhile may go in frames.
          first = false;
          const deadline = Date.now() + FIRST_ANSWER_WAIT_MS;
          while (!this.headersSeen && !signal.aborted && Date.now() < deadline) {
            await this.wake.wait(deadline - Date.now());
          }
          if (signal.aborted) return;
          break;
        }
      }
      const last = flushFrame();
      if (last !== undefined) yield last;
      // Let answers and new events in between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Takes the events the client rejected itself off the head of the in-flight queue, and counts them. */
  private shiftRejected(): number {
    let n = 0;
    while (this.inflight.peek()?.rejected === true) {
      this.inflight.shift();
      n++;
    }
    return n;
  }
}

/** The gRPC name of a code, such as "PERMISSION_DENIED". */
function codeName(code: Code): string {
  const name = Code[code];
  return name === undefined ? `CODE_${code}` : name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Says that n events were rejected, and why the first was. */
function rejectedText(n: number, first: readonly RejectedEvent[]): string {
  const r = first[0]!;
  return (
    `${n} event${n === 1 ? " was" : "s were"} refused (not in the log); ` +
    `the first, event ${r.eventId} (${r.kind}): ${codeName(r.code)}: ${r.message}`
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
