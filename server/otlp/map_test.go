package otlp_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/otlp"
)

// A mapping case covers one row of the mapping table in docs/otlp.md; the
// row's first cell is its name. TestEveryDocumentedRowIsTested checks that
// the table and these cases name the same rows.
type mappingCase struct {
	row string
	run func(t *testing.T)
}

var K = struct {
	Start, LLM, Tool, Reasoning, Error, Output, End agenttrailv1.EventKind
}{
	agenttrailv1.EventKind_EVENT_KIND_SESSION_START, agenttrailv1.EventKind_EVENT_KIND_LLM_CALL,
	agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL, agenttrailv1.EventKind_EVENT_KIND_REASONING,
	agenttrailv1.EventKind_EVENT_KIND_ERROR, agenttrailv1.EventKind_EVENT_KIND_OUTPUT,
	agenttrailv1.EventKind_EVENT_KIND_SESSION_END,
}

func opCase(row, op string, want []agenttrailv1.EventKind) mappingCase {
	return mappingCase{row: row, run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", op, "gen_ai.tool.name", "search"))
		if got := kinds(r); !slices.Equal(got, want) {
			t.Fatalf("gen_ai.operation.name=%s gave %v (err %v), want %v", op, got, r.Err, want)
		}
		if want[0] == K.LLM && r.Events[0].GetLlmCall().GetOperationName() != op {
			t.Errorf("operation_name = %q, want %q", r.Events[0].GetLlmCall().GetOperationName(), op)
		}
	}}
}

func rejected(t *testing.T, r otlp.Result, reasonHas string) {
	t.Helper()
	if r.Err == nil || len(r.Events) != 0 {
		t.Fatalf("got %d events, err %v; want the span rejected", len(r.Events), r.Err)
	}
	if !strings.Contains(r.Err.Error(), reasonHas) {
		t.Errorf("reason %q does not mention %q", r.Err, reasonHas)
	}
}

var cases = []mappingCase{
	// Operations.
	opCase("gen_ai.operation.name = chat", "chat", []agenttrailv1.EventKind{K.LLM}),
	opCase("gen_ai.operation.name = text_completion", "text_completion", []agenttrailv1.EventKind{K.LLM}),
	opCase("gen_ai.operation.name = generate_content", "generate_content", []agenttrailv1.EventKind{K.LLM}),
	opCase("gen_ai.operation.name = embeddings", "embeddings", []agenttrailv1.EventKind{K.LLM}),
	opCase("gen_ai.operation.name = execute_tool", "execute_tool", []agenttrailv1.EventKind{K.Tool}),
	opCase("gen_ai.operation.name = invoke_agent", "invoke_agent", []agenttrailv1.EventKind{K.Start, K.End}),
	opCase("gen_ai.operation.name = create_agent", "create_agent", []agenttrailv1.EventKind{K.Start, K.End}),
	opCase("gen_ai.operation.name = plan", "plan", []agenttrailv1.EventKind{K.Reasoning}),
	{row: "gen_ai.operation.name = retrieval, search_memory, create_memory, update_memory, upsert_memory, delete_memory, create_memory_store, delete_memory_store", run: func(t *testing.T) {
		for _, op := range []string{"retrieval", "search_memory", "create_memory", "update_memory", "upsert_memory", "delete_memory", "create_memory_store", "delete_memory_store"} {
			r := mapSpan(t, span("gen_ai.operation.name", op, "gen_ai.retrieval.query.text", "weather in Paris",
				"gen_ai.retrieval.documents", `[{"id":"doc_1","score":0.9}]`))
			c := tool(t, r)
			if c.GetToolName() != op || c.GetToolType() != "datastore" || c.GetArguments() != "weather in Paris" || c.GetResult() != `[{"id":"doc_1","score":0.9}]` {
				t.Errorf("%s: %v", op, c)
			}
		}
		c := tool(t, mapSpan(t, span("gen_ai.operation.name", "search_memory", "gen_ai.memory.query.text", "prefs", "gen_ai.memory.records", `[{"id":"m1"}]`)))
		if c.GetArguments() != "prefs" || c.GetResult() != `[{"id":"m1"}]` {
			t.Errorf("memory: %v", c)
		}
	}},
	{row: "gen_ai.operation.name = any other value", run: func(t *testing.T) {
		rejected(t, mapSpan(t, span("gen_ai.operation.name", "invoke_workflow")), "gen_ai.operation.name")
	}},
	{row: "openinference.span.kind", run: func(t *testing.T) {
		for kind, want := range map[string]agenttrailv1.EventKind{"LLM": K.LLM, "EMBEDDING": K.LLM, "TOOL": K.Tool, "AGENT": K.Start, "RETRIEVER": K.Tool} {
			r := mapSpan(t, span("openinference.span.kind", kind, "tool.name", "lookup"))
			if len(r.Events) == 0 || kinds(r)[0] != want {
				t.Errorf("openinference.span.kind=%s gave %v (err %v), want %v first", kind, kinds(r), r.Err, want)
			}
		}
		if c := llm(t, mapSpan(t, span("openinference.span.kind", "EMBEDDING"))); c.GetOperationName() != "embeddings" {
			t.Errorf("EMBEDDING: operation %q", c.GetOperationName())
		}
		for _, kind := range []string{"CHAIN", "RERANKER", "GUARDRAIL", "EVALUATOR", "PROMPT"} {
			rejected(t, mapSpan(t, span("openinference.span.kind", kind)), "openinference.span.kind")
		}
	}},
	{row: "traceloop.span.kind", run: func(t *testing.T) {
		c := tool(t, mapSpan(t, span("traceloop.span.kind", "tool", "traceloop.entity.name", "get_weather",
			"traceloop.entity.input", `{"city":"Paris"}`, "traceloop.entity.output", `{"temp":12}`)))
		if c.GetToolName() != "get_weather" || c.GetArguments() != `{"city":"Paris"}` || c.GetResult() != `{"temp":12}` {
			t.Errorf("traceloop tool: %v", c)
		}
		if got := kinds(mapSpan(t, span("traceloop.span.kind", "agent"))); !slices.Equal(got, []agenttrailv1.EventKind{K.Start, K.End}) {
			t.Errorf("traceloop agent: %v", got)
		}
		rejected(t, mapSpan(t, span("traceloop.span.kind", "workflow")), "traceloop.span.kind")
	}},
	{row: "llm.request.type", run: func(t *testing.T) {
		for typ, op := range map[string]string{"chat": "chat", "completion": "text_completion", "embedding": "embeddings"} {
			if c := llm(t, mapSpan(t, span("llm.request.type", typ, "gen_ai.system", "openai"))); c.GetOperationName() != op {
				t.Errorf("llm.request.type=%s: operation %q, want %q", typ, c.GetOperationName(), op)
			}
		}
		rejected(t, mapSpan(t, span("llm.request.type", "rerank")), "llm.request.type")
	}},
	{row: "gen_ai.provider.name or gen_ai.system with gen_ai.request.model, no operation", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("gen_ai.system", "openai", "gen_ai.request.model", "gpt-4")))
		if c.GetOperationName() != "chat" || c.GetRequestModel() != "gpt-4" || c.GetProviderName() != "openai" {
			t.Errorf("%v", c)
		}
	}},
	{row: "any other span", run: func(t *testing.T) {
		rejected(t, mapSpan(t, span("http.request.method", "GET", "url.full", "https://example.com/x")), "not a GenAI span")
	}},

	// The envelope.
	{row: "trace_id, span_id, parent_span_id", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "chat"))
		tr := r.Events[0].GetTrace()
		if tr.GetTraceId() != hex.EncodeToString(traceID) || tr.GetSpanId() != hex.EncodeToString(spanID) || tr.GetParentSpanId() != hex.EncodeToString(parent) {
			t.Errorf("trace = %v", tr)
		}
		if id := r.Events[0].GetEventId(); id != otlp.EventID(traceID, spanID, uint64(start.UnixMilli()), "span") || id[14] != '8' {
			t.Errorf("event id %s is not the span's derived UUIDv8", id)
		}
		bad := span("gen_ai.operation.name", "chat")
		bad.SpanId = make([]byte, 8)
		rejected(t, mapSpan(t, bad), "span_id")
		bad = span("gen_ai.operation.name", "chat")
		bad.StartTimeUnixNano = 0
		rejected(t, mapSpan(t, bad), "start_time")
	}},
	{row: "gen_ai.conversation.id, session.id", run: func(t *testing.T) {
		if s := mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.conversation.id", "conv_5j66")).Events[0].GetSessionId(); s != "conv_5j66" {
			t.Errorf("session %q", s)
		}
		if s := mapSpan(t, span("openinference.span.kind", "LLM", "session.id", "26bcd3d2-cad2")).Events[0].GetSessionId(); s != "26bcd3d2-cad2" {
			t.Errorf("session %q", s)
		}
		ev := mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.conversation.id", "jane@example.com thread")).Events[0]
		if !strings.HasPrefix(ev.GetSessionId(), "h-") || strings.Contains(ev.GetSessionId(), "jane") {
			t.Errorf("a conversation id that is not an id gave session %q, want it hashed", ev.GetSessionId())
		}
		if ev.GetAttributes()["gen_ai.conversation.id"] != "jane@example.com thread" {
			t.Errorf("the original conversation id is not kept in attributes: %v", ev.GetAttributes())
		}
	}},
	{row: "(no conversation id)", run: func(t *testing.T) {
		if s := mapSpan(t, span("gen_ai.operation.name", "chat")).Events[0].GetSessionId(); s != hex.EncodeToString(traceID) {
			t.Errorf("session %q, want the trace id", s)
		}
	}},
	{row: "gen_ai.agent.id, gen_ai.agent.name, agent.name; resource gen_ai.agent.id, gen_ai.agent.name; the key's agent; resource service.name", run: func(t *testing.T) {
		for _, tc := range []struct {
			span  []any
			res   *resourcepb.Resource
			scope string
			want  string
		}{
			{[]any{"gen_ai.agent.id", "asst_5j66", "gen_ai.agent.name", "Math Tutor"}, defaultResource, "", "asst_5j66"},
			{[]any{"gen_ai.agent.name", "Math Tutor"}, defaultResource, "", "Math-Tutor"},
			{[]any{"agent.name", "researcher"}, defaultResource, "", "researcher"},
			{nil, &resourcepb.Resource{Attributes: attrs("gen_ai.agent.id", "res-agent", "service.name", "svc")}, "", "res-agent"},
			{nil, defaultResource, "scoped-agent", "scoped-agent"},
			{nil, defaultResource, "", "support-bot"},
			{nil, &resourcepb.Resource{Attributes: attrs("service.name", "unknown_service:python")}, "", "unknown_service:python"},
		} {
			sp := span(append([]any{"gen_ai.operation.name", "chat"}, tc.span...)...)
			if got := mapWith(t, tc.res, sp, otlp.Options{AgentID: tc.scope}).Events[0].GetAgentId(); got != tc.want {
				t.Errorf("%v %v scope %q: agent %q, want %q", tc.span, tc.res, tc.scope, got, tc.want)
			}
		}
		rejected(t, mapWith(t, &resourcepb.Resource{}, span("gen_ai.operation.name", "chat"), otlp.Options{}), "no agent id")
	}},
	{row: "gen_ai.agent.version; resource service.version", run: func(t *testing.T) {
		if v := mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.agent.version", "2.1")).Events[0].GetAgentVersion(); v != "2.1" {
			t.Errorf("version %q", v)
		}
		res := &resourcepb.Resource{Attributes: attrs("service.name", "bot", "service.version", "1.4.0")}
		if v := mapWith(t, res, span("gen_ai.operation.name", "chat"), otlp.Options{}).Events[0].GetAgentVersion(); v != "1.4.0" {
			t.Errorf("version %q", v)
		}
	}},
	{row: "user.id, enduser.id", run: func(t *testing.T) {
		if u := mapSpan(t, span("gen_ai.operation.name", "chat", "user.id", "customer-42")).Events[0].GetUserId(); u != "customer-42" {
			t.Errorf("user %q", u)
		}
		ev := mapSpan(t, span("gen_ai.operation.name", "chat", "enduser.id", "jane@example.com")).Events[0]
		if !strings.HasPrefix(ev.GetUserId(), "h-") {
			t.Errorf("an email as user id gave %q, want it pseudonymized", ev.GetUserId())
		}
	}},
	{row: "start_time_unix_nano, end_time_unix_nano", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "invoke_agent"))
		if !r.Events[0].GetOccurredAt().AsTime().Equal(start) || !r.Events[1].GetOccurredAt().AsTime().Equal(start.Add(time.Second)) {
			t.Errorf("start at %v, end at %v", r.Events[0].GetOccurredAt().AsTime(), r.Events[1].GetOccurredAt().AsTime())
		}
	}},

	// LLM calls.
	{row: "gen_ai.provider.name, gen_ai.system, llm.provider, llm.system", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"} {
			if p := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", k, "anthropic"))).GetProviderName(); p != "anthropic" {
				t.Errorf("%s: provider %q", k, p)
			}
		}
		// The current name wins; the deprecated one is kept when both differ.
		r := mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.provider.name", "azure.ai.openai", "gen_ai.system", "openai"))
		if llm(t, r).GetProviderName() != "azure.ai.openai" || r.Events[0].GetAttributes()["gen_ai.system"] != "openai" {
			t.Errorf("%v %v", llm(t, r), r.Events[0].GetAttributes())
		}
	}},
	{row: "gen_ai.request.model, llm.request.model_name, llm.model_name; gen_ai.response.model, llm.response.model_name; gen_ai.response.id", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.request.model", "gpt-4", "gen_ai.response.model", "gpt-4-0613", "gen_ai.response.id", "chatcmpl-123")))
		if c.GetRequestModel() != "gpt-4" || c.GetResponseModel() != "gpt-4-0613" || c.GetResponseId() != "chatcmpl-123" {
			t.Errorf("%v", c)
		}
		c = llm(t, mapSpan(t, span("openinference.span.kind", "LLM", "llm.model_name", "gpt-3.5-turbo")))
		if c.GetRequestModel() != "gpt-3.5-turbo" {
			t.Errorf("%v", c)
		}
	}},
	{row: "gen_ai.usage.input_tokens, gen_ai.usage.prompt_tokens, llm.token_count.prompt", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"} {
			if n := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", k, 812))).GetInputTokens(); n != 812 {
				t.Errorf("%s: %d", k, n)
			}
		}
		r := mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.usage.input_tokens", -3))
		if llm(t, r).GetInputTokens() != 0 || r.Events[0].GetAttributes()["gen_ai.usage.input_tokens"] != "-3" {
			t.Errorf("a negative count is not kept aside: %v", r.Events[0])
		}
	}},
	{row: "gen_ai.usage.output_tokens, gen_ai.usage.completion_tokens, llm.token_count.completion", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"} {
			if n := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", k, 46))).GetOutputTokens(); n != 46 {
				t.Errorf("%s: %d", k, n)
			}
		}
	}},
	{row: "gen_ai.usage.cache_read.input_tokens, gen_ai.usage.cache_read_input_tokens, llm.token_count.prompt_details.cache_read", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read"} {
			if n := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", k, 50))).GetCacheReadInputTokens(); n != 50 {
				t.Errorf("%s: %d", k, n)
			}
		}
	}},
	{row: "gen_ai.usage.cache_creation.input_tokens, gen_ai.usage.cache_creation_input_tokens, llm.token_count.prompt_details.cache_write", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write"} {
			if n := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", k, 25))).GetCacheCreationInputTokens(); n != 25 {
				t.Errorf("%s: %d", k, n)
			}
		}
	}},
	{row: "gen_ai.usage.reasoning.output_tokens, llm.token_count.completion_details.reasoning", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning"} {
			if n := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", k, "10"))).GetReasoningOutputTokens(); n != 10 {
				t.Errorf("%s: %d", k, n)
			}
		}
	}},
	{row: "gen_ai.response.finish_reasons", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.response.finish_reasons", []any{"stop", "length"})))
		if !slices.Equal(c.GetFinishReasons(), []string{"stop", "length"}) {
			t.Errorf("%v", c.GetFinishReasons())
		}
		c = llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"hi"}],"finish_reason":"stop"}]`)))
		if !slices.Equal(c.GetFinishReasons(), []string{"stop"}) {
			t.Errorf("from output messages: %v", c.GetFinishReasons())
		}
	}},
	{row: "gen_ai.input.messages", run: func(t *testing.T) {
		in := `[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},` +
			`{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},` +
			`{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"location":"Paris"}}]},` +
			`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"rainy, 57°F"}]}]`
		r := mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.input.messages", in))
		msgs := llm(t, r).GetInputMessages()
		if len(msgs) != 4 || msgs[0].GetRole() != agenttrailv1.Role_ROLE_SYSTEM || msgs[1].GetContent() != "Weather in Paris?" ||
			msgs[2].GetToolCalls()[0].GetToolName() != "get_weather" || msgs[2].GetToolCalls()[0].GetArgumentsJson() != `{"location":"Paris"}` ||
			msgs[3].GetToolCallId() != "call_1" || msgs[3].GetContent() != "rainy, 57°F" || msgs[3].GetRole() != agenttrailv1.Role_ROLE_TOOL {
			t.Errorf("messages %v", msgs)
		}
		if _, kept := r.Events[0].GetAttributes()["gen_ai.input.messages"]; kept {
			t.Errorf("fully mapped messages are also kept raw")
		}
		// Structured (not a JSON string), and with a part type that has
		// no field: mapped, and kept raw as well.
		structured := []any{map[string]any{"role": "user", "parts": []any{
			map[string]any{"type": "text", "content": "Describe this"},
			map[string]any{"type": "uri", "modality": "image", "uri": "https://example.com/a.png"},
		}}}
		r = mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.input.messages", structured))
		if msgs := llm(t, r).GetInputMessages(); len(msgs) != 1 || msgs[0].GetContent() != "Describe this" {
			t.Errorf("structured messages %v", msgs)
		}
		if raw := r.Events[0].GetAttributes()["gen_ai.input.messages"]; !strings.Contains(raw, "a.png") {
			t.Errorf("the image part is lost: attributes %v", r.Events[0].GetAttributes())
		}
	}},
	{row: "gen_ai.output.messages", run: func(t *testing.T) {
		out := `[{"role":"assistant","parts":[{"type":"text","content":"Let me check."},{"type":"tool_call","id":"call_2","name":"lookup","arguments":"{\"id\":7}"}],"finish_reason":"tool_calls"}]`
		c := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.output.messages", out)))
		if c.GetOutputText() != "Let me check." || len(c.GetToolCalls()) != 1 || c.GetToolCalls()[0].GetToolCallId() != "call_2" || c.GetToolCalls()[0].GetArgumentsJson() != `{"id":7}` {
			t.Errorf("%v", c)
		}
	}},
	{row: "gen_ai.system_instructions", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.system_instructions", `[{"type":"text","content":"You are a translator."}]`))
		c := llm(t, r)
		sum := sha256.Sum256([]byte("You are a translator."))
		if c.GetSystemInstructions() != "You are a translator." || r.Events[0].GetSystemPromptHash() != hex.EncodeToString(sum[:]) {
			t.Errorf("%q hash %q", c.GetSystemInstructions(), r.Events[0].GetSystemPromptHash())
		}
	}},
	{row: "gen_ai.prompt, gen_ai.completion (deprecated, JSON)", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat",
			"gen_ai.prompt", `[{"role":"user","content":"What is 2+2?"}]`,
			"gen_ai.completion", `[{"role":"assistant","content":"4"}]`)))
		if len(c.GetInputMessages()) != 1 || c.GetInputMessages()[0].GetContent() != "What is 2+2?" || c.GetOutputText() != "4" {
			t.Errorf("%v", c)
		}
	}},
	{row: "gen_ai.prompt.N.*, gen_ai.completion.N.* (OpenLLMetry)", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("llm.request.type", "chat", "gen_ai.system", "openai",
			"gen_ai.prompt.0.role", "system", "gen_ai.prompt.0.content", "Be brief.",
			"gen_ai.prompt.1.role", "user", "gen_ai.prompt.1.content", "Hi",
			"gen_ai.completion.0.role", "assistant", "gen_ai.completion.0.content", "Hello!", "gen_ai.completion.0.finish_reason", "stop",
			"gen_ai.completion.0.tool_calls.0.id", "call_9", "gen_ai.completion.0.tool_calls.0.name", "search", "gen_ai.completion.0.tool_calls.0.arguments", `{"q":"x"}`)))
		if len(c.GetInputMessages()) != 2 || c.GetInputMessages()[1].GetContent() != "Hi" || c.GetOutputText() != "Hello!" ||
			!slices.Equal(c.GetFinishReasons(), []string{"stop"}) || len(c.GetToolCalls()) != 1 || c.GetToolCalls()[0].GetToolName() != "search" {
			t.Errorf("%v", c)
		}
	}},
	{row: "llm.input_messages.N.message.*, llm.output_messages.N.message.* (OpenInference)", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("openinference.span.kind", "LLM",
			"llm.input_messages.0.message.role", "user", "llm.input_messages.0.message.content", "What's the weather?",
			"llm.output_messages.0.message.role", "assistant",
			"llm.output_messages.0.message.tool_calls.0.tool_call.id", "call_62136355",
			"llm.output_messages.0.message.tool_calls.0.tool_call.function.name", "get_current_weather",
			"llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments", `{"city":"London"}`)))
		if len(c.GetInputMessages()) != 1 || c.GetInputMessages()[0].GetRole() != agenttrailv1.Role_ROLE_USER ||
			len(c.GetToolCalls()) != 1 || c.GetToolCalls()[0].GetToolName() != "get_current_weather" || c.GetToolCalls()[0].GetArgumentsJson() != `{"city":"London"}` {
			t.Errorf("%v", c)
		}
	}},
	{row: "input.value, output.value (OpenInference)", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("openinference.span.kind", "LLM", "input.value", "Hello", "output.value", "Hi there")))
		if len(c.GetInputMessages()) != 1 || c.GetInputMessages()[0].GetContent() != "Hello" || c.GetOutputText() != "Hi there" {
			t.Errorf("%v", c)
		}
	}},
	{row: "span events gen_ai.content.prompt, gen_ai.content.completion", run: func(t *testing.T) {
		sp := span("gen_ai.operation.name", "chat")
		sp.Events = []*tracepb.Span_Event{
			{Name: "gen_ai.content.prompt", TimeUnixNano: sp.StartTimeUnixNano, Attributes: attrs("gen_ai.prompt", `[{"role":"user","content":"Ping"}]`)},
			{Name: "gen_ai.content.completion", TimeUnixNano: sp.EndTimeUnixNano, Attributes: attrs("gen_ai.completion", `[{"role":"assistant","content":"Pong"}]`)},
		}
		c := llm(t, mapSpan(t, sp))
		if len(c.GetInputMessages()) != 1 || c.GetInputMessages()[0].GetContent() != "Ping" || c.GetOutputText() != "Pong" {
			t.Errorf("%v", c)
		}
	}},
	{row: "gen_ai.request.temperature, gen_ai.request.max_tokens", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.request.temperature", 0.2, "gen_ai.request.max_tokens", 100)))
		if c.GetTemperature() != 0.2 || c.GetMaxTokens() != 100 || c.Temperature == nil {
			t.Errorf("%v", c)
		}
	}},
	{row: "gen_ai.response.time_to_first_chunk", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", "gen_ai.response.time_to_first_chunk", 0.5)))
		if c.GetTimeToFirstToken().AsDuration() != 500*time.Millisecond {
			t.Errorf("%v", c.GetTimeToFirstToken())
		}
	}},
	{row: "llm.cost.total", run: func(t *testing.T) {
		c := llm(t, mapSpan(t, span("openinference.span.kind", "LLM", "llm.cost.total", 0.0066)))
		if c.GetCost().GetCurrencyCode() != "USD" || c.GetCost().GetMicros() != 6600 {
			t.Errorf("%v", c.GetCost())
		}
	}},
	{row: "(span duration) LLM call", run: func(t *testing.T) {
		if d := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat"))).GetLatency().AsDuration(); d != time.Second {
			t.Errorf("latency %v", d)
		}
	}},
	{row: "error.type, status ERROR (LLM call)", run: func(t *testing.T) {
		sp := span("gen_ai.operation.name", "chat", "error.type", "429")
		sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "rate limited"}
		if c := llm(t, mapSpan(t, sp)); c.GetErrorType() != "429" {
			t.Errorf("error type %q", c.GetErrorType())
		}
		if c := llm(t, mapSpan(t, span("gen_ai.operation.name", "chat", "error.type", "timeout"))); c.GetErrorType() != "timeout" {
			t.Errorf("error.type without an error status: %q", c.GetErrorType())
		}
	}},

	// Tool calls.
	{row: "gen_ai.tool.name, tool.name, traceloop.entity.name, span name execute_tool {name}", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.tool.name", "tool.name"} {
			if n := tool(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool", k, "Flights"))).GetToolName(); n != "Flights" {
				t.Errorf("%s: %q", k, n)
			}
		}
		sp := span("gen_ai.operation.name", "execute_tool")
		sp.Name = "execute_tool get_weather"
		if n := tool(t, mapSpan(t, sp)).GetToolName(); n != "get_weather" {
			t.Errorf("from the span name: %q", n)
		}
		rejected(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool")), "gen_ai.tool.name")
	}},
	{row: "gen_ai.tool.call.id, tool.id, tool_call.id", run: func(t *testing.T) {
		for _, k := range []string{"gen_ai.tool.call.id", "tool.id", "tool_call.id"} {
			if id := tool(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x", k, "call_mszu"))).GetToolCallId(); id != "call_mszu" {
				t.Errorf("%s: %q", k, id)
			}
		}
	}},
	{row: "gen_ai.tool.type", run: func(t *testing.T) {
		if ty := tool(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x", "gen_ai.tool.type", "function"))).GetToolType(); ty != "function" {
			t.Errorf("%q", ty)
		}
	}},
	{row: "gen_ai.tool.call.arguments, input.value, traceloop.entity.input", run: func(t *testing.T) {
		c := tool(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x", "gen_ai.tool.call.arguments", map[string]any{"location": "Paris"})))
		if c.GetArguments() != `{"location":"Paris"}` {
			t.Errorf("structured arguments: %q", c.GetArguments())
		}
		c = tool(t, mapSpan(t, span("openinference.span.kind", "TOOL", "tool.name", "x", "input.value", `{"a":1}`)))
		if c.GetArguments() != `{"a":1}` {
			t.Errorf("input.value: %q", c.GetArguments())
		}
	}},
	{row: "gen_ai.tool.call.result, output.value, traceloop.entity.output", run: func(t *testing.T) {
		c := tool(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x", "gen_ai.tool.call.result", `{"conditions":"sunny"}`)))
		if c.GetResult() != `{"conditions":"sunny"}` {
			t.Errorf("%q", c.GetResult())
		}
		c = tool(t, mapSpan(t, span("openinference.span.kind", "TOOL", "tool.name", "x", "output.value", "42")))
		if c.GetResult() != "42" {
			t.Errorf("output.value: %q", c.GetResult())
		}
	}},
	{row: "status, error.type (tool call)", run: func(t *testing.T) {
		if o := tool(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x"))).GetOutcome(); o != agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS {
			t.Errorf("ok span: %v", o)
		}
		for et, want := range map[string]agenttrailv1.ToolOutcome{
			"ValueError":                 agenttrailv1.ToolOutcome_TOOL_OUTCOME_ERROR,
			"timeout":                    agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT,
			"asyncio.CancelledError":     agenttrailv1.ToolOutcome_TOOL_OUTCOME_CANCELLED,
			"context.DeadlineExceeded":   agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT,
			"PaymentGatewayTimeoutError": agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT,
		} {
			sp := span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x", "error.type", et)
			sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "it broke"}
			r := mapSpan(t, sp)
			c := tool(t, r)
			if c.GetOutcome() != want || c.GetErrorType() != et || c.GetErrorMessage() != "it broke" {
				t.Errorf("%s: %v", et, c)
			}
		}
	}},
	{row: "(span duration) tool call", run: func(t *testing.T) {
		if d := tool(t, mapSpan(t, span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x"))).GetDuration().AsDuration(); d != time.Second {
			t.Errorf("duration %v", d)
		}
	}},
	{row: "gen_ai.tool.description", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x", "gen_ai.tool.description", "Multiply two numbers"))
		if r.Events[0].GetAttributes()["gen_ai.tool.description"] != "Multiply two numbers" {
			t.Errorf("%v", r.Events[0].GetAttributes())
		}
	}},

	// Agents.
	{row: "gen_ai.input.messages, input.value (agent)", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "invoke_agent", "gen_ai.input.messages",
			`[{"role":"user","parts":[{"type":"text","content":"Earlier"}]},{"role":"assistant","parts":[{"type":"text","content":"Yes?"}]},{"role":"user","parts":[{"type":"text","content":"Where is my order?"}]}]`))
		s := only(t, r, K.Start)
		if s.GetSessionStart().GetUserMessage() != "Where is my order?" || !strings.Contains(s.GetAttributes()["gen_ai.input.messages"], "Earlier") {
			t.Errorf("%v", s)
		}
		s = only(t, mapSpan(t, span("openinference.span.kind", "AGENT", "input.value", "Plan a trip")), K.Start)
		if s.GetSessionStart().GetUserMessage() != "Plan a trip" {
			t.Errorf("%v", s)
		}
	}},
	{row: "gen_ai.system_instructions (agent)", run: func(t *testing.T) {
		s := only(t, mapSpan(t, span("gen_ai.operation.name", "create_agent", "gen_ai.system_instructions", "You greet users.")), K.Start)
		if s.GetSessionStart().GetSystemPrompt() != "You greet users." || s.GetSystemPromptHash() == "" {
			t.Errorf("%v", s)
		}
	}},
	{row: "gen_ai.tool.definitions", run: func(t *testing.T) {
		s := only(t, mapSpan(t, span("gen_ai.operation.name", "invoke_agent", "gen_ai.tool.definitions",
			`[{"type":"function","name":"get_weather","description":"Weather","parameters":{"type":"object"}}]`)), K.Start)
		d := s.GetSessionStart().GetToolsAvailable()
		if len(d) != 1 || d[0].GetName() != "get_weather" || d[0].GetType() != "function" || d[0].GetParametersSchemaJson() != `{"type":"object"}` {
			t.Errorf("%v", d)
		}
	}},
	{row: "gen_ai.output.messages, output.value (agent)", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "invoke_agent", "output.value", "It shipped yesterday."))
		if got := kinds(r); !slices.Equal(got, []agenttrailv1.EventKind{K.Start, K.Output, K.End}) {
			t.Fatalf("%v", got)
		}
		o := only(t, r, K.Output)
		if o.GetOutput().GetText() != "It shipped yesterday." || !o.GetOutput().GetFinal() || o.GetParentEventId() != r.Events[0].GetEventId() {
			t.Errorf("%v", o)
		}
	}},
	{row: "status, error.type (agent)", run: func(t *testing.T) {
		e := only(t, mapSpan(t, span("gen_ai.operation.name", "invoke_agent")), K.End)
		if e.GetSessionEnd().GetReason() != agenttrailv1.EndReason_END_REASON_COMPLETED {
			t.Errorf("%v", e)
		}
		sp := span("gen_ai.operation.name", "invoke_agent", "error.type", "TimeoutError")
		sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "gave up"}
		e = only(t, mapSpan(t, sp), K.End)
		if e.GetSessionEnd().GetReason() != agenttrailv1.EndReason_END_REASON_TIMED_OUT || e.GetSessionEnd().GetDetail() != "gave up" {
			t.Errorf("%v", e)
		}
		sp.Attributes = attrs("gen_ai.operation.name", "invoke_agent")
		if e = only(t, mapSpan(t, sp), K.End); e.GetSessionEnd().GetReason() != agenttrailv1.EndReason_END_REASON_FAILED {
			t.Errorf("%v", e)
		}
	}},
	{row: "gen_ai.usage.input_tokens, gen_ai.usage.output_tokens (agent)", run: func(t *testing.T) {
		e := only(t, mapSpan(t, span("gen_ai.operation.name", "invoke_agent", "gen_ai.usage.input_tokens", 900, "gen_ai.usage.output_tokens", 80)), K.End)
		if e.GetSessionEnd().GetInputTokens() != 900 || e.GetSessionEnd().GetOutputTokens() != 80 {
			t.Errorf("%v", e)
		}
	}},
	{row: "gen_ai.request.model (agent)", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "invoke_agent", "gen_ai.request.model", "gpt-4o"))
		for _, ev := range r.Events {
			if ev.GetModelId() != "gpt-4o" {
				t.Errorf("model_id %q", ev.GetModelId())
			}
		}
	}},

	// Errors.
	{row: "exception span events", run: func(t *testing.T) {
		sp := span("gen_ai.operation.name", "execute_tool", "gen_ai.tool.name", "x")
		sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		sp.Events = []*tracepb.Span_Event{{Name: "exception", TimeUnixNano: sp.StartTimeUnixNano + 5e8, Attributes: attrs(
			"exception.type", "ValueError", "exception.message", "bad input", "exception.stacktrace", "Traceback...", "exception.escaped", true)}}
		r := mapSpan(t, sp)
		e := only(t, r, K.Error)
		ae := e.GetError()
		if ae.GetErrorType() != "ValueError" || ae.GetMessage() != "bad input" || ae.GetStackTrace() != "Traceback..." ||
			e.GetParentEventId() != r.Events[0].GetEventId() || e.GetAttributes()["exception.escaped"] != "true" ||
			!e.GetOccurredAt().AsTime().Equal(start.Add(500*time.Millisecond)) {
			t.Errorf("%v", e)
		}
		if tool(t, r).GetErrorType() != "ValueError" {
			t.Errorf("the tool call does not take the exception's type")
		}
	}},
	{row: "status ERROR (no exception event)", run: func(t *testing.T) {
		sp := span("gen_ai.operation.name", "chat")
		sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "upstream 500"}
		e := only(t, mapSpan(t, sp), K.Error)
		if e.GetError().GetErrorType() != "_OTHER" || e.GetError().GetMessage() != "upstream 500" {
			t.Errorf("%v", e)
		}
		// A span that maps to nothing else still gives its error.
		http := span("http.request.method", "POST")
		http.Status = sp.Status
		r := mapSpan(t, http)
		if got := kinds(r); r.Err != nil || !slices.Equal(got, []agenttrailv1.EventKind{K.Error}) {
			t.Errorf("failed HTTP span: %v, %v", got, r.Err)
		}
	}},

	// Everything else.
	{row: "any other attribute", run: func(t *testing.T) {
		r := mapSpan(t, span("gen_ai.operation.name", "chat", "server.address", "api.openai.com", "gen_ai.request.top_p", 1.0, "custom.flags", []any{"a", "b"}))
		a := r.Events[0].GetAttributes()
		if a["server.address"] != "api.openai.com" || a["gen_ai.request.top_p"] != "1" || a["custom.flags"] != `["a","b"]` {
			t.Errorf("%v", a)
		}
		if _, ok := a["gen_ai.operation.name"]; ok {
			t.Errorf("a mapped attribute is also in attributes")
		}
	}},
	{row: "resource attributes", run: func(t *testing.T) {
		res := &resourcepb.Resource{Attributes: attrs("service.name", "bot", "host.name", "worker-3")}
		a := mapWith(t, res, span("gen_ai.operation.name", "chat"), otlp.Options{}).Events[0].GetAttributes()
		if a["resource.host.name"] != "worker-3" {
			t.Errorf("%v", a)
		}
		if _, ok := a["resource.service.name"]; ok {
			t.Errorf("service.name, used as the agent id, is repeated: %v", a)
		}
	}},
	{row: "span name, kind, instrumentation scope, other span events, links", run: func(t *testing.T) {
		sp := span("gen_ai.operation.name", "chat")
		sp.Events = []*tracepb.Span_Event{{Name: "gen_ai.choice", TimeUnixNano: sp.StartTimeUnixNano, Attributes: attrs("index", 0)}}
		sp.Links = []*tracepb.Span_Link{{TraceId: traceID, SpanId: parent}}
		a := mapSpan(t, sp).Events[0].GetAttributes()
		var evs []map[string]any
		if a["otel.span.name"] != "test span" || a["otel.span.kind"] != "client" || a["otel.scope.name"] != "test-instrumentation" ||
			json.Unmarshal([]byte(a["otel.events"]), &evs) != nil || len(evs) != 1 || evs[0]["name"] != "gen_ai.choice" ||
			!strings.Contains(a["otel.links"], hex.EncodeToString(parent)) {
			t.Errorf("%v", a)
		}
	}},
	{row: "more than 256 attributes", run: func(t *testing.T) {
		kv := []any{"gen_ai.operation.name", "chat"}
		for i := range 300 {
			kv = append(kv, "k"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+hex.EncodeToString([]byte{byte(i), byte(i >> 8)}), i)
		}
		a := mapSpan(t, span(kv...)).Events[0].GetAttributes()
		var all map[string]string
		if len(a) != 1 || json.Unmarshal([]byte(a["otel.attributes"]), &all) != nil || len(all) < 300 {
			t.Errorf("%d attributes; otel.attributes holds %d", len(a), len(all))
		}
	}},
}

func TestMapping(t *testing.T) {
	for _, c := range cases {
		t.Run(c.row, c.run)
	}
}

// The events of a span are the same on every mapping, and their ids differ
// from each other and from another span's.
func TestMappingIsDeterministic(t *testing.T) {
	sp := span("gen_ai.operation.name", "invoke_agent", "output.value", "done")
	sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
	sp.Events = []*tracepb.Span_Event{{Name: "exception", Attributes: attrs("exception.type", "A")}, {Name: "exception", Attributes: attrs("exception.type", "B")}}
	a, b := mapSpan(t, sp), mapSpan(t, sp)
	seen := map[string]bool{}
	for i := range a.Events {
		if a.Events[i].String() != b.Events[i].String() {
			t.Errorf("event %d differs between two mappings of one span", i)
		}
		if seen[a.Events[i].GetEventId()] {
			t.Errorf("event id %s repeats", a.Events[i].GetEventId())
		}
		seen[a.Events[i].GetEventId()] = true
	}
	other := span("gen_ai.operation.name", "invoke_agent")
	other.SpanId = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if seen[mapSpan(t, other).Events[0].GetEventId()] {
		t.Errorf("another span gave the same event id")
	}
	if len(a.Events) != 5 { // start, output, end, two exceptions
		t.Errorf("%d events: %v", len(a.Events), kinds(a))
	}
}
