package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// otlpServer is a running `agenttrail serve` with an agent key bound to
// agentID and a compliance key.
type otlpServer struct {
	bin, data, agentKey, auditKey string
	srv                           *served
}

func startOTLPServer(t *testing.T, agentID string) *otlpServer {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	s := &otlpServer{bin: bin, data: t.TempDir()}
	s.agentKey = createKey(t, bin, s.data, "--principal", agentID+"-exporter", "--role", "agent", "--agent-id", agentID)
	s.auditKey = createKey(t, bin, s.data, "--principal", "auditor", "--role", "compliance")
	s.srv = startServe(t, bin, s.data, "127.0.0.1:0")
	return s
}

// checkAgentRun checks the trail of one agent run exported over OTLP: the
// events of the session, by time, their fields, the failures, and that
// the log verifies. Both exporters sent the run twice, so finding each
// event once shows that the re-export added nothing.
func (s *otlpServer) checkAgentRun(t *testing.T, agentID, session string) {
	t.Helper()
	conn := dial(t, s.srv.addr)
	query := agenttrailv1.NewQueryServiceClient(conn)
	read := func(f *agenttrailv1.Filter) []*agenttrailv1.Event {
		stream, err := query.Query(withKey(s.auditKey), &agenttrailv1.QueryRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []*agenttrailv1.Event
		for {
			r, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.GetEntry().GetEvent())
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].GetOccurredAt().AsTime().Before(out[j].GetOccurredAt().AsTime()) })
		return out
	}
	evs := read(&agenttrailv1.Filter{AgentId: agentID})
	var got []string
	for _, ev := range evs {
		got = append(got, strings.ToLower(strings.TrimPrefix(event.KindOf(ev).String(), "EVENT_KIND_")))
		if ev.GetSessionId() != session {
			t.Errorf("event %s in session %q, want %q", ev.GetEventId(), ev.GetSessionId(), session)
		}
		if ev.GetEventId()[14] != '8' || len(ev.GetTrace().GetTraceId()) != 32 {
			t.Errorf("event %s: id not a derived UUIDv8, or no trace context (%v)", ev.GetEventId(), ev.GetTrace())
		}
	}
	want := "session_start llm_call tool_call tool_call error output session_end"
	if strings.Join(got, " ") != want {
		t.Fatalf("the trail of %s holds %q, want %q (each once: the re-export must add nothing)", agentID, strings.Join(got, " "), want)
	}
	llm := evs[1].GetLlmCall()
	if llm.GetProviderName() != "openai" || llm.GetRequestModel() != "gpt-4o" || llm.GetInputTokens() != 812 || llm.GetOutputTokens() != 46 ||
		llm.GetCacheReadInputTokens() != 512 || len(llm.GetToolCalls()) != 1 || llm.GetToolCalls()[0].GetToolName() != "lookup_order" ||
		len(llm.GetInputMessages()) != 1 || llm.GetInputMessages()[0].GetContent() != "Where is order 4411?" {
		t.Errorf("llm call: %v", llm)
	}
	if tc := evs[2].GetToolCall(); tc.GetToolName() != "lookup_order" || tc.GetToolCallId() != "call_1" || tc.GetOutcome() != agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS || tc.GetResult() != `{"status": "delayed"}` && tc.GetResult() != `{"status":"delayed"}` {
		t.Errorf("tool call: %v", tc)
	}
	if tc := evs[3].GetToolCall(); tc.GetToolName() != "notify_customer" || tc.GetOutcome() != agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT {
		t.Errorf("failed tool call: %v", tc)
	}
	if e := evs[4].GetError(); !strings.Contains(e.GetMessage(), "mail gateway did not answer") {
		t.Errorf("error: %v", e)
	}
	if o := evs[5].GetOutput(); !o.GetFinal() || !strings.Contains(o.GetText(), "delayed") {
		t.Errorf("output: %v", o)
	}
	if evs[0].GetSessionStart().GetUserMessage() != "Where is order 4411?" || evs[6].GetSessionEnd().GetReason() != agenttrailv1.EndReason_END_REASON_COMPLETED {
		t.Errorf("session: %v ... %v", evs[0], evs[6])
	}
	if failures := read(&agenttrailv1.Filter{AgentId: agentID, ErrorsOnly: true}); len(failures) != 2 {
		t.Errorf("errors_only found %d events, want the failed tool call and its error", len(failures))
	}
	// The log verifies, online, with the key the server signs with.
	vk, err := agenttrailv1.NewLogServiceClient(conn).GetVerifierKey(withKey(s.auditKey), &agenttrailv1.GetVerifierKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a checkpoint covers the exports
	cmd := exec.Command(s.bin, "verify", "--addr", s.srv.addr, "--verifier-key", vk.GetVerifierKey())
	cmd.Env = append(os.Environ(), "AGENTTRAIL_KEY="+s.auditKey)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// A Python agent instrumented with the OpenTelemetry SDK exports its run
// over OTLP/gRPC to the real binary, twice.
func TestOTLPFromPythonSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and the OpenTelemetry Python SDK")
	}
	python, err := filepath.Abs("testdata/otel/.venv/bin/python")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the OpenTelemetry SDK's environment is missing (%v): run bash .ci/setup", err)
	}
	s := startOTLPServer(t, "py-agent")
	cmd := exec.Command(python, "testdata/otel/agent.py")
	cmd.Env = append(os.Environ(), "AGENTTRAIL_ADDR="+s.srv.addr, "AGENTTRAIL_KEY="+s.agentKey)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("agent.py: %v\n%s%s", err, out, stderr.String())
	}
	var res struct {
		Spans        int
		First, Again string
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Spans != 4 || res.First != "SUCCESS" || res.Again != "SUCCESS" {
		t.Fatalf("agent.py printed %q (%v); stderr %s", out, err, stderr.String())
	}
	if strings.Contains(stderr.String(), "partial success") || strings.Contains(strings.ToLower(stderr.String()), "rejected") {
		t.Errorf("the exporter reported rejected spans: %s", stderr.String())
	}
	s.checkAgentRun(t, "py-agent", "py-conv-1")
}

// A Go agent instrumented with the OpenTelemetry SDK exports its run with
// otlptracegrpc to the real binary, twice.
func TestOTLPFromGoSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	s := startOTLPServer(t, "go-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.srv.addr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + s.agentKey}))
	if err != nil {
		t.Fatal(err)
	}
	kept := tracetest.NewInMemoryExporter()
	res := resource.NewSchemaless(attribute.String("service.name", "go-support-service"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSyncer(kept))
	tracer := tp.Tracer("agenttrail-e2e-agent")

	conv := attribute.String("gen_ai.conversation.id", "go-conv-1")
	input := attribute.String("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Where is order 4411?"}]}]`)
	actx, agent := tracer.Start(ctx, "invoke_agent support")
	agent.SetAttributes(attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.id", "go-agent"), conv, input)
	_, chat := tracer.Start(actx, "chat gpt-4o")
	chat.SetAttributes(attribute.String("gen_ai.operation.name", "chat"), conv, input, attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o"), attribute.Int("gen_ai.usage.input_tokens", 812), attribute.Int("gen_ai.usage.output_tokens", 46),
		attribute.Int("gen_ai.usage.cache_read.input_tokens", 512), attribute.StringSlice("gen_ai.response.finish_reasons", []string{"tool_calls"}),
		attribute.String("gen_ai.output.messages", `[{"role":"assistant","finish_reason":"tool_calls","parts":[{"type":"tool_call","id":"call_1","name":"lookup_order","arguments":{"order_id":"4411"}}]}]`))
	chat.End()
	_, lookup := tracer.Start(actx, "execute_tool lookup_order")
	lookup.SetAttributes(attribute.String("gen_ai.operation.name", "execute_tool"), conv, attribute.String("gen_ai.tool.name", "lookup_order"),
		attribute.String("gen_ai.tool.call.id", "call_1"), attribute.String("gen_ai.tool.call.arguments", `{"order_id":"4411"}`),
		attribute.String("gen_ai.tool.call.result", `{"status":"delayed"}`))
	lookup.End()
	_, notify := tracer.Start(actx, "execute_tool notify_customer")
	notify.SetAttributes(attribute.String("gen_ai.operation.name", "execute_tool"), conv, attribute.String("gen_ai.tool.name", "notify_customer"),
		attribute.String("error.type", "timeout"))
	notify.RecordError(errors.New("mail gateway did not answer"))
	notify.SetStatus(codes.Error, "mail gateway did not answer")
	notify.End()
	agent.SetAttributes(attribute.String("output.value", "Order 4411 is delayed; we could not mail you."))
	agent.End()

	spans := kept.GetSpans().Snapshots()
	if len(spans) != 4 {
		t.Fatalf("%d spans recorded", len(spans))
	}
	for i := range 2 { // the export, and the same spans again
		if err := exp.ExportSpans(ctx, spans); err != nil {
			t.Fatalf("export %d: %v", i+1, err)
		}
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	tp.Shutdown(ctx)
	s.checkAgentRun(t, "go-agent", "go-conv-1")
}

// The binary's HTTP listener takes OTLP/HTTP exports and serves /metrics
// and /healthz; the scrape shows the export.
func TestOTLPOverHTTPAndMetricsFromTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	agentKey := createKey(t, bin, data, "--principal", "http-exporter", "--role", "agent", "--agent-id", "http-agent")
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var url string
	lines := bufio.NewScanner(stdout)
	for url == "" && lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "web console: "); ok {
			url = strings.TrimSpace(rest)
		}
	}
	if url == "" {
		t.Fatal("serve did not print its HTTP URL")
	}
	go io.Copy(io.Discard, stdout)

	now := uint64(time.Now().Add(-time.Minute).UnixNano())
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: []byte("http-trace-01234"), SpanId: []byte("span-001"), Name: "chat gpt-4o", StartTimeUnixNano: now, EndTimeUnixNano: now + 4e8,
				Attributes: []*commonpb.KeyValue{
					{Key: "gen_ai.operation.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "chat"}}},
					{Key: "gen_ai.request.model", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "gpt-4o"}}},
				}},
			{TraceId: []byte("http-trace-01234"), SpanId: []byte("span-002"), Name: "GET /", StartTimeUnixNano: now, EndTimeUnixNano: now + 1e8},
		}}},
	}}}
	body, _ := proto.Marshal(req)
	post, _ := http.NewRequest(http.MethodPost, url+"v1/traces", bytes.NewReader(body))
	post.Header.Set("Content-Type", "application/x-protobuf")
	post.Header.Set("Authorization", "Bearer "+agentKey)
	resp, err := http.DefaultClient.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out coltracepb.ExportTraceServiceResponse
	if resp.StatusCode != http.StatusOK || proto.Unmarshal(b, &out) != nil || out.GetPartialSuccess().GetRejectedSpans() != 1 {
		t.Fatalf("POST /v1/traces: %s, %v", resp.Status, &out)
	}
	for path, want := range map[string][]string{
		"healthz": {"ok"},
		"metrics": {
			`agenttrail_otlp_spans_total{outcome="accepted"} 1`,
			`agenttrail_otlp_spans_total{outcome="rejected"} 1`,
			`agenttrail_events_appended_total{kind="llm_call",outcome="stored"} 1`,
			`agenttrail_agent_events_last_minute{agent="http-agent"}`,
			"agenttrail_disk_free_bytes ",
			"agenttrail_log_size ",
			"agenttrail_store_commit_seconds_count ",
			"agenttrail_store_batch_events_sum ",
		},
	} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, w := range want {
			if resp.StatusCode != 200 || !strings.Contains(string(b), w) {
				t.Errorf("GET /%s: %s, lacks %q", path, resp.Status, w)
			}
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGINT: %v", err)
	}
}
