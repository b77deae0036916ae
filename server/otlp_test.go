package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

func kv(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intKV(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// agentTrace is one run of an agent as OpenTelemetry's GenAI
// instrumentation exports it: the agent span, a chat, a tool call that
// failed with an exception, an HTTP span that is not a GenAI span, and a
// span that names another agent than the key's.
func agentTrace() *coltracepb.ExportTraceServiceRequest {
	trace := []byte("trace-0123456789")
	at := uint64(time.Now().Add(-time.Minute).UnixNano())
	sp := func(id byte, parent byte, name string, attrs ...*commonpb.KeyValue) *tracepb.Span {
		s := &tracepb.Span{TraceId: trace, SpanId: []byte{0, 0, 0, 0, 0, 0, 0, id}, Name: name,
			StartTimeUnixNano: at + uint64(id)*1e6, EndTimeUnixNano: at + uint64(id)*1e6 + 5e8, Attributes: attrs}
		if parent != 0 {
			s.ParentSpanId = []byte{0, 0, 0, 0, 0, 0, 0, parent}
		}
		return s
	}
	failed := sp(3, 1, "execute_tool refund", kv("gen_ai.operation.name", "execute_tool"), kv("gen_ai.tool.name", "refund"),
		kv("gen_ai.tool.call.arguments", `{"order":"4411"}`))
	failed.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "gateway timeout"}
	failed.Events = []*tracepb.Span_Event{{Name: "exception", TimeUnixNano: failed.EndTimeUnixNano,
		Attributes: []*commonpb.KeyValue{kv("exception.type", "GatewayTimeout"), kv("exception.message", "no answer in 30s")}}}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "support-service")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			sp(1, 0, "invoke_agent support", kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.conversation.id", "conv-77"),
				kv("input.value", "Where is my order?"), kv("output.value", "It is delayed.")),
			sp(2, 1, "chat gpt-4o", kv("gen_ai.operation.name", "chat"), kv("gen_ai.conversation.id", "conv-77"),
				kv("gen_ai.provider.name", "openai"), kv("gen_ai.request.model", "gpt-4o"), intKV("gen_ai.usage.input_tokens", 120), intKV("gen_ai.usage.output_tokens", 12)),
			failed,
			sp(4, 3, "POST /refund", kv("http.request.method", "POST")),
			sp(5, 1, "chat gpt-4o", kv("gen_ai.operation.name", "chat"), kv("gen_ai.agent.id", "billing-agent")),
		}}},
	}}}
}

func TestOTLPExportOverGRPC(t *testing.T) {
	h := startSecure(t)
	traces := coltracepb.NewTraceServiceClient(h.conn)
	req := agentTrace()
	base, _ := h.st.Size() // the key changes
	resp, err := traces.Export(h.as("agent"), req)
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.GetPartialSuccess()
	if ps.GetRejectedSpans() != 2 || !strings.Contains(ps.GetErrorMessage(), "not a GenAI span") ||
		!strings.Contains(ps.GetErrorMessage(), "outside this key's scope") || !strings.Contains(ps.GetErrorMessage(), "span 0000000000000004") {
		t.Errorf("partial success = %v, want the HTTP span and the other agent's span", ps)
	}
	size, _ := h.st.Size()
	// start, output, end; chat; tool call and its exception.
	if size-base != 6 {
		t.Fatalf("the export appended %d events, want 6", size-base)
	}

	// A retried export is answered the same and appends nothing.
	again, err := traces.Export(h.as("agent"), req)
	if err != nil || !proto.Equal(again, resp) {
		t.Fatalf("re-export = %v, %v; want the first answer %v", again, err, resp)
	}
	if n, _ := h.st.Size(); n != size {
		t.Fatalf("re-export grew the log from %d to %d", size, n)
	}

	entries, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: "conv-77"}})
	if err != nil {
		t.Fatal(err)
	}
	// In log order the agent's span, sent first, comes first; by time the
	// chat falls within the session.
	sort.Slice(entries, func(i, j int) bool {
		return entries[i].GetEvent().GetOccurredAt().AsTime().Before(entries[j].GetEvent().GetOccurredAt().AsTime())
	})
	var got []string
	for _, e := range entries {
		ev := e.GetEvent()
		got = append(got, strings.TrimPrefix(event.KindOf(ev).String(), "EVENT_KIND_"))
		if ev.GetAgentId() != "support-agent" || e.GetStamp().GetPrincipal() == "" {
			t.Errorf("event %s: agent %q principal %q", ev.GetEventId(), ev.GetAgentId(), e.GetStamp().GetPrincipal())
		}
		if ev.GetTrace().GetTraceId() != "74726163652d30313233343536373839" {
			t.Errorf("event %s: trace %v", ev.GetEventId(), ev.GetTrace())
		}
	}
	if want := "SESSION_START LLM_CALL OUTPUT SESSION_END"; strings.Join(got, " ") != want {
		t.Errorf("session conv-77 holds %v, want %s", got, want)
	}
	failures, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{ErrorsOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(failures) != 2 || failures[0].GetEvent().GetToolCall().GetOutcome() != agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT ||
		failures[1].GetEvent().GetError().GetMessage() != "no answer in 30s" {
		t.Errorf("failures: %v", failures)
	}
}

func TestOTLPExportNeedsAnAgentKey(t *testing.T) {
	h := startSecure(t)
	traces := coltracepb.NewTraceServiceClient(h.conn)
	base, _ := h.st.Size()
	for who, want := range map[string]codes.Code{"developer": codes.PermissionDenied, "compliance": codes.PermissionDenied, "revoked": codes.Unauthenticated} {
		if _, err := traces.Export(h.as(who), agentTrace()); grpcstatus.Code(err) != want {
			t.Errorf("Export as %s: %v, want %v", who, err, want)
		}
	}
	if _, err := traces.Export(context.Background(), agentTrace()); grpcstatus.Code(err) != codes.Unauthenticated {
		t.Errorf("Export without a key: %v", err)
	}
	if n, _ := h.st.Size(); n != base {
		t.Errorf("refused exports appended %d events", n-base)
	}
}

// Missing fields are reported as missing before the key's scope is
// checked, on every ingest path.
func TestMissingFieldBeforeScope(t *testing.T) {
	h := startSecure(t)
	ev := agentEvents()[0]
	ev.AgentId = ""
	r := appendAs(t, h, "agent", []*agenttrailv1.Event{ev})[0].GetRejection()
	if codes.Code(r.GetCode()) != codes.InvalidArgument || r.GetField() != "event.agent_id" || !strings.Contains(r.GetMessage(), "is required") {
		t.Errorf("an event without agent_id from a scoped key: %v, want INVALID_ARGUMENT naming event.agent_id", r)
	}
}

func postOTLP(t *testing.T, url, key string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestOTLPExportOverHTTP(t *testing.T) {
	h := startSecure(t)
	mux := http.NewServeMux()
	mux.Handle("/v1/traces", h.srv.OTLPHandler())
	web := httptest.NewServer(mux)
	defer web.Close()
	body, _ := proto.Marshal(agentTrace())
	base, _ := h.st.Size()

	resp, b := postOTLP(t, web.URL, h.keys["agent"], body, nil)
	var out coltracepb.ExportTraceServiceResponse
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(b, &out) != nil {
		t.Fatalf("POST /v1/traces: %s %q", resp.Status, b)
	}
	if out.GetPartialSuccess().GetRejectedSpans() != 2 {
		t.Errorf("partial success %v", out.GetPartialSuccess())
	}
	size, _ := h.st.Size()
	if size-base != 6 {
		t.Fatalf("the export appended %d events, want 6", size-base)
	}

	// gzip, as exporters send it: the same spans again, nothing new.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(body)
	zw.Close()
	if resp, b := postOTLP(t, web.URL, h.keys["agent"], z.Bytes(), map[string]string{"Content-Encoding": "gzip"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("gzip POST: %s %q", resp.Status, b)
	}
	if n, _ := h.st.Size(); n != size {
		t.Errorf("the re-export over HTTP grew the log from %d to %d", size, n)
	}

	bomb := bytes.Repeat([]byte{0}, 8<<20)
	z.Reset()
	zw = gzip.NewWriter(&z)
	zw.Write(bomb)
	zw.Close()
	for _, tc := range []struct {
		name   string
		key    string
		body   []byte
		header map[string]string
		want   int
		code   codes.Code
	}{
		{"no key", "", body, nil, http.StatusUnauthorized, codes.Unauthenticated},
		{"developer key", h.keys["developer"], body, nil, http.StatusForbidden, codes.PermissionDenied},
		{"JSON", h.keys["agent"], []byte("{}"), map[string]string{"Content-Type": "application/json"}, http.StatusUnsupportedMediaType, codes.InvalidArgument},
		{"not protobuf", h.keys["agent"], []byte("\xff\xff\xff"), nil, http.StatusBadRequest, codes.InvalidArgument},
		{"not gzip", h.keys["agent"], body, map[string]string{"Content-Encoding": "gzip"}, http.StatusBadRequest, codes.InvalidArgument},
		{"gzip bomb", h.keys["agent"], z.Bytes(), map[string]string{"Content-Encoding": "gzip"}, http.StatusRequestEntityTooLarge, codes.ResourceExhausted},
		{"too large", h.keys["agent"], make([]byte, 5<<20), nil, http.StatusRequestEntityTooLarge, codes.ResourceExhausted},
	} {
		resp, b := postOTLP(t, web.URL, tc.key, tc.body, tc.header)
		var st status.Status
		if resp.StatusCode != tc.want || proto.Unmarshal(b, &st) != nil || codes.Code(st.GetCode()) != tc.code || st.GetMessage() == "" {
			t.Errorf("%s: %s, status %v; want %d and %v", tc.name, resp.Status, &st, tc.want, tc.code)
		}
	}
	if r, err := http.Get(web.URL + "/v1/traces"); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/traces: %v %v", r.Status, err)
	}
	if n, _ := h.st.Size(); n != size {
		t.Errorf("refused requests changed the log from %d to %d events", size, n)
	}
}
