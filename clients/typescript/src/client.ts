// AgentTrailClient: sessions that log events in the background, queries and
// live tails of the trail, and verification of what the server returns
// against a trusted verifier key.
import type { SecureClientSessionOptions } from "node:http2";
import { create, fromBinary, mergeFromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ContentState, EventHeaderSchema } from "./gen/agenttrail/v1/entry_pb.js";
import type { Entry } from "./gen/agenttrail/v1/entry_pb.js";
import { EventKind, EventSchema, FilterSchema } from "./gen/agenttrail/v1/event_pb.js";
import type { Event, Filter } from "./gen/agenttrail/v1/event_pb.js";
import { LogService } from "./gen/agenttrail/v1/log_service_pb.js";
import type { Checkpoint } from "./gen/agenttrail/v1/log_service_pb.js";
import { Order, QueryRequestSchema, QueryService } from "./gen/agenttrail/v1/query_service_pb.js";
import { checkId, errorType, toTimestamp } from "./convert.js";
import type { TimeInput } from "./convert.js";
import { Delivery } from "./delivery.js";
import type { DeliveryOptions, DeliveryStats, RejectedEvent, RetryInfo } from "./delivery.js";
import { AgentTrailError, ClientClosedError, InvalidEventError, NotCheckpointedError } from "./errors.js";
import { startSession } from "./session.js";
import type { Session, SessionOptions } from "./session.js";
import {
  BadProofError,
  ErasureLedger,
  LeafMismatchError,
  MalformedError,
  MissingEntryError,
  erasureOf,
  erasureNames,
  parseVerifierKey,
  verifyCheckpoint,
  verifyConsistency,
  verifyEntry,
  verifyErasure,
  verifyInclusion,
  verifyWithheld,
} from "./verify.js";
import type { TreeHead } from "./verify.js";

/** TLS settings for a server with a private CA, or for mutual TLS. */
export interface TlsOptions {
  /** CA certificates (PEM) to trust instead of the system's. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate chain (PEM), for mutual TLS. */
  readonly cert?: string | Buffer;
  /** Client private key (PEM), for mutual TLS. */
  readonly key?: string | Buffer;
  /** Server name to check the certificate against, when it differs from the address's host. */
  readonly serverName?: string;
}

/** How to reach and talk to an agenttrail server. */
export interface ClientOptions {
  /**
   * The server: "host:port" (such as "127.0.0.1:7700"), or a URL
   * "http://host:port" or "https://host:port".
   */
  readonly address: string;
  /**
   * API key, sent as "authorization: Bearer <key>" on every call. Never
   * logged. Refused over plaintext to an address that is not loopback.
   */
  readonly apiKey?: string;
  /**
   * TLS: true to use TLS with the system's CAs, false for plaintext, or
   * settings (which imply TLS). Default, as for the agenttrail CLI:
   * plaintext to a loopback "host:port" (localhost, 127.0.0.0/8, ::1), TLS
   * to any other; a URL's scheme decides for "http://" and "https://".
   */
  readonly tls?: boolean | TlsOptions;
  /** Default agent id of sessions. */
  readonly agentId?: string;
  /** Default agent version of sessions. */
  readonly agentVersion?: string;
  /** Buffering, batching and retries of event delivery. */
  readonly delivery?: DeliveryOptions;
  /**
   * Called for each event the server refuses (or the client, for an event
   * too large to send). Rejections are final: the event is not retried.
   * Default: a process warning naming the event id, its kind and the
   * server's reason (never the event's content).
   */
  readonly onRejected?: (rejection: RejectedEvent) => void;
  /**
   * Called each time the Append stream fails, before the retry. Default: a
   * process warning on the first failure of an outage (not on each retry).
   */
  readonly onDeliveryError?: (error: ConnectError, retry: RetryInfo) => void;
  /**
   * The log's verifier key ("<origin>+<hash>+<base64 key>"), obtained out
   * of band (such as from the operator, or from `agenttrail serve`'s
   * output): what verify, checkpoint and verifyConsistency trust. Never
   * take it from the server being checked.
   */
  readonly verifierKey?: string;
  /** The log's origin, which checkpoints must name. Default: the verifier key's name, which is the origin for an agenttrail log. */
  readonly origin?: string;
  /** Deadline of each unary call (get, proofs, checkpoints), in milliseconds. Default 30000. */
  readonly callTimeoutMs?: number;
}

/** The payload names of events, as Event.payload.case spells them, for filters. */
export type EventKindName = NonNullable<Event["payload"]["case"]>;

/** Which entries a query or tail returns. Unset fields match everything. */
export interface QueryFilter {
  /** Only this session's events. */
  readonly sessionId?: string;
  /** Only this agent's events. */
  readonly agentId?: string;
  /** Only events for this pseudonymous user. */
  readonly userId?: string;
  /** Only events of these kinds. */
  readonly kinds?: readonly EventKindName[];
  /** Only tool calls of this tool. */
  readonly toolName?: string;
  /** Only events that occurred at or after this time. */
  readonly occurredAfter?: TimeInput;
  /** Only events that occurred before this time. */
  readonly occurredBefore?: TimeInput;
  /** Only events at or after this log index. */
  readonly fromIndex?: bigint | number;
  /** Only events before this log index. */
  readonly toIndex?: bigint | number;
  /** Only events that record a failure. */
  readonly errorsOnly?: boolean;
}

/** How a query streams. */
export interface QueryOptions {
  /** Log order. Default "ascending". */
  readonly order?: "ascending" | "descending";
  /** Most entries. Default: no limit. */
  readonly limit?: number;
  /** Start after this log index (before it, descending): the last index received from a broken query. */
  readonly resumeAfter?: bigint | number;
  /** Cancels the query. */
  readonly signal?: AbortSignal;
}

/** How a tail follows the log. */
export interface TailOptions {
  /** Start after this log index. Default: from the first matching entry. */
  readonly resumeAfter?: bigint | number;
  /** Ends the tail: the iteration then finishes without an error. */
  readonly signal?: AbortSignal;
  /** Called when the tail has sent every stored match and turns live, with the log's size then; again after each resume. */
  readonly onCaughtUp?: (treeSize: bigint) => void;
}

/** Which log a verification trusts: overrides of ClientOptions.verifierKey and origin. */
export interface TrustOptions {
  /** The trusted verifier key. Default: ClientOptions.verifierKey. */
  readonly verifierKey?: string;
  /** The origin checkpoints must name. Default: ClientOptions.origin, else the key's name. */
  readonly origin?: string;
  /** Cancels the calls. */
  readonly signal?: AbortSignal;
}

/** How verify waits for a checkpoint. */
export interface VerifyOptions extends TrustOptions {
  /**
   * How long to wait, in milliseconds, for a checkpoint that covers the
   * entry (the server signs one at most every --checkpoint-interval).
   * Default 5000.
   */
  readonly waitMs?: number;
}

/** An entry checked against a signed checkpoint. */
export interface VerifiedEntry {
  /** The entry, as the server returned it, in the caller's view (see entry.view). */
  readonly entry: Entry;
  /** The verified checkpoint whose tree includes the entry. */
  readonly treeHead: TreeHead;
  /**
   * Whether the content itself was checked against its digest: true in the
   * full view; false when the view withholds the content (redacted or
   * metadata view) or it was erased, in which case the header alone is
   * proven.
   */
  readonly contentVerified: boolean;
}

/** Which part of the log verifyLog checks. */
export interface VerifyLogOptions extends TrustOptions {
  /** The first log index to check. Default 0. */
  readonly fromIndex?: bigint | number;
  /** Check up to this log index, exclusive. Default: the latest checkpoint's size. */
  readonly toIndex?: bigint | number;
}

/** What verifyLog checked. */
export interface VerifiedLog {
  /** The verified checkpoint every leaf was proven against. */
  readonly treeHead: TreeHead;
  /** Entries shown to the caller and verified (commitment and inclusion). */
  readonly entries: number;
  /** How many of those had their content checked against its digest (the full view). */
  readonly contentVerified: number;
  /**
   * Log indexes of the entries the caller's view may not show: each leaf
   * was proven to be in the log, and nothing more can be checked.
   */
  readonly withheld: readonly bigint[];
  /**
   * Log indexes of the entries whose content was erased: each header
   * verified, and each is named by an Erasure or Retention event that
   * verified too (verifyErasure).
   */
  readonly erased: readonly bigint[];
}

/** The verifier key a server states for itself: to compare with a trusted copy, never to trust as is. */
export interface StatedVerifierKey {
  /** The log's origin. */
  readonly origin: string;
  /** The note verifier key. */
  readonly verifierKey: string;
}

// Codes after which a tail stops rather than resumes: the request or the
// caller is at fault, and asking again would get the same answer.
const FINAL_CODES = new Set<Code>([
  Code.InvalidArgument,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.FailedPrecondition,
  Code.OutOfRange,
  Code.Unimplemented,
  Code.DataLoss,
]);

const KINDS: Record<EventKindName, EventKind> = {
  sessionStart: EventKind.SESSION_START,
  llmCall: EventKind.LLM_CALL,
  toolCall: EventKind.TOOL_CALL,
  reasoning: EventKind.REASONING,
  humanApproval: EventKind.HUMAN_APPROVAL,
  error: EventKind.ERROR,
  output: EventKind.OUTPUT,
  sessionEnd: EventKind.SESSION_END,
  access: EventKind.ACCESS,
  erasure: EventKind.ERASURE,
  retention: EventKind.RETENTION,
  keyChange: EventKind.KEY_CHANGE,
  legalHold: EventKind.LEGAL_HOLD,
  retentionPolicy: EventKind.RETENTION_POLICY,
};

const CHECKPOINT_POLL_MS = 100;

/** How long close() waits for the server's answers by default: 10 seconds. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/**
 * A client of one agenttrail server.
 *
 * Sessions made with startSession or withSession log events into a bounded
 * buffer; a background sender delivers them over one Append stream and
 * resends, with the same ids, whatever a broken stream left unanswered.
 * query, tail and getEvent read the trail; verify, checkpoint and
 * verifyConsistency check it against a trusted verifier key.
 *
 * Call close() when done: it waits until every event has been answered (10
 * seconds at most, by default) and releases the connection; it rejects with
 * DeliveryError when events are not in the log, so `await client.close()`
 * at the end of a program makes it exit with status 1 when its trail is
 * incomplete.
 */
export class AgentTrailClient {
  private readonly transport: Transport;
  private readonly sessions: Http2SessionManager;
  private readonly delivery: Delivery;
  private readonly query_: Client<typeof QueryService>;
  private readonly log: Client<typeof LogService>;
  private readonly options: ClientOptions;
  private readonly callTimeoutMs: number;
  private closing: Promise<void> | undefined;

  /** Makes a client. It connects on first use. Throws RangeError for options that cannot work. */
  constructor(options: ClientOptions) {
    this.options = options;
    const { baseUrl, nodeOptions } = connection(options);
    if (options.apiKey !== undefined && (typeof options.apiKey !== "string" || !/^[\x21-\x7e]+$/.test(options.apiKey))) {
      throw new RangeError("apiKey must be a non-empty string of printable ASCII characters without spaces");
    }
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    if (!Number.isFinite(this.callTimeoutMs) || this.callTimeoutMs <= 0) {
      throw new RangeError(`callTimeoutMs must be a positive number of milliseconds, got ${String(options.callTimeoutMs)}`);
    }
    if (options.verifierKey !== undefined) parseVerifierKey(options.verifierKey);
    // Pings find a dead connection within about 40 s even when the network
    // drops packets silently; the server allows one every 10 s at most.
    this.sessions = new Http2SessionManager(
      baseUrl,
      { pingIntervalMs: 30_000, pingTimeoutMs: 10_000, idleConnectionTimeoutMs: 60_000 },
      nodeOptions,
    );
    const interceptors: Interceptor[] = [];
    const apiKey = options.apiKey;
    if (apiKey !== undefined) {
      interceptors.push((next) => (req) => {
        req.header.set("authorization", `Bearer ${apiKey}`);
        return next(req);
      });
    }
    this.transport = createGrpcTransport({ baseUrl, sessionManager: this.sessions, interceptors });
    this.query_ = createClient(QueryService, this.transport);
    this.log = createClient(LogService, this.transport);
    const onRejected = options.onRejected ?? warnRejected;
    const onDeliveryError = options.onDeliveryError ?? warnDeliveryError;
    this.delivery = new Delivery(this.transport, { onRejected, onDeliveryError }, options.delivery, `the server at ${baseUrl.replace(/^https?:\/\//, "")}`);
  }

  /**
   * Starts a session and records its start event (step 1). Resolves once
   * the start event is buffered (with onFull "block", once there is room).
   * Rejects with InvalidEventError when an option is malformed, such as a
   * missing agent id.
   */
  startSession(options: SessionOptions = {}): Promise<Session> {
    if (this.closing) return Promise.reject(closedError());
    return startSession(
      options,
      { agentId: this.options.agentId, agentVersion: this.options.agentVersion },
      (event) => this.delivery.offer(event),
    );
  }

  /**
   * Runs fn inside a new session and ends the session after it. When fn
   * returns, the session ends "completed" (unless fn ended it), and
   * withSession returns what fn returned. When fn throws, the error is
   * recorded as an error event, the session ends "failed" with the error's
   * type (such as "TypeError") as its detail, and withSession throws the
   * same error.
   */
  async withSession<T>(options: SessionOptions, fn: (session: Session) => Promise<T> | T): Promise<T> {
    const session = await this.startSession(options);
    let result: T;
    try {
      result = await fn(session);
    } catch (err) {
      if (!session.ended) {
        try {
          const errorId = await session.error(err);
          await session.end("failed", { detail: errorType(err), parentId: errorId });
        } catch (recordErr) {
          // fn's error is the one to throw; say why the trail lacks its end.
          process.emitWarning(
            `agenttrail: could not record the failure of session ${session.id}: ${String(recordErr)}`,
            "AgentTrailWarning",
          );
        }
      }
      throw err;
    }
    if (!session.ended) await session.end("completed");
    return result;
  }

  /**
   * Resolves when every event logged before the call has been answered by
   * the server with a receipt. Rejects with DeliveryError when events were
   * refused since the last flush or close that reported them (each
   * rejection is reported once; onRejected hears of each as it happens),
   * and, with timeoutMs, with DeliveryTimeoutError after that long
   * (delivery goes on regardless). Without timeoutMs it waits as long as it
   * takes.
   */
  flush(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    return this.delivery.flush(options.timeoutMs);
  }

  /**
   * Stops accepting events, waits until every event logged has been
   * answered, then closes the connection (ending any query or tail still
   * open). After timeoutMs (default DEFAULT_CLOSE_TIMEOUT_MS, 10 s;
   * Infinity waits as long as it takes) it gives up: events still
   * unanswered are abandoned, counted in stats().abandoned, and close
   * rejects with DeliveryTimeoutError saying how many and why (such as a
   * server that could not be reached). It rejects with DeliveryError when
   * events were refused since the last flush that reported them. Calling
   * it again returns the same promise.
   */
  close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.closing ??= this.delivery.close(Number.isFinite(timeoutMs) ? timeoutMs : undefined).finally(() => {
      this.sessions.abort(new ClientClosedError("the client was closed"));
    });
    return this.closing;
  }

  /** Counters of event delivery. */
  stats(): DeliveryStats {
    return this.delivery.stats();
  }

  /**
   * Streams the entries that match a filter, in log order, each in the
   * caller's view: entry.view states the view (full, redacted or metadata)
   * and whether the content is present, withheld or erased. Ends at the
   * current end of the log. After a broken query, pass the last
   * entry.stamp.logIndex received as resumeAfter to go on.
   */
  async *query(filter: QueryFilter = {}, options: QueryOptions = {}): AsyncGenerator<Entry, void, undefined> {
    this.checkOpen();
    const order = options.order ?? "ascending";
    if (order !== "ascending" && order !== "descending") {
      throw new InvalidEventError("order", 'must be "ascending" or "descending"');
    }
    const request = create(QueryRequestSchema, {
      filter: toFilter(filter),
      order: order === "descending" ? Order.DESCENDING : Order.ASCENDING,
      limit: options.limit === undefined ? 0 : toLimit(options.limit),
      resumeAfter: options.resumeAfter === undefined ? undefined : toIndex("resumeAfter", options.resumeAfter),
      eventFromCommitment: true,
    });
    const call = linkedAbort(options.signal);
    try {
      for await (const response of this.query_.query(request, { signal: call.signal })) {
        if (response.item.case === "entry") yield withEvent(response.item.value);
      }
    } finally {
      call.abort();
    }
  }

  /**
   * Follows the log: streams the stored entries that match a filter, then
   * new ones as they commit, each in the caller's view (see entry.view).
   * When the stream breaks (the server restarts, the network fails), the
   * tail resumes after the last log index received, with backoff, so no
   * entry is skipped or repeated. It ends when options.signal aborts or the
   * loop breaks, and throws a ConnectError only for failures that asking
   * again cannot mend (bad filter, no permission, bad credentials).
   */
  async *tail(filter: QueryFilter = {}, options: TailOptions = {}): AsyncGenerator<Entry, void, undefined> {
    this.checkOpen();
    const f = toFilter(filter);
    let after = options.resumeAfter === undefined ? undefined : toIndex("resumeAfter", options.resumeAfter);
    let attempt = 0;
    const call = linkedAbort(options.signal);
    try {
      while (!call.signal.aborted) {
        try {
          const request = create(QueryRequestSchema, { filter: f, follow: true, resumeAfter: after, eventFromCommitment: true });
          for await (const response of this.query_.query(request, { signal: call.signal })) {
            attempt = 0;
            if (response.item.case === "entry") {
              const entry = withEvent(response.item.value);
              if (entry.stamp !== undefined) after = entry.stamp.logIndex;
              yield entry;
            } else if (response.item.case === "withheld") {
              // An entry the caller may not see: the tail has passed it.
              after = response.item.value.logIndex;
            } else if (response.item.case === "caughtUp") {
              options.onCaughtUp?.(response.item.value.treeSize);
            }
          }
        } catch (e) {
          if (call.signal.aborted) return;
          if (this.closing) throw new ClientClosedError("the client was closed during the tail", { cause: e });
          const error = ConnectError.from(e);
          if (FINAL_CODES.has(error.code)) throw error;
        }
        if (call.signal.aborted) return;
        attempt++;
        await sleep(Math.min(5_000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2), call.signal);
      }
    } finally {
      call.abort();
    }
  }

  /**
   * Returns one entry, by event id (a string) or by log index (a bigint or
   * number), in the caller's view (see entry.view). Rejects with a
   * ConnectError with Code.NotFound when there is none.
   */
  async getEvent(ref: string | bigint | number, options: { readonly signal?: AbortSignal } = {}): Promise<Entry> {
    this.checkOpen();
    const key =
      typeof ref === "string"
        ? { case: "eventId" as const, value: checkId("eventId", ref) }
        : { case: "logIndex" as const, value: toIndex("logIndex", ref) };
    const response = await this.query_.getEvent({ key }, this.callOptions(options.signal));
    if (response.entry === undefined) {
      throw new MalformedError("GetEvent answered without an entry");
    }
    return response.entry;
  }

  /**
   * Verifies one entry end to end against the trusted verifier key: checks
   * the entry against its commitment (verifyEntry), fetches the latest
   * signed checkpoint that covers it (waiting up to waitMs for one), checks
   * the checkpoint's signature and origin, and checks the inclusion proof of
   * the entry's leaf at its log index in that checkpoint's tree. Takes an
   * entry already fetched, or an event id or log index to fetch.
   *
   * Throws a VerificationError subclass naming what failed,
   * NotCheckpointedError when no checkpoint covers the entry in time, and
   * AgentTrailError when no verifier key is configured.
   */
  async verify(ref: Entry | string | bigint | number, options: VerifyOptions = {}): Promise<VerifiedEntry> {
    this.checkOpen();
    const trust = this.trust(options);
    const entry = typeof ref === "object" ? ref : await this.getEvent(ref, options);
    verifyEntry(entry);
    if (entry.stamp === undefined) {
      throw new MalformedError("entry has no stamp, so it has no log index to prove");
    }
    const index = entry.stamp.logIndex;
    const commitment = entry.commitment!; // verifyEntry checked it is there
    const size = await this.waitForCheckpoint(index, options.waitMs ?? 5_000, options.signal);
    const proof = await this.log.getInclusionProof({ logIndex: index, treeSize: size }, this.callOptions(options.signal));
    const checkpoint = proof.checkpoint ?? (await this.log.getCheckpoint({ treeSize: size }, this.callOptions(options.signal))).checkpoint;
    const head = openCheckpoint(checkpoint, trust);
    if (head.size !== proof.treeSize) {
      throw new BadProofError(`inclusion proof is for tree size ${proof.treeSize}, but its checkpoint is for ${head.size}`);
    }
    if (!bytesEqual(proof.leafHash, commitment.leafHash)) {
      throw new LeafMismatchError(
        `the server proves leaf ${hex(proof.leafHash)} at log index ${index}, but the entry's leaf hash is ${hex(commitment.leafHash)}`,
      );
    }
    verifyInclusion(index, head.size, commitment.leafHash, proof.hashes, head.root);
    return {
      entry,
      treeHead: head,
      contentVerified: commitment.salt.length > 0 && entry.view?.content === ContentState.PRESENT,
    };
  }

  /**
   * Verifies the log at indexes [fromIndex, toIndex) (up to the latest
   * checkpoint's size when toIndex is absent or beyond it), as `agenttrail
   * verify` does: fetches the latest signed checkpoint and checks its
   * signature and origin; queries every index of the range in the caller's
   * view; checks each entry with verifyEntry, and each entry the view may
   * not show (for a developer, other principals' access records), which
   * comes as a withheld leaf, with verifyWithheld; and checks the inclusion
   * proof of every leaf, shown or withheld, against the checkpoint; and
   * demands that every entry whose content is erased is named by a later
   * erasure or retention entry of the log (ErasureLedger; those beyond the
   * range are read and checked too).
   *
   * Throws a VerificationError subclass when a check fails: MissingEntryError
   * when the server sends neither an entry nor a withheld leaf for an index
   * the checkpoint covers; UnprovenErasureError for erased content no logged
   * erasure names.
   */
  async verifyLog(options: VerifyLogOptions = {}): Promise<VerifiedLog> {
    this.checkOpen();
    const trust = this.trust(options);
    const from = options.fromIndex === undefined ? 0n : toIndex("fromIndex", options.fromIndex);
    const response = await this.log.getCheckpoint({}, this.callOptions(options.signal));
    const head = openCheckpoint(response.checkpoint, trust);
    let to = head.size;
    if (options.toIndex !== undefined) {
      const want = toIndex("toIndex", options.toIndex);
      if (want <= from) throw new InvalidEventError("toIndex", "must be greater than fromIndex");
      if (want < to) to = want;
    }
    const withheld: bigint[] = [];
    const erased: bigint[] = [];
    const gone: Entry[] = [];
    const erasures = new Map<bigint, Entry>();
    let entries = 0;
    let contentVerified = 0;
    if (from >= to) return { treeHead: head, entries, contentVerified, withheld, erased };
    const request = create(QueryRequestSchema, {
      filter: create(FilterSchema, { fromIndex: from, toIndex: to }),
      eventFromCommitment: true,
    });
    let next = from;
    const ledger = new ErasureLedger();
    const call = linkedAbort(options.signal);
    try {
      for await (const item of this.query_.query(request, { signal: call.signal })) {
        let index: bigint;
        let leaf: Uint8Array;
        if (item.item.case === "entry") {
          const entry = withEvent(item.item.value);
          verifyEntry(entry);
          index = entry.stamp?.logIndex ?? -1n;
          leaf = entry.commitment!.leafHash; // verifyEntry checked it is there
        } else if (item.item.case === "withheld") {
          verifyWithheld(item.item.value);
          index = item.item.value.logIndex;
          leaf = item.item.value.leafHash;
        } else {
          continue;
        }
        if (index !== next) {
          throw new MissingEntryError(`log index ${next}: the server skipped it (the next index it sent is ${index})`);
        }
        const proof = await this.log.getInclusionProof({ logIndex: index, treeSize: head.size }, this.callOptions(options.signal));
        verifyInclusion(index, head.size, leaf, proof.hashes, head.root);
        if (item.item.case === "entry") {
          entries++;
          const entry = item.item.value;
          if (entry.commitment!.salt.length > 0 && entry.view?.content === ContentState.PRESENT) contentVerified++;
          const isErased = entry.view?.content === ContentState.ERASED;
          if (entry.event !== undefined) ledger.note(index, entry.event, isErased);
          if (isErased) gone.push(entry);
          if (erasureNames(entry.event, 0n) !== undefined) erasures.set(index, entry);
        } else {
          withheld.push(index);
        }
        next++;
      }
    } finally {
      call.abort();
    }
    if (next !== to) {
      throw new MissingEntryError(
        `log index ${next}: the server sent neither the entry nor a withheld leaf, although the checkpoint covers it`,
      );
    }
    if (ledger.unproven().length > 0 && to < head.size) {
      // The erasures that name erased entries may lie beyond the range.
      const later = create(QueryRequestSchema, {
        filter: create(FilterSchema, { fromIndex: to, toIndex: head.size, kinds: [EventKind.ERASURE, EventKind.RETENTION] }),
        eventFromCommitment: true,
      });
      const call2 = linkedAbort(options.signal);
      try {
        for await (const item of this.query_.query(later, { signal: call2.signal })) {
          if (item.item.case !== "entry") continue;
          const entry = withEvent(item.item.value);
          verifyEntry(entry);
          const index = entry.stamp?.logIndex ?? -1n;
          const proof = await this.log.getInclusionProof({ logIndex: index, treeSize: head.size }, this.callOptions(options.signal));
          verifyInclusion(index, head.size, entry.commitment!.leafHash, proof.hashes, head.root);
          if (entry.event !== undefined) ledger.note(index, entry.event, false);
          erasures.set(index, entry);
        }
      } finally {
        call2.abort();
      }
    }
    ledger.check(); // erased content must be named by a later erasure or retention entry
    // The erasure each erased entry's view names is the one that accounts
    // for it (read above when the range or the later erasures held it; the
    // ledger already proved that one names it otherwise).
    for (const entry of gone) {
      const by = erasureOf(entry);
      const erasure = by !== undefined && by >= 0n ? erasures.get(by) : undefined;
      if (erasure !== undefined) verifyErasure(entry, erasure);
      erased.push(entry.stamp!.logIndex);
    }
    return { treeHead: head, entries, contentVerified, withheld, erased };
  }

  /** Fetches the latest signed checkpoint and verifies its signature and origin against the trusted verifier key. */
  async checkpoint(options: TrustOptions = {}): Promise<TreeHead> {
    this.checkOpen();
    const trust = this.trust(options);
    const response = await this.log.getCheckpoint({}, this.callOptions(options.signal));
    return openCheckpoint(response.checkpoint, trust);
  }

  /**
   * Proves that the log only grew since a tree head trusted earlier: fetches
   * the latest signed checkpoint and the consistency proof from the trusted
   * head's size to it, verifies both, and returns the new tree head, which
   * can be trusted from then on. Throws BadProofError when the log's history
   * was rewritten.
   */
  async verifyConsistency(trusted: TreeHead, options: TrustOptions = {}): Promise<TreeHead> {
    this.checkOpen();
    const trust = this.trust(options);
    if (trusted.origin !== trust.origin) {
      throw new MalformedError(`trusted tree head is for origin ${JSON.stringify(trusted.origin)}, want ${JSON.stringify(trust.origin)}`);
    }
    if (trusted.size === 0n) {
      const head = await this.checkpoint(options);
      verifyConsistency(0n, head.size, trusted.root, head.root, []);
      return head;
    }
    const proof = await this.log.getConsistencyProof({ fromSize: trusted.size }, this.callOptions(options.signal));
    const head = openCheckpoint(proof.checkpoint, trust);
    if (head.size !== proof.toSize) {
      throw new BadProofError(`consistency proof is to tree size ${proof.toSize}, but its checkpoint is for ${head.size}`);
    }
    verifyConsistency(trusted.size, head.size, trusted.root, head.root, proof.hashes);
    return head;
  }

  /**
   * Fetches the verifier key the server states for its log. Use it only to
   * compare with a copy obtained out of band, or to pin a key on first use:
   * a server that lies about its log would lie about its key too.
   */
  async getVerifierKey(options: { readonly signal?: AbortSignal } = {}): Promise<StatedVerifierKey> {
    this.checkOpen();
    const response = await this.log.getVerifierKey({}, this.callOptions(options.signal));
    return { origin: response.origin, verifierKey: response.verifierKey };
  }

  private checkOpen(): void {
    if (this.closing) throw closedError();
  }

  private callOptions(signal: AbortSignal | undefined): { signal?: AbortSignal; timeoutMs: number } {
    return signal === undefined ? { timeoutMs: this.callTimeoutMs } : { signal, timeoutMs: this.callTimeoutMs };
  }

  private trust(options: TrustOptions): { verifierKey: string; origin: string } {
    const verifierKey = options.verifierKey ?? this.options.verifierKey;
    if (verifierKey === undefined) {
      throw new AgentTrailError(
        "no trusted verifier key: pass verifierKey in the client or call options, obtained out of band " +
          "(such as from `agenttrail serve`'s output), never from the server being checked",
      );
    }
    const origin = options.origin ?? this.options.origin ?? parseVerifierKey(verifierKey).name;
    return { verifierKey, origin };
  }

  /** Waits until the latest checkpoint covers index, and returns its tree size. */
  private async waitForCheckpoint(index: bigint, waitMs: number, signal: AbortSignal | undefined): Promise<bigint> {
    const start = Date.now();
    for (;;) {
      let size = 0n;
      try {
        const response = await this.log.getCheckpoint({}, this.callOptions(signal));
        size = response.checkpoint?.treeSize ?? 0n;
      } catch (e) {
        // An empty log has no checkpoint yet: the server says so with
        // INVALID_ARGUMENT; wait as for a checkpoint that does not cover
        // the index.
        if (ConnectError.from(e).code !== Code.InvalidArgument) throw e;
      }
      if (size > index) return size;
      const waited = Date.now() - start;
      if (waited >= waitMs) throw new NotCheckpointedError(index, size, waited);
      await sleep(Math.min(CHECKPOINT_POLL_MS, waitMs - waited), signal);
      signal?.throwIfAborted();
    }
  }
}

function closedError(): ClientClosedError {
  return new ClientClosedError("the client is closed");
}

/** Opens a checkpoint with the trusted key, or says it is missing. */
function openCheckpoint(checkpoint: Checkpoint | undefined, trust: { verifierKey: string; origin: string }): TreeHead {
  if (checkpoint === undefined) {
    throw new MalformedError("the server sent no checkpoint");
  }
  return verifyCheckpoint(checkpoint.signedNote, trust.verifierKey, trust.origin);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** The base URL and node:http2 options of a client's address and TLS settings. */
function connection(options: ClientOptions): { baseUrl: string; nodeOptions: SecureClientSessionOptions } {
  const { address, tls } = options;
  if (typeof address !== "string" || address === "") {
    throw new RangeError('address must be "host:port" or an http(s) URL, such as "127.0.0.1:7700"');
  }
  let url: URL;
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address);
  try {
    url = new URL(hasScheme ? address : `http://${address}`);
    if (!hasScheme && (tls === undefined ? !isLoopback(url.hostname) : Boolean(tls))) {
      url = new URL(`https://${address}`);
    }
  } catch {
    throw new RangeError(`address ${JSON.stringify(address)} is not "host:port" or an http(s) URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`address ${JSON.stringify(address)} must use http:// or https://`);
  }
  const secure = url.protocol === "https:";
  if (hasScheme && tls !== undefined && Boolean(tls) !== secure) {
    throw new RangeError(`address ${JSON.stringify(address)} says ${url.protocol}//, but tls is ${tls ? "set" : "false"}`);
  }
  if (!hasScheme && url.port === "") {
    throw new RangeError(`address ${JSON.stringify(address)} has no port, such as "127.0.0.1:7700"`);
  }
  if (url.pathname !== "/" || url.search !== "" || url.username !== "") {
    throw new RangeError(`address ${JSON.stringify(address)} must be only a scheme, host and port`);
  }
  if (options.apiKey !== undefined && !secure && !isLoopback(url.hostname)) {
    throw new RangeError(
      `apiKey would be sent in plaintext to ${url.host}: use TLS (tls option or an https:// address), or a loopback address`,
    );
  }
  const nodeOptions: SecureClientSessionOptions = {};
  if (typeof tls === "object") {
    if (tls.ca !== undefined) nodeOptions.ca = tls.ca as SecureClientSessionOptions["ca"];
    if (tls.cert !== undefined) nodeOptions.cert = tls.cert;
    if (tls.key !== undefined) nodeOptions.key = tls.key;
    if (tls.serverName !== undefined) nodeOptions.servername = tls.serverName;
  }
  return { baseUrl: url.origin, nodeOptions };
}

/** Whether a URL hostname is a loopback address: localhost, 127.0.0.0/8 or ::1. */
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function toIndex(field: string, v: bigint | number): bigint {
  if (typeof v === "bigint" && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new InvalidEventError(field, "must be a non-negative integer log index (a safe integer or a bigint)");
}

function toLimit(v: number): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) {
    throw new InvalidEventError("limit", "must be an integer from 0 (no limit) to 2^32-1");
  }
  return v;
}

function toFilter(f: QueryFilter): Filter {
  const filter = create(FilterSchema, {
    sessionId: f.sessionId === undefined ? "" : checkId("filter.sessionId", f.sessionId),
    agentId: f.agentId === undefined ? "" : checkId("filter.agentId", f.agentId),
    userId: f.userId === undefined ? "" : checkId("filter.userId", f.userId),
    toolName: f.toolName ?? "",
    errorsOnly: f.errorsOnly === true,
    kinds: (f.kinds ?? []).map((k, i) => {
      if (!Object.hasOwn(KINDS, k)) {
        throw new InvalidEventError(`filter.kinds[${i}]`, `must be one of ${Object.keys(KINDS).join(", ")}`);
      }
      return KINDS[k];
    }),
  });
  if (f.occurredAfter !== undefined) filter.occurredAfter = toTimestamp("filter.occurredAfter", f.occurredAfter);
  if (f.occurredBefore !== undefined) filter.occurredBefore = toTimestamp("filter.occurredBefore", f.occurredBefore);
  if (f.fromIndex !== undefined) filter.fromIndex = toIndex("filter.fromIndex", f.fromIndex);
  if (f.toIndex !== undefined) filter.toIndex = toIndex("filter.toIndex", f.toIndex);
  return filter;
}

/** An AbortController that also aborts when parent does. */
function linkedAbort(parent: AbortSignal | undefined): AbortController {
  const ac = new AbortController();
  if (parent !== undefined) {
    if (parent.aborted) ac.abort(parent.reason);
    else parent.addEventListener("abort", () => ac.abort(parent.reason), { once: true, signal: ac.signal });
  }
  return ac;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function warnRejected(r: RejectedEvent): void {
  process.emitWarning(
    `agenttrail: event ${r.eventId} (${r.kind}) of session ${r.sessionId} was rejected: ` +
      `${Code[r.code] ?? r.code}: ${r.message}${r.field ? ` (field ${r.field})` : ""}`,
    "AgentTrailWarning",
  );
}

function warnDeliveryError(e: ConnectError, retry: RetryInfo): void {
  if (retry.attempt !== 1) return;
  process.emitWarning(
    `agenttrail: cannot deliver events (${e.message}); retrying with backoff, ` +
      `${retry.unacknowledged} event(s) kept for resending`,
    "AgentTrailWarning",
  );
}

/**
 * Fills in the event of an entry the server sent without it
 * (QueryRequest.eventFromCommitment, which the full view honours): the
 * event of commitment.header, an EventHeader, with commitment.content merged
 * into it, which is how the server builds the full view's event, so that
 * each content crosses the wire once. An entry that has its event (another
 * view, or a server that predates the field), or no header, is returned as
 * it is. Throws MalformedError when the bytes do not decode.
 */
export function withEvent(entry: Entry): Entry {
  const c = entry.commitment;
  if (entry.event !== undefined || c === undefined || c.header.length === 0) return entry;
  let event: Event | undefined;
  try {
    event = fromBinary(EventHeaderSchema, c.header).event;
    if (event !== undefined && c.content.length > 0) mergeFromBinary(EventSchema, event, c.content);
  } catch {
    event = undefined;
  }
  if (event === undefined) {
    throw new MalformedError(
      `log index ${entry.stamp?.logIndex ?? "?"}: the event does not decode from the commitment's header and content`,
    );
  }
  entry.event = event;
  return entry;
}
