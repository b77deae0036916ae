package otlp_test

import (
	"fmt"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/otlp"
	"github.com/agenttrail/agenttrail/store/event"
)

var (
	traceID = []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	spanID  = []byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	parent  = []byte{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
	start   = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
)

// value makes an attribute value from a Go value: string, bool, int,
// int64, float64, []any, map[string]any.
func value(v any) *commonpb.AnyValue {
	switch x := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
	case int:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(x)}}
	case int64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: x}}
	case float64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case []any:
		arr := &commonpb.ArrayValue{}
		for _, e := range x {
			arr.Values = append(arr.Values, value(e))
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
	case map[string]any:
		kvl := &commonpb.KeyValueList{}
		for k, e := range x {
			kvl.Values = append(kvl.Values, &commonpb.KeyValue{Key: k, Value: value(e)})
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: kvl}}
	}
	panic(fmt.Sprintf("value: %T", v))
}

// attrs makes key-value pairs from alternating keys and values.
func attrs(kv ...any) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for i := 0; i < len(kv); i += 2 {
		out = append(out, &commonpb.KeyValue{Key: kv[i].(string), Value: value(kv[i+1])})
	}
	return out
}

// span is a one-second span with the given attributes.
func span(kv ...any) *tracepb.Span {
	return &tracepb.Span{
		TraceId:           traceID,
		SpanId:            spanID,
		ParentSpanId:      parent,
		Name:              "test span",
		Kind:              tracepb.Span_SPAN_KIND_CLIENT,
		StartTimeUnixNano: uint64(start.UnixNano()),
		EndTimeUnixNano:   uint64(start.Add(time.Second).UnixNano()),
		Attributes:        attrs(kv...),
	}
}

var defaultResource = &resourcepb.Resource{Attributes: attrs("service.name", "support-bot")}

// mapSpan maps a span with the default resource and no key scope, and
// checks that every event it gives passes the store's validation.
func mapSpan(t *testing.T, sp *tracepb.Span) otlp.Result {
	t.Helper()
	return mapWith(t, defaultResource, sp, otlp.Options{})
}

func mapWith(t *testing.T, res *resourcepb.Resource, sp *tracepb.Span, opts otlp.Options) otlp.Result {
	t.Helper()
	r := otlp.Span(res, &commonpb.InstrumentationScope{Name: "test-instrumentation", Version: "1.0"}, sp, opts)
	for _, ev := range r.Events {
		if err := event.Validate(ev, event.Limits{}); err != nil {
			t.Fatalf("event %s does not validate: %v", ev.GetEventId(), err)
		}
	}
	return r
}

// only returns the single event of a result of the given kind.
func only(t *testing.T, r otlp.Result, kind agenttrailv1.EventKind) *agenttrailv1.Event {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("span not mapped: %v", r.Err)
	}
	var found *agenttrailv1.Event
	for _, ev := range r.Events {
		if event.KindOf(ev) == kind {
			if found != nil {
				t.Fatalf("more than one %v event", kind)
			}
			found = ev
		}
	}
	if found == nil {
		t.Fatalf("no %v event among %d", kind, len(r.Events))
	}
	return found
}

func llm(t *testing.T, r otlp.Result) *agenttrailv1.LlmCall {
	t.Helper()
	return only(t, r, agenttrailv1.EventKind_EVENT_KIND_LLM_CALL).GetLlmCall()
}

func tool(t *testing.T, r otlp.Result) *agenttrailv1.ToolCall {
	t.Helper()
	return only(t, r, agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL).GetToolCall()
}

func kinds(r otlp.Result) []agenttrailv1.EventKind {
	var out []agenttrailv1.EventKind
	for _, ev := range r.Events {
		out = append(out, event.KindOf(ev))
	}
	return out
}
