// agenttrail client for TypeScript: sessions that log an agent's steps to an
// agenttrail server in the background, queries and live tails of the trail,
// verification of what the server returns against its signed log, and the
// generated API of agenttrail.v1.

// The client and its sessions.
export { AgentTrailClient } from "./client.js";
export type {
  ClientOptions,
  EventKindName,
  QueryFilter,
  QueryOptions,
  StatedVerifierKey,
  TailOptions,
  TlsOptions,
  TrustOptions,
  VerifiedEntry,
  VerifiedLog,
  VerifyLogOptions,
  VerifyOptions,
} from "./client.js";
export type {
  ApprovalDecisionName,
  ApprovalInit,
  ChatMessageInit,
  ChatRole,
  CostInit,
  EndOptions,
  EndReasonName,
  ErrorInit,
  EventOptions,
  LlmCallInit,
  OutputInit,
  ReasoningInit,
  Session,
  SessionOptions,
  TimeInput,
  ToolCallInit,
  ToolCallRequestInit,
  ToolDefinitionInit,
  ToolOutcomeName,
} from "./session.js";
export type {
  DeliveryOptions,
  DeliveryStats,
  FullPolicy,
  RejectedEvent,
  RetryInfo,
  RetryOptions,
} from "./delivery.js";
export {
  AgentTrailError,
  ClientClosedError,
  DeliveryTimeoutError,
  InvalidEventError,
  NotCheckpointedError,
  SessionEndedError,
} from "./errors.js";
export { uuidv7 } from "./uuid.js";
// gRPC status codes and errors of failed calls, from @connectrpc/connect.
export { Code, ConnectError } from "@connectrpc/connect";

// The generated API of agenttrail.v1.
export * from "./gen/agenttrail/v1/event_pb.js";
export * from "./gen/agenttrail/v1/entry_pb.js";
export * from "./gen/agenttrail/v1/field_class_pb.js";
export * from "./gen/agenttrail/v1/append_service_pb.js";
export * from "./gen/agenttrail/v1/query_service_pb.js";
export * from "./gen/agenttrail/v1/log_service_pb.js";
export * from "./gen/agenttrail/v1/lifecycle_service_pb.js";
// Verifiers for log entries, inclusion and consistency proofs, and signed
// checkpoints.
export * from "./verify.js";
