// agenttrail client for TypeScript: the generated API of agenttrail.v1, and
// the verifiers that check what a server returns against its signed log.
export * from "./gen/agenttrail/v1/event_pb.js";
export * from "./gen/agenttrail/v1/entry_pb.js";
export * from "./gen/agenttrail/v1/field_class_pb.js";
export * from "./gen/agenttrail/v1/append_service_pb.js";
export * from "./gen/agenttrail/v1/query_service_pb.js";
export * from "./gen/agenttrail/v1/log_service_pb.js";
// Verifiers for log entries, inclusion and consistency proofs, and signed
// checkpoints.
export * from "./verify.js";
