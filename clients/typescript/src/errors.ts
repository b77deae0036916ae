import type { RejectedEvent } from "./delivery.js";

// Errors the client throws. Verification failures have their own classes in
// verify.ts; failed calls to the server are ConnectErrors of
// @connectrpc/connect, whose code is the gRPC status.

/** Base class of every error the client itself throws (verification aside). */
export class AgentTrailError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An argument cannot become a valid event or request: a malformed id, a
 * number that is not a non-negative integer, a value that does not serialize
 * to JSON. The message names the field; it never repeats the value, which
 * may be content.
 */
export class InvalidEventError extends AgentTrailError {
  /** The field at fault, such as "toolCall.arguments" or "sessionId". */
  readonly field: string;

  constructor(field: string, problem: string, options?: ErrorOptions) {
    super(`${field}: ${problem}`, options);
    this.field = field;
  }
}

/** An event was logged on a session that has already ended. */
export class SessionEndedError extends AgentTrailError {}

/** An event was logged, or a call made, after AgentTrailClient.close began. */
export class ClientClosedError extends AgentTrailError {}

/** What a DeliveryError reports. */
export interface DeliveryFailure {
  /** Events refused since the last flush or close that rejected. */
  readonly rejected: number;
  /** The first of them (up to 10), in the order they were refused. */
  readonly rejections: readonly RejectedEvent[];
  /** Events still waiting for the server's answer. */
  readonly unacknowledged: number;
}

/**
 * Events are not in the log: the server refused some (or the client did,
 * for an event too large to send), or some were not answered in time.
 * flush() and close() reject with it, so that a program that logged events
 * it could not deliver does not end as if it had: a top-level await that
 * rejects ends Node with exit status 1. Each rejection is reported once, by
 * the first flush or close after it.
 */
export class DeliveryError extends AgentTrailError implements DeliveryFailure {
  readonly rejected: number;
  readonly rejections: readonly RejectedEvent[];
  readonly unacknowledged: number;

  constructor(message: string, failure: DeliveryFailure) {
    super(message);
    this.rejected = failure.rejected;
    this.rejections = failure.rejections;
    this.unacknowledged = failure.unacknowledged;
  }
}

/**
 * flush or close ran out of time before every event was answered by the
 * server: unacknowledged says how many were left. Nothing is lost by the
 * timeout of flush: delivery goes on. After the timeout of close, the events
 * still unanswered are abandoned.
 */
export class DeliveryTimeoutError extends DeliveryError {}

/**
 * A log entry could not be verified because the log has not yet signed a
 * checkpoint that covers it (the server signs checkpoints at most every
 * --checkpoint-interval).
 */
export class NotCheckpointedError extends AgentTrailError {
  /** The entry's log index. */
  readonly logIndex: bigint;
  /** The size of the latest checkpoint's tree: the entry's index is not below it. */
  readonly treeSize: bigint;

  constructor(logIndex: bigint, treeSize: bigint, waitedMs: number) {
    super(
      `log index ${logIndex} is not covered by the latest checkpoint (tree size ${treeSize}) ` +
        `after waiting ${waitedMs} ms; the server signs checkpoints at most every --checkpoint-interval`,
    );
    this.logIndex = logIndex;
    this.treeSize = treeSize;
  }
}
