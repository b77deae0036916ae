package otlp_test

import (
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/agenttrail/agenttrail/server/otlp"
	"github.com/agenttrail/agenttrail/store/event"
)

// FuzzRequest maps arbitrary export requests: never a panic, the same
// events on every mapping, and a reason for every span that gives none.
func FuzzRequest(f *testing.F) {
	for _, c := range [][]any{
		{"gen_ai.operation.name", "chat", "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`},
		{"gen_ai.operation.name", "invoke_agent", "output.value", "done", "gen_ai.tool.definitions", `[{"name":"x"}]`},
		{"openinference.span.kind", "LLM", "llm.input_messages.0.message.role", "user", "llm.output_messages.0.message.tool_calls.0.tool_call.function.name", "f"},
		{"llm.request.type", "chat", "gen_ai.prompt.0.content", "x", "gen_ai.completion.1.tool_calls.0.arguments", "{}"},
	} {
		req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource:   &resourcepb.Resource{Attributes: attrs("service.name", "fuzz")},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span(c...)}}},
		}}}
		b, _ := proto.Marshal(req)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req coltracepb.ExportTraceServiceRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		a, b2 := otlp.Request(&req, otlp.Options{}), otlp.Request(&req, otlp.Options{AgentID: "scoped"})
		if len(a) != len(b2) {
			t.Fatalf("%d and %d results", len(a), len(b2))
		}
		again := otlp.Request(&req, otlp.Options{})
		for i, r := range a {
			if (r.Err == nil) == (len(r.Events) == 0) {
				t.Fatalf("span %d: %d events and error %v", i, len(r.Events), r.Err)
			}
			for j, ev := range r.Events {
				if !proto.Equal(ev, again[i].Events[j]) {
					t.Fatalf("span %d event %d differs between mappings", i, j)
				}
				if err := event.CheckRequired(ev); err != nil {
					t.Fatalf("span %d event %d: %v", i, j, err)
				}
			}
		}
	})
}
