// Package server is agenttrail's gRPC service: AppendService (agents stream
// events in and receipts out), QueryService (streaming queries, live tail,
// lookups), LogService (checkpoints and proofs) and OpenTelemetry's
// TraceService (OTLP trace export: GenAI spans become events, see package
// otlp; also served over HTTP by OTLPHandler), on top of a store.Store.
// Every event, however it arrives, enters the log through one function,
// ingest, which makes the same checks in the same order.
//
// Every request passes the same interceptor chain (see New): panic recovery,
// call logging through log/slog (never payloads), a rate limit, then the
// access control interceptors given with WithInterceptors. Health checking
// (grpc.health.v1) and server reflection are registered too.
//
// Everything a reader receives is passed through a View chosen for the
// caller (WithViews): the full view, the redacted view or the metadata view.
// Store errors are turned into status codes in exactly one place
// (statusError), and status messages never repeat stored content or
// internal error text: details go to the log as attributes.
//
// # Shutdown
//
// Shutdown stops the server in this order: health turns NOT_SERVING; new
// calls are refused; Append streams stop reading, wait for the events they
// already handed to the store to commit, send those receipts and end with
// UNAVAILABLE; following queries end; a stream whose client stopped reading
// is cut within a couple of seconds, with a log line; remaining calls are
// given until the context's deadline, after which they are cut, with a log
// line saying how many (ErrShutdownDeadline). The store is not closed by
// the server: close it after Shutdown returns (acknowledged events are
// durable either way).
//
// # Limits
//
// Call metadata is bounded (WithMaxHeaderListSize, 16 KiB) by gRPC's
// transport before any interceptor runs; health checks bypass the rate
// limit, so that probes answer during a storm of calls.
package server
