package otlp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// Options are what the mapping needs beyond the spans.
type Options struct {
	// AgentID is the agent id the caller's key is bound to, if any: the
	// agent id of spans that name no agent of their own.
	AgentID string
}

// Result is what one span became: its events, or why it could not be
// mapped.
type Result struct {
	// TraceID and SpanID are the span's ids in hex, to name it in reports.
	TraceID, SpanID string
	// Events are the span's events, in the order they happened.
	Events []*agenttrailv1.Event
	// Err is set when the span gave no event: an *UnmappedError.
	Err error
}

// UnmappedError says why a span gave no event. Its message names
// attributes and rules, never attribute values.
type UnmappedError struct {
	Reason string
}

func (e *UnmappedError) Error() string { return e.Reason }

func unmapped(format string, args ...any) *UnmappedError {
	return &UnmappedError{Reason: fmt.Sprintf(format, args...)}
}

// Request maps every span of an export request, in the request's order.
func Request(req *coltracepb.ExportTraceServiceRequest, opts Options) []Result {
	var out []Result
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				out = append(out, Span(rs.GetResource(), ss.GetScope(), sp, opts))
			}
		}
	}
	return out
}

// operation is what a span records, whichever convention named it.
type operation int

const (
	opNone      operation = iota
	opLLM                 // an LLM call
	opTool                // a tool call
	opDatastore           // a retrieval or memory operation: a tool call on a data store
	opAgent               // an agent's run: a session's start and end
	opPlan                // planning: reasoning
)

// classify reads which operation a span records: gen_ai.operation.name
// first, then OpenInference's openinference.span.kind, then OpenLLMetry's
// traceloop.span.kind and llm.request.type, then, for spans of the oldest
// GenAI conventions that named no operation, a provider with a model.
// It returns the operation and its gen_ai.operation.name, or a reason.
func classify(a *attrs) (operation, string, *UnmappedError) {
	if op := a.peek("gen_ai.operation.name"); op != "" {
		switch op {
		case "chat", "text_completion", "generate_content", "embeddings":
			a.used["gen_ai.operation.name"] = true
			return opLLM, op, nil
		case "execute_tool":
			a.used["gen_ai.operation.name"] = true
			return opTool, op, nil
		case "invoke_agent", "create_agent":
			a.used["gen_ai.operation.name"] = true
			return opAgent, op, nil
		case "plan":
			a.used["gen_ai.operation.name"] = true
			return opPlan, op, nil
		case "retrieval", "search_memory", "create_memory", "update_memory", "upsert_memory", "delete_memory",
			"create_memory_store", "delete_memory_store":
			a.used["gen_ai.operation.name"] = true
			return opDatastore, op, nil
		}
		return opNone, "", unmapped("gen_ai.operation.name has a value agenttrail does not map (it maps chat, text_completion, generate_content, embeddings, execute_tool, invoke_agent, create_agent, plan, retrieval and the memory operations)")
	}
	if k := a.peek("openinference.span.kind"); k != "" {
		switch strings.ToUpper(k) {
		case "LLM":
			a.used["openinference.span.kind"] = true
			return opLLM, "chat", nil
		case "EMBEDDING":
			a.used["openinference.span.kind"] = true
			return opLLM, "embeddings", nil
		case "TOOL":
			a.used["openinference.span.kind"] = true
			return opTool, "execute_tool", nil
		case "AGENT":
			a.used["openinference.span.kind"] = true
			return opAgent, "invoke_agent", nil
		case "RETRIEVER":
			a.used["openinference.span.kind"] = true
			return opDatastore, "retrieval", nil
		}
		return opNone, "", unmapped("openinference.span.kind has a value agenttrail does not map (it maps LLM, EMBEDDING, TOOL, AGENT and RETRIEVER)")
	}
	if k := a.peek("traceloop.span.kind"); k == "tool" || k == "agent" {
		a.used["traceloop.span.kind"] = true
		if k == "tool" {
			return opTool, "execute_tool", nil
		}
		return opAgent, "invoke_agent", nil
	}
	if t := a.peek("llm.request.type"); t != "" {
		switch t {
		case "chat":
			a.used["llm.request.type"] = true
			return opLLM, "chat", nil
		case "completion":
			a.used["llm.request.type"] = true
			return opLLM, "text_completion", nil
		case "embedding":
			a.used["llm.request.type"] = true
			return opLLM, "embeddings", nil
		}
		return opNone, "", unmapped("llm.request.type has a value agenttrail does not map (it maps chat, completion and embedding)")
	}
	if a.has("gen_ai.provider.name", "gen_ai.system") && a.has("gen_ai.request.model") {
		return opLLM, "", nil
	}
	if a.has("traceloop.span.kind") {
		return opNone, "", unmapped("traceloop.span.kind has a value agenttrail does not map (it maps tool and agent)")
	}
	return opNone, "", unmapped("not a GenAI span: it has none of gen_ai.operation.name, openinference.span.kind, traceloop.span.kind, llm.request.type, or gen_ai.provider.name with gen_ai.request.model")
}

// mapper holds what the events of one span share.
type mapper struct {
	sp         *tracepb.Span
	a          *attrs // the span's attributes
	ra         *attrs // its resource's attributes
	content    *attrs // attributes of older instrumentations' content events
	start, end time.Time
	startMs    uint64
	env        agenttrailv1.Event // the envelope every event of the span starts from
	errorType  string             // the class of the span's error, when it failed
	failed     bool
}

func (m *mapper) id(part string) string {
	return EventID(m.sp.GetTraceId(), m.sp.GetSpanId(), m.startMs, part)
}

// event returns a new event with the span's envelope.
func (m *mapper) event(part string, at time.Time) *agenttrailv1.Event {
	ev := &agenttrailv1.Event{
		EventId:          m.id(part),
		SessionId:        m.env.SessionId,
		AgentId:          m.env.AgentId,
		AgentVersion:     m.env.AgentVersion,
		ModelId:          m.env.ModelId,
		SystemPromptHash: m.env.SystemPromptHash,
		UserId:           m.env.UserId,
		OccurredAt:       timestamppb.New(at),
		Trace:            m.env.Trace,
	}
	return ev
}

// Span maps one span, with its resource and instrumentation scope.
func Span(res *resourcepb.Resource, scope *commonpb.InstrumentationScope, sp *tracepb.Span, opts Options) Result {
	r := Result{TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId())}
	if len(sp.GetTraceId()) != 16 || allZero(sp.GetTraceId()) || len(sp.GetSpanId()) != 8 || allZero(sp.GetSpanId()) {
		r.Err = unmapped("trace_id must be 16 bytes and span_id 8 bytes, not all zero")
		return r
	}
	if p := sp.GetParentSpanId(); len(p) != 0 && (len(p) != 8 || allZero(p)) {
		r.Err = unmapped("parent_span_id must be empty or 8 bytes, not all zero")
		return r
	}
	if sp.GetStartTimeUnixNano() == 0 || sp.GetStartTimeUnixNano() > math.MaxInt64 || sp.GetEndTimeUnixNano() > math.MaxInt64 {
		r.Err = unmapped("the span has no valid start_time_unix_nano")
		return r
	}
	m := &mapper{sp: sp, a: newAttrs(sp.GetAttributes()), ra: newAttrs(res.GetAttributes())}
	m.start = time.Unix(0, int64(sp.GetStartTimeUnixNano())).UTC()
	m.end = time.Unix(0, int64(sp.GetEndTimeUnixNano())).UTC()
	if m.end.Before(m.start) {
		m.end = m.start
	}
	m.startMs = uint64(m.start.UnixMilli())
	var contentKVs []*commonpb.KeyValue
	var exceptions []*tracepb.Span_Event
	var others []any
	for _, e := range sp.GetEvents() {
		switch e.GetName() {
		case "exception":
			exceptions = append(exceptions, e)
		case "gen_ai.content.prompt", "gen_ai.content.completion":
			contentKVs = append(contentKVs, e.GetAttributes()...)
		default:
			others = append(others, spanEventJSON(e))
		}
	}
	m.content = newAttrs(contentKVs)

	op, opName, why := classify(m.a)
	if err := m.envelope(opts, op); err != nil {
		r.Err = err
		return r
	}
	m.failed = sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR
	if m.failed {
		m.errorType = m.a.str("error.type")
		if m.errorType == "" && len(exceptions) > 0 {
			m.errorType = newAttrs(exceptions[0].GetAttributes()).peek("exception.type")
		}
		if m.errorType == "" {
			m.errorType = "_OTHER"
		}
	} else if et := m.a.peek("error.type"); et != "" {
		m.errorType = et // failed by the attribute, with the status left unset
		m.failed = true
		m.a.used["error.type"] = true
	}

	var primary *agenttrailv1.Event
	var mapErr error
	switch op {
	case opLLM:
		primary = m.llmCall(opName)
	case opTool, opDatastore:
		primary, mapErr = m.toolCall(op, opName)
	case opAgent:
		r.Events = m.agent()
		primary = r.Events[0]
	case opPlan:
		primary = m.reasoning()
	default:
		mapErr = why
	}
	if primary != nil && op != opAgent {
		r.Events = append(r.Events, primary)
	}
	errs := m.errors(exceptions, primary)
	if primary == nil {
		if len(errs) == 0 {
			r.Err = mapErr
			return r
		}
		primary = errs[0]
	}
	// Whatever no field holds goes to the primary event's attributes.
	attrs := map[string]string{}
	m.a.rest("", attrs)
	m.content.rest("", attrs)
	m.ra.rest("resource.", attrs)
	if n := sp.GetName(); n != "" {
		attrs["otel.span.name"] = n
	}
	if k := sp.GetKind(); k != tracepb.Span_SPAN_KIND_UNSPECIFIED {
		attrs["otel.span.kind"] = strings.ToLower(strings.TrimPrefix(k.String(), "SPAN_KIND_"))
	}
	if msg := sp.GetStatus().GetMessage(); msg != "" && !m.failed {
		attrs["otel.status.message"] = msg
	}
	if n := scope.GetName(); n != "" {
		attrs["otel.scope.name"] = n
	}
	if v := scope.GetVersion(); v != "" {
		attrs["otel.scope.version"] = v
	}
	if len(others) > 0 {
		attrs["otel.events"] = jsonText(others)
	}
	if len(sp.GetLinks()) > 0 {
		attrs["otel.links"] = jsonText(linksJSON(sp.GetLinks()))
	}
	primary.Attributes = bounded(attrs)
	r.Events = append(r.Events, errs...)
	return r
}

// envelope fills the fields every event of the span shares. See docs/otlp.md
// for the order in which attributes are tried.
func (m *mapper) envelope(opts Options, op operation) *UnmappedError {
	a, ra := m.a, m.ra
	env := &m.env
	env.Trace = &agenttrailv1.TraceContext{TraceId: hex.EncodeToString(m.sp.GetTraceId()), SpanId: hex.EncodeToString(m.sp.GetSpanId())}
	if p := m.sp.GetParentSpanId(); len(p) == 8 {
		env.Trace.ParentSpanId = hex.EncodeToString(p)
	}
	// The session: the conversation, else the trace.
	if v, k, ok := a.value("gen_ai.conversation.id", "session.id"); ok && text(v) != "" {
		env.SessionId = hashedID(text(v))
		if env.SessionId != text(v) {
			a.unuse(k) // keep the original, as content
		}
	} else {
		env.SessionId = env.Trace.TraceId
	}
	// The agent: named by the span, else by the resource, else the key's
	// scope, else the service.
	env.AgentId = idFrom(a, "gen_ai.agent.id", "gen_ai.agent.name", "agent.name")
	if env.AgentId == "" {
		env.AgentId = idFrom(ra, "gen_ai.agent.id", "gen_ai.agent.name")
	}
	if env.AgentId == "" {
		env.AgentId = opts.AgentID
	}
	if env.AgentId == "" {
		env.AgentId = idFrom(ra, "service.name")
	}
	if env.AgentId == "" {
		return unmapped("no agent id: the span has no gen_ai.agent.id or gen_ai.agent.name, its resource no service.name, and the key is bound to no agent")
	}
	env.AgentVersion = clip(a.str("gen_ai.agent.version"), 256)
	if env.AgentVersion == "" {
		env.AgentVersion = clip(ra.str("gen_ai.agent.version", "service.version"), 256)
	}
	if v, k, ok := a.value("user.id", "enduser.id"); ok {
		env.UserId = hashedID(text(v))
		if env.UserId != text(v) {
			a.unuse(k)
		}
	}
	if op == opAgent {
		env.ModelId = clip(a.str("gen_ai.request.model"), 256)
	}
	return nil
}

// idFrom reads the first present of keys as an id (slugged when it is a
// name), keeping the original among the attributes when it was changed.
func idFrom(a *attrs, keys ...string) string {
	v, k, ok := a.value(keys...)
	if !ok {
		return ""
	}
	id := slugID(text(v))
	if id != text(v) {
		a.unuse(k)
	}
	return id
}

func (m *mapper) llmCall(opName string) *agenttrailv1.Event {
	a := m.a
	c := &agenttrailv1.LlmCall{
		ProviderName:  a.str("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
		OperationName: opName,
		RequestModel:  a.str("gen_ai.request.model", "llm.request.model_name", "llm.model_name"),
		ResponseModel: a.str("gen_ai.response.model", "llm.response.model_name"),
		ResponseId:    a.str("gen_ai.response.id"),
		InputTokens:   a.count("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
		OutputTokens:  a.count("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
		CacheReadInputTokens: a.count("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
			"llm.token_count.prompt_details.cache_read"),
		CacheCreationInputTokens: a.count("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
			"llm.token_count.prompt_details.cache_write"),
		ReasoningOutputTokens: a.count("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning"),
		Latency:               durationpb.New(m.end.Sub(m.start)),
	}
	if c.OperationName == "" {
		c.OperationName = "chat" // the oldest conventions named no operation: they had chat spans
	}
	if f, ok := a.float("gen_ai.request.temperature"); ok && f >= 0 {
		c.Temperature = &f
	} else if ok {
		a.unuse("gen_ai.request.temperature")
	}
	if n, ok := a.int("gen_ai.request.max_tokens"); ok && n >= 0 {
		c.MaxTokens = &n
	} else if ok {
		a.unuse("gen_ai.request.max_tokens")
	}
	if f, ok := a.float("gen_ai.response.time_to_first_chunk"); ok && f >= 0 && f < 1e9 {
		c.TimeToFirstToken = durationpb.New(time.Duration(f * float64(time.Second)))
	} else if ok {
		a.unuse("gen_ai.response.time_to_first_chunk")
	}
	if f, ok := a.float("llm.cost.total"); ok && f >= 0 && f < 1e12 {
		c.Cost = &agenttrailv1.Cost{CurrencyCode: "USD", Micros: int64(math.Round(f * 1e6))}
	} else if ok {
		a.unuse("llm.cost.total")
	}
	conv := readConversation(a, m.content)
	conv.keepLossy(a)
	c.InputMessages = conv.input
	c.SystemInstructions = conv.system
	c.OutputText = conv.outputText
	c.ToolCalls = conv.toolCalls
	c.FinishReasons = a.strs("gen_ai.response.finish_reasons")
	if len(c.FinishReasons) == 0 {
		c.FinishReasons = conv.finish
	}
	if m.failed {
		c.ErrorType = m.errorType
	}
	if conv.system != "" {
		m.env.SystemPromptHash = sha256Hex(conv.system)
	}
	ev := m.event("span", m.start)
	ev.Payload = &agenttrailv1.Event_LlmCall{LlmCall: c}
	return ev
}

func (m *mapper) toolCall(op operation, opName string) (*agenttrailv1.Event, error) {
	a := m.a
	traceloop := a.peek("traceloop.entity.name") != "" && a.used["traceloop.span.kind"]
	c := &agenttrailv1.ToolCall{
		ToolName:   a.str("gen_ai.tool.name", "tool.name"),
		ToolCallId: a.str("gen_ai.tool.call.id", "tool.id", "tool_call.id"),
		ToolType:   a.str("gen_ai.tool.type"),
		Duration:   durationpb.New(m.end.Sub(m.start)),
	}
	if c.ToolName == "" && traceloop {
		c.ToolName = a.str("traceloop.entity.name")
	}
	if op == opDatastore {
		if c.ToolName == "" {
			c.ToolName = opName
		}
		if c.ToolType == "" {
			c.ToolType = "datastore"
		}
		if v, _, ok := a.value("gen_ai.retrieval.query.text", "gen_ai.memory.query.text"); ok {
			c.Arguments = jsonOrText(v)
		}
		if v, _, ok := a.value("gen_ai.retrieval.documents", "gen_ai.memory.records"); ok {
			c.Result = jsonOrText(v)
		}
	}
	if c.ToolName == "" {
		if name, ok := strings.CutPrefix(m.sp.GetName(), "execute_tool "); ok && strings.TrimSpace(name) != "" {
			c.ToolName = strings.TrimSpace(name)
		}
	}
	if c.ToolName == "" {
		return nil, unmapped("a tool span without a tool name: set gen_ai.tool.name")
	}
	if c.Arguments == "" {
		if v, _, ok := a.value("gen_ai.tool.call.arguments", "input.value", "traceloop.entity.input"); ok {
			c.Arguments = jsonOrText(v)
		}
	}
	if c.Result == "" {
		if v, _, ok := a.value("gen_ai.tool.call.result", "output.value", "traceloop.entity.output"); ok {
			c.Result = jsonOrText(v)
		}
	}
	c.Outcome = agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS
	if m.failed {
		c.ErrorType = m.errorType
		c.ErrorMessage = m.sp.GetStatus().GetMessage()
		c.Outcome = agenttrailv1.ToolOutcome_TOOL_OUTCOME_ERROR
		switch t := strings.ToLower(m.errorType); {
		case strings.Contains(t, "timeout"), strings.Contains(t, "timedout"), strings.Contains(t, "deadline"):
			c.Outcome = agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT
		case strings.Contains(t, "cancel"):
			c.Outcome = agenttrailv1.ToolOutcome_TOOL_OUTCOME_CANCELLED
		}
	}
	ev := m.event("span", m.start)
	ev.Payload = &agenttrailv1.Event_ToolCall{ToolCall: c}
	return ev, nil
}

// agent maps an agent span onto a session's start, the agent's final
// response when the span carries one, and the session's end.
func (m *mapper) agent() []*agenttrailv1.Event {
	a := m.a
	a.unuse("gen_ai.operation.name") // invoke_agent or create_agent: no field says which
	conv := readConversation(a, m.content)
	start := &agenttrailv1.SessionStart{SystemPrompt: conv.system}
	// The request is the last user message; the whole input stays among
	// the attributes unless it was that one message.
	for i := len(conv.input) - 1; i >= 0; i-- {
		if conv.input[i].GetRole() == agenttrailv1.Role_ROLE_USER || conv.input[i].GetRole() == agenttrailv1.Role_ROLE_UNSPECIFIED {
			start.UserMessage = conv.input[i].GetContent()
			break
		}
	}
	if len(conv.input) > 1 || conv.inputLossy {
		conv.inputLossy = true
	}
	if v, k, ok := a.value("gen_ai.tool.definitions"); ok {
		defs, lossy := toolDefinitions(v)
		start.ToolsAvailable = defs
		if lossy {
			a.unuse(k)
		}
	}
	if len(conv.toolCalls) > 0 {
		conv.outputLossy = true // an agent's output is its text; keep the rest
	}
	conv.keepLossy(a)
	if conv.system != "" {
		m.env.SystemPromptHash = sha256Hex(conv.system)
	}
	first := m.event("span", m.start)
	first.Payload = &agenttrailv1.Event_SessionStart{SessionStart: start}
	out := []*agenttrailv1.Event{first}
	if conv.haveOutput && conv.outputText != "" {
		o := m.event("output", m.end)
		o.ParentEventId = first.GetEventId()
		o.Payload = &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Text: conv.outputText, Final: true}}
		out = append(out, o)
	}
	end := &agenttrailv1.SessionEnd{
		Reason:       agenttrailv1.EndReason_END_REASON_COMPLETED,
		InputTokens:  a.count("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
		OutputTokens: a.count("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
	}
	if m.failed {
		end.Reason = agenttrailv1.EndReason_END_REASON_FAILED
		switch t := strings.ToLower(m.errorType); {
		case strings.Contains(t, "timeout"), strings.Contains(t, "deadline"):
			end.Reason = agenttrailv1.EndReason_END_REASON_TIMED_OUT
		case strings.Contains(t, "cancel"):
			end.Reason = agenttrailv1.EndReason_END_REASON_CANCELLED
		}
		end.Detail = m.sp.GetStatus().GetMessage()
	}
	e := m.event("end", m.end)
	e.ParentEventId = first.GetEventId()
	e.Payload = &agenttrailv1.Event_SessionEnd{SessionEnd: end}
	return append(out, e)
}

func (m *mapper) reasoning() *agenttrailv1.Event {
	conv := readConversation(m.a, m.content)
	r := &agenttrailv1.Reasoning{Thought: conv.outputText}
	if len(conv.toolCalls) > 0 || !conv.haveOutput {
		conv.outputLossy = true
	}
	conv.inputLossy = conv.haveInput // a plan's input has no field of its own
	conv.keepLossy(m.a)
	ev := m.event("span", m.start)
	ev.Payload = &agenttrailv1.Event_Reasoning{Reasoning: r}
	return ev
}

// errors maps the span's exception events, one AgentError each, or, when
// it failed without one, its error status.
func (m *mapper) errors(exceptions []*tracepb.Span_Event, primary *agenttrailv1.Event) []*agenttrailv1.Event {
	var out []*agenttrailv1.Event
	for i, e := range exceptions {
		ea := newAttrs(e.GetAttributes())
		at := m.end
		if t := e.GetTimeUnixNano(); t != 0 && t <= math.MaxInt64 {
			at = time.Unix(0, int64(t)).UTC()
		}
		ae := &agenttrailv1.AgentError{
			ErrorType:  ea.str("exception.type"),
			Message:    ea.str("exception.message"),
			StackTrace: ea.str("exception.stacktrace"),
		}
		if ae.ErrorType == "" {
			ae.ErrorType = "_OTHER"
		}
		ev := m.event(fmt.Sprintf("exception.%d", i), at)
		ev.Payload = &agenttrailv1.Event_Error{Error: ae}
		if primary != nil {
			ev.ParentEventId = primary.GetEventId()
		}
		rest := map[string]string{}
		ea.rest("", rest)
		ev.Attributes = bounded(rest)
		out = append(out, ev)
	}
	if len(out) == 0 && m.sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		ev := m.event("status", m.end)
		ev.Payload = &agenttrailv1.Event_Error{Error: &agenttrailv1.AgentError{ErrorType: m.errorType, Message: m.sp.GetStatus().GetMessage()}}
		if primary != nil {
			ev.ParentEventId = primary.GetEventId()
		}
		out = append(out, ev)
	}
	return out
}

// toolDefinitions reads gen_ai.tool.definitions: [{type, name, description,
// parameters}].
func toolDefinitions(v *commonpb.AnyValue) ([]*agenttrailv1.ToolDefinition, bool) {
	s, ok := structured(v)
	list, isList := s.([]any)
	if !ok || !isList {
		return nil, true
	}
	var out []*agenttrailv1.ToolDefinition
	lossy := false
	for _, e := range list {
		d, ok := e.(map[string]any)
		if !ok {
			lossy = true
			continue
		}
		td := &agenttrailv1.ToolDefinition{Name: str(d["name"]), Type: str(d["type"]), Description: str(d["description"])}
		if p, ok := d["parameters"]; ok && p != nil {
			td.ParametersSchemaJson = argumentsJSON(p)
		}
		for k := range d {
			switch k {
			case "name", "type", "description", "parameters":
			default:
				lossy = true
			}
		}
		out = append(out, td)
	}
	return out, lossy
}

func spanEventJSON(e *tracepb.Span_Event) map[string]any {
	attrs := map[string]any{}
	for _, kv := range e.GetAttributes() {
		attrs[kv.GetKey()] = native(kv.GetValue())
	}
	out := map[string]any{"name": e.GetName(), "time_unix_nano": fmt.Sprint(e.GetTimeUnixNano())}
	if len(attrs) > 0 {
		out["attributes"] = attrs
	}
	return out
}

func linksJSON(links []*tracepb.Span_Link) []any {
	var out []any
	for _, l := range links {
		attrs := map[string]any{}
		for _, kv := range l.GetAttributes() {
			attrs[kv.GetKey()] = native(kv.GetValue())
		}
		link := map[string]any{"trace_id": hex.EncodeToString(l.GetTraceId()), "span_id": hex.EncodeToString(l.GetSpanId())}
		if len(attrs) > 0 {
			link["attributes"] = attrs
		}
		out = append(out, link)
	}
	return out
}

// bounded keeps attributes within what an event holds (event.MaxAttributes
// keys of at most event.MaxAttributeKey bytes): beyond that, all of them go
// under one key, "otel.attributes", as a JSON object.
func bounded(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	ok := len(m) <= event.MaxAttributes
	for k := range m {
		if len(k) > event.MaxAttributeKey {
			ok = false
		}
	}
	if ok {
		return m
	}
	return map[string]string{"otel.attributes": jsonText(m)}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xc0) == 0x80 {
		n--
	}
	return s[:n]
}
