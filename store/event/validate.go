package event

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid event")

// FieldError reports one invalid field of an event. Its message names the
// field and what was expected, and never repeats the field's value, so it is
// safe to show any caller and to log.
type FieldError struct {
	// Field is the path of the field, such as "event_id" or
	// "llm_call.input_messages[2].role".
	Field string
	// Reason says what was expected.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Limits bound what Validate accepts.
type Limits struct {
	// Now is the current time, against which occurred_at is checked.
	Now time.Time
	// MaxClockSkew is how far in the future occurred_at may be.
	MaxClockSkew time.Duration
}

// Bounds of identifiers and labels. An id is 1 to MaxIDLen characters from
// [A-Za-z0-9._:-], starting with a letter or digit: UUIDs, ULIDs and most
// hand-made ids fit; whitespace, slashes, '@' (no email addresses as ids) and
// control characters do not.
const (
	MaxIDLen         = 128
	MaxLabels        = 64
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 1024
	MaxAttributes    = 256
	MaxAttributeKey  = 256
)

// earliest is the earliest occurred_at accepted: a zero or garbage clock is
// an error, not an event from 1970.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Validate checks an event before it is appended: required ids are present
// and well formed, exactly one payload is set, times are valid and not in the
// future beyond the allowed skew, enum values are defined, numbers are in
// range, strings are valid UTF-8, labels are within bounds, and no field is
// unknown to this build. It returns the first problem as a *FieldError.
func Validate(ev *agenttrailv1.Event, lim Limits) error {
	_, err := Encode(ev, lim)
	return err
}

// checkEnvelope makes the checks of Validate that read fields by name; the
// checks that apply to every field everywhere are made on the encoding
// (walkWire).
func checkEnvelope(ev *agenttrailv1.Event, lim Limits) error {
	if ev == nil {
		return &FieldError{Field: "event", Reason: "is required"}
	}
	if err := checkID("event_id", ev.GetEventId(), true); err != nil {
		return err
	}
	kind := KindOf(ev)
	if kind == agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED {
		return &FieldError{Field: "payload", Reason: "exactly one payload (session_start, llm_call, tool_call, ...) is required"}
	}
	agentKind := !IsServerKind(kind)
	if err := checkID("session_id", ev.GetSessionId(), agentKind); err != nil {
		return err
	}
	if err := checkID("agent_id", ev.GetAgentId(), agentKind); err != nil {
		return err
	}
	if err := checkID("parent_event_id", ev.GetParentEventId(), false); err != nil {
		return err
	}
	if ev.GetParentEventId() != "" && ev.GetParentEventId() == ev.GetEventId() {
		return &FieldError{Field: "parent_event_id", Reason: "must differ from event_id"}
	}
	if err := checkID("user_id", ev.GetUserId(), false); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"agent_version", ev.GetAgentVersion()},
		{"model_id", ev.GetModelId()},
	} {
		if len(f.v) > 256 {
			return &FieldError{Field: f.name, Reason: "must be at most 256 bytes"}
		}
	}
	if h := ev.GetSystemPromptHash(); h != "" && !isHex(h, 64) {
		return &FieldError{Field: "system_prompt_hash", Reason: "must be 64 hex digits (a SHA-256)"}
	}
	if ev.GetOccurredAt() == nil {
		return &FieldError{Field: "occurred_at", Reason: "is required"}
	}
	if err := checkTimestamp("occurred_at", ev.GetOccurredAt()); err != nil {
		return err
	}
	at := ev.GetOccurredAt().AsTime()
	if at.Before(earliest) {
		return &FieldError{Field: "occurred_at", Reason: "must be after 2000-01-01"}
	}
	if !lim.Now.IsZero() && at.After(lim.Now.Add(lim.MaxClockSkew)) {
		return &FieldError{Field: "occurred_at", Reason: fmt.Sprintf("is in the future by more than the allowed clock skew (%s)", lim.MaxClockSkew)}
	}
	if len(ev.GetLabels()) > MaxLabels {
		return &FieldError{Field: "labels", Reason: fmt.Sprintf("at most %d labels are allowed", MaxLabels)}
	}
	for k, v := range ev.GetLabels() {
		if !isLabelKey(k) {
			return &FieldError{Field: "labels", Reason: fmt.Sprintf("keys must be 1 to %d characters from [A-Za-z0-9_.-/]", MaxLabelKeyLen)}
		}
		if len(v) > MaxLabelValueLen {
			return &FieldError{Field: "labels[" + k + "]", Reason: fmt.Sprintf("must be at most %d bytes", MaxLabelValueLen)}
		}
	}
	if len(ev.GetAttributes()) > MaxAttributes {
		return &FieldError{Field: "attributes", Reason: fmt.Sprintf("at most %d attributes are allowed", MaxAttributes)}
	}
	for k := range ev.GetAttributes() {
		if k == "" || len(k) > MaxAttributeKey {
			return &FieldError{Field: "attributes", Reason: fmt.Sprintf("keys must be 1 to %d bytes", MaxAttributeKey)}
		}
	}
	if err := checkTrace(ev.GetTrace()); err != nil {
		return err
	}
	return checkPayload(ev)
}

// checkTrace checks a TraceContext: W3C ids in lower-case hex, not all
// zero, the trace and span ids both given.
func checkTrace(t *agenttrailv1.TraceContext) error {
	if t == nil {
		return nil
	}
	for _, f := range []struct {
		name, v  string
		n        int
		required bool
	}{
		{"trace.trace_id", t.GetTraceId(), 32, true},
		{"trace.span_id", t.GetSpanId(), 16, true},
		{"trace.parent_span_id", t.GetParentSpanId(), 16, false},
	} {
		if f.v == "" && !f.required {
			continue
		}
		if !isLowerHex(f.v, f.n) || strings.Trim(f.v, "0") == "" {
			return &FieldError{Field: f.name, Reason: fmt.Sprintf("must be %d lower-case hex digits, not all zero", f.n)}
		}
	}
	return nil
}

func checkPayload(ev *agenttrailv1.Event) error {
	nonNegative := func(field string, v int64) error {
		if v < 0 {
			return &FieldError{Field: field, Reason: "must not be negative"}
		}
		return nil
	}
	checkCost := func(field string, c *agenttrailv1.Cost) error {
		if c == nil {
			return nil
		}
		if err := nonNegative(field+".micros", c.GetMicros()); err != nil {
			return err
		}
		if cc := c.GetCurrencyCode(); cc != "" && !isCurrency(cc) {
			return &FieldError{Field: field + ".currency_code", Reason: "must be an ISO 4217 code of three capital letters, such as USD"}
		}
		return nil
	}
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_LlmCall:
		c := p.LlmCall
		for _, f := range []struct {
			name string
			v    int64
		}{
			{"llm_call.input_tokens", c.GetInputTokens()},
			{"llm_call.output_tokens", c.GetOutputTokens()},
			{"llm_call.cache_read_input_tokens", c.GetCacheReadInputTokens()},
			{"llm_call.cache_creation_input_tokens", c.GetCacheCreationInputTokens()},
			{"llm_call.max_tokens", c.GetMaxTokens()},
			{"llm_call.reasoning_output_tokens", c.GetReasoningOutputTokens()},
		} {
			if err := nonNegative(f.name, f.v); err != nil {
				return err
			}
		}
		if c.Temperature != nil && (math.IsNaN(c.GetTemperature()) || math.IsInf(c.GetTemperature(), 0) || c.GetTemperature() < 0) {
			return &FieldError{Field: "llm_call.temperature", Reason: "must be a finite number of at least 0"}
		}
		return checkCost("llm_call.cost", c.GetCost())
	case *agenttrailv1.Event_Reasoning:
		if r := p.Reasoning; r.Confidence != nil && !(r.GetConfidence() >= 0 && r.GetConfidence() <= 1) {
			return &FieldError{Field: "reasoning.confidence", Reason: "must be between 0 and 1"}
		}
	case *agenttrailv1.Event_HumanApproval:
		if err := checkID("human_approval.gated_event_id", p.HumanApproval.GetGatedEventId(), false); err != nil {
			return err
		}
	case *agenttrailv1.Event_SessionEnd:
		s := p.SessionEnd
		if err := nonNegative("session_end.input_tokens", s.GetInputTokens()); err != nil {
			return err
		}
		if err := nonNegative("session_end.output_tokens", s.GetOutputTokens()); err != nil {
			return err
		}
		return checkCost("session_end.cost", s.GetCost())
	}
	return nil
}

func checkTimestamp(path string, ts *timestamppb.Timestamp) error {
	if err := ts.CheckValid(); err != nil {
		return &FieldError{Field: path, Reason: "must be a valid timestamp (seconds within years 1 to 9999, nanos below 1e9)"}
	}
	return nil
}

// checkID checks an identifier; see MaxIDLen.
func checkID(field, id string, required bool) error {
	if id == "" {
		if required {
			return &FieldError{Field: field, Reason: "is required"}
		}
		return nil
	}
	if !IsID(id) {
		return &FieldError{Field: field, Reason: fmt.Sprintf("must be 1 to %d characters from [A-Za-z0-9._:-], starting with a letter or digit (a UUID is recommended)", MaxIDLen)}
	}
	return nil
}

// IsID reports whether s is a well-formed identifier (see MaxIDLen).
func IsID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

func isLabelKey(s string) bool {
	if len(s) == 0 || len(s) > MaxLabelKeyLen {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r < 128 && (isAlnum(byte(r)) || r == '_' || r == '.' || r == '-' || r == '/'))
	}) < 0
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}
