// Package otlp maps OpenTelemetry spans onto agenttrail events, so that
// agents already instrumented with OpenTelemetry can send their trail
// through an OTLP exporter (OTLP/gRPC TraceService/Export, OTLP/HTTP
// /v1/traces; both served by package server).
//
// Spans are read by the OpenTelemetry GenAI semantic conventions
// (gen_ai.operation.name: chat, text_completion, generate_content and
// embeddings are LLM calls, execute_tool a tool call, invoke_agent and
// create_agent a session's start and end, plan a reasoning step, retrieval
// and the memory operations data-store tool calls), and by the older and
// common variants: the deprecated gen_ai.system, gen_ai.prompt and
// gen_ai.completion and token names, OpenLLMetry's llm.request.type and
// traceloop.span.kind, and OpenInference's openinference.span.kind with
// its llm.*, tool.* and input/output attributes. A span's error status and
// its exception events become AgentError events. Attributes that no event
// field holds go to Event.attributes (content), so nothing is lost.
// docs/otlp.md lists every span and attribute handled.
//
// The mapping is a pure function of the span, its resource and scope, and
// the caller's agent scope: the same span always gives the same events
// with the same ids (EventID), so an exporter's retries and re-exports are
// idempotent. A span that cannot be mapped gives an error that says why,
// which the server reports in the export's partial_success.
package otlp
