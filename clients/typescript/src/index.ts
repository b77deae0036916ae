// agenttrail client for TypeScript: the generated API of agenttrail.v1.
export * from "./gen/agenttrail/v1/event_pb.js";
export * from "./gen/agenttrail/v1/entry_pb.js";
export * from "./gen/agenttrail/v1/field_class_pb.js";
export * from "./gen/agenttrail/v1/append_service_pb.js";
export * from "./gen/agenttrail/v1/query_service_pb.js";
export * from "./gen/agenttrail/v1/log_service_pb.js";
