package client

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// FullPolicy says what a [Session] does with a new event when its buffer
// is full (the server is slow or unreachable).
type FullPolicy int

const (
	// Block makes the call wait for room until its context ends. Nothing
	// is lost; the agent slows down to the server's pace.
	Block FullPolicy = iota
	// DropNewest drops the new event at once, counts it (Stats.Dropped)
	// and returns ErrBufferFull. The agent never waits; the trail has a
	// gap, which the session's end records.
	DropNewest
)

// SessionOptions describe a session and how its events are delivered.
// AgentID is required; everything else has a default.
type SessionOptions struct {
	// SessionID is the session's id. Empty means a new UUIDv7.
	SessionID string
	// AgentID is the agent's stable id (required).
	AgentID string
	// AgentVersion, ModelID, SystemPromptHash (hex SHA-256 of the system
	// prompt) and UserID (a pseudonymous subject id, never an email
	// address) go on every event of the session.
	AgentVersion     string
	ModelID          string
	SystemPromptHash string
	UserID           string
	// Labels go on every event; labels given with an event win.
	Labels map[string]string
	// Start is the payload of the session's first event. Nil means an
	// empty SessionStart.
	Start *agenttrailv1.SessionStart

	// BufferSize bounds the events not yet acknowledged by the server,
	// queued or in flight. Zero means 1024.
	BufferSize int
	// FullPolicy says what happens to an event when the buffer is full.
	// The zero value is Block.
	FullPolicy FullPolicy
	// MaxInFlight bounds the events sent on the stream and not yet
	// answered. Zero means 128, or BufferSize when smaller.
	MaxInFlight int
	// MaxRequestSize is the largest encoded event the session sends; zero
	// means [DefaultMaxRequestSize], the server's default
	// --max-message-size. Recording a larger event fails at once with an
	// error matching [ErrTooLarge] that names its size and the limit.
	MaxRequestSize int
	// Retry says how delivery retries after a stream fails with a
	// transient error (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, or a
	// broken connection). Attempts counts failures in a row without an
	// event acknowledged; zero means retry until Close gives up.
	Retry RetryPolicy
	// OnRejected, when set, is called for each event the server refuses,
	// from the delivery goroutine; it must not block for long. Every
	// refusal also counts in Stats.Rejected, and the first is reported by
	// Close.
	OnRejected func(ev *agenttrailv1.Event, err *RejectionError)
}

// Session records one run of an agent: [Client.StartSession] sends its
// session_start event; each method records one step; [Session.End] records
// its end; [Session.Close] waits until the server has acknowledged every
// event. Each event gets a new UUIDv7 id, the session id, the next step
// number (from 1, in the order recorded) and the session's envelope
// fields.
//
// Recording does not wait for the server, unless the buffer is full and
// the policy is Block: events are checked locally (store/event.Validate,
// so a malformed event fails at once with [ErrInvalidEvent]), put in a
// bounded buffer, and delivered in order by a background goroutine over
// one Append stream. When the stream fails with a
// transient error it opens a new one after a backoff and resends every
// unacknowledged event with its same id; the server answers an event it
// already holds with its original receipt, so nothing is stored twice.
//
// A Session is safe for concurrent use.
type Session struct {
	id string
	// envelope holds the fields every event shares.
	envelope agenttrailv1.Event
	labels   map[string]string
	d        *delivery
	// startID is the id of the session_start event, the default parent
	// of every later event.
	startID string
	// maxRequest is the largest encoded event sent.
	maxRequest int
}

// StartSession starts a session: it checks opts, starts background
// delivery and records the session_start event (step 1). ctx bounds only
// the wait for room in the buffer; delivery goes on until Close.
func (c *Client) StartSession(ctx context.Context, opts SessionOptions) (*Session, error) {
	if opts.AgentID == "" {
		return nil, fmt.Errorf("%w: SessionOptions.AgentID is required", ErrInvalidOption)
	}
	if opts.SessionID == "" {
		opts.SessionID = NewEventID()
	}
	if opts.BufferSize < 0 || opts.MaxInFlight < 0 || opts.MaxRequestSize < 0 {
		return nil, fmt.Errorf("%w: SessionOptions.BufferSize, MaxInFlight and MaxRequestSize must not be negative", ErrInvalidOption)
	}
	if opts.MaxRequestSize == 0 {
		opts.MaxRequestSize = DefaultMaxRequestSize
	}
	if opts.BufferSize == 0 {
		opts.BufferSize = 1024
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = min(128, opts.BufferSize)
	}
	if opts.FullPolicy != Block && opts.FullPolicy != DropNewest {
		return nil, fmt.Errorf("%w: SessionOptions.FullPolicy %d is neither Block nor DropNewest", ErrInvalidOption, opts.FullPolicy)
	}
	retry, err := opts.Retry.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Session{
		id: opts.SessionID,
		envelope: agenttrailv1.Event{
			SessionId:        opts.SessionID,
			AgentId:          opts.AgentID,
			AgentVersion:     opts.AgentVersion,
			ModelId:          opts.ModelID,
			SystemPromptHash: opts.SystemPromptHash,
			UserId:           opts.UserID,
		},
		labels:     maps.Clone(opts.Labels),
		maxRequest: opts.MaxRequestSize,
	}
	start := opts.Start
	if start == nil {
		start = &agenttrailv1.SessionStart{}
	}
	// Check the envelope once, on the first event, before anything runs.
	first := s.build(1, time.Now(), &agenttrailv1.Event{Payload: &agenttrailv1.Event_SessionStart{SessionStart: start}}, nil)
	if err := checkEvent(first); err != nil {
		return nil, err
	}
	s.d = newDelivery(c, opts.BufferSize, opts.MaxInFlight, opts.MaxRequestSize, opts.FullPolicy, retry, opts.OnRejected)
	startID, err := s.record(ctx, &agenttrailv1.Event{Payload: first.Payload}, nil)
	if err != nil {
		s.d.abort()
		return nil, err
	}
	// Every later event's parent is the session's start unless an option
	// says otherwise, as in the Python and TypeScript clients.
	s.startID = startID
	return s, nil
}

// ID returns the session's id.
func (s *Session) ID() string { return s.id }

// An EventOption sets envelope fields of one event recorded by a
// [Session].
type EventOption interface {
	applyToEvent(*agenttrailv1.Event)
}

type eventOption func(*agenttrailv1.Event)

func (f eventOption) applyToEvent(ev *agenttrailv1.Event) { f(ev) }

// WithParent names the event that caused this one, such as the LLM call
// that asked for a tool call.
func WithParent(eventID string) EventOption {
	return eventOption(func(ev *agenttrailv1.Event) { ev.ParentEventId = eventID })
}

// WithEventID gives the event an id made in advance with NewEventID, so that
// an event logged earlier can point at it (a HumanApproval's gated_event_id
// naming the tool call it gates, say). Each id must be used once.
func WithEventID(eventID string) EventOption {
	return eventOption(func(ev *agenttrailv1.Event) { ev.EventId = eventID })
}

// WithOccurredAt sets when the step happened, when it was not just now
// (the default is the time of the call).
func WithOccurredAt(t time.Time) EventOption {
	return eventOption(func(ev *agenttrailv1.Event) { ev.OccurredAt = timestamppb.New(t) })
}

// WithLabels adds labels to one event, over the session's labels.
func WithLabels(labels map[string]string) EventOption {
	return eventOption(func(ev *agenttrailv1.Event) {
		if ev.Labels == nil {
			ev.Labels = map[string]string{}
		}
		maps.Copy(ev.Labels, labels)
	})
}

// LLMCall records a call to a language model. It returns the event's id,
// for WithParent of the steps it caused.
func (s *Session) LLMCall(ctx context.Context, call *agenttrailv1.LlmCall, opts ...EventOption) (string, error) {
	return s.record(ctx, &agenttrailv1.Event{Payload: &agenttrailv1.Event_LlmCall{LlmCall: call}}, opts)
}

// ToolCall records a call of a tool.
func (s *Session) ToolCall(ctx context.Context, call *agenttrailv1.ToolCall, opts ...EventOption) (string, error) {
	return s.record(ctx, &agenttrailv1.Event{Payload: &agenttrailv1.Event_ToolCall{ToolCall: call}}, opts)
}

// Reasoning records the agent's reasoning or plan.
func (s *Session) Reasoning(ctx context.Context, r *agenttrailv1.Reasoning, opts ...EventOption) (string, error) {
	return s.record(ctx, &agenttrailv1.Event{Payload: &agenttrailv1.Event_Reasoning{Reasoning: r}}, opts)
}

// HumanApproval records a human's decision on a step, or an intervention.
func (s *Session) HumanApproval(ctx context.Context, a *agenttrailv1.HumanApproval, opts ...EventOption) (string, error) {
	return s.record(ctx, &agenttrailv1.Event{Payload: &agenttrailv1.Event_HumanApproval{HumanApproval: a}}, opts)
}

// Error records an error the agent met.
func (s *Session) Error(ctx context.Context, e *agenttrailv1.AgentError, opts ...EventOption) (string, error) {
	return s.record(ctx, &agenttrailv1.Event{Payload: &agenttrailv1.Event_Error{Error: e}}, opts)
}

// Output records a response the agent produced.
func (s *Session) Output(ctx context.Context, o *agenttrailv1.Output, opts ...EventOption) (string, error) {
	return s.record(ctx, &agenttrailv1.Event{Payload: &agenttrailv1.Event_Output{Output: o}}, opts)
}

// End records the end of the session with a reason; see EndWith.
func (s *Session) End(ctx context.Context, reason agenttrailv1.EndReason, opts ...EventOption) (string, error) {
	return s.EndWith(ctx, &agenttrailv1.SessionEnd{Reason: reason}, opts...)
}

// EndWith records the end of the session. Counters of end left at zero are
// filled from the events recorded: steps, LLM calls, tool calls, errors,
// input and output tokens, and cost when every LLM call's cost is in one
// currency. When events were dropped (DropNewest), the label
// "agenttrail.dropped_events" says how many. After it every method returns
// ErrClosed; call Close to deliver what is buffered.
func (s *Session) EndWith(ctx context.Context, end *agenttrailv1.SessionEnd, opts ...EventOption) (string, error) {
	if end == nil {
		end = &agenttrailv1.SessionEnd{}
	}
	return s.record(ctx, &agenttrailv1.Event{Payload: &agenttrailv1.Event_SessionEnd{SessionEnd: end}}, opts)
}

// Flush waits until the server has answered every event recorded so far,
// or ctx ends, or delivery has failed for good. It returns an error when
// events are unacknowledged, and when events were refused since the last
// Flush or Close that reported refusals: the error matches ErrRejected and
// names the first (each refusal is reported once; OnRejected hears of each
// as it happens).
func (s *Session) Flush(ctx context.Context) error { return s.d.flush(ctx) }

// Close stops recording, waits until every event is answered (as Flush)
// and stops delivery. It waits until ctx ends, or for
// [DefaultCloseTimeout] (10s) when ctx has no deadline; then delivery stops
// anyway and Close says how many events were left unacknowledged (they are
// not in the log) and why the last attempt to deliver them failed, such as
// a server that could not be reached. It also reports the events refused
// since the last Flush or Close that reported refusals, as an error matching
// ErrRejected that names the first. So a program that ends with
// log.Fatal on Close's error exits non-zero whenever its trail is
// incomplete. Close does not record the session's end: call End first.
func (s *Session) Close(ctx context.Context) error { return s.d.close(ctx) }

// SessionStats counts what happened to a session's events.
type SessionStats struct {
	// Recorded is the number of events put in the buffer.
	Recorded uint64
	// Acknowledged is the number of events the server confirmed stored
	// (Duplicates of them were confirmed by their original receipt, after
	// a resend).
	Acknowledged, Duplicates uint64
	// Rejected is the number of events the server refused.
	Rejected uint64
	// Dropped is the number of events dropped because the buffer was full.
	Dropped uint64
	// Pending is the number of events buffered or in flight.
	Pending int
	// Streams is the number of Append streams opened; more than one means
	// delivery resent events after a failure.
	Streams uint64
}

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats { return s.d.stats() }

// record completes an event with the envelope, checks it, and buffers it.
func (s *Session) record(ctx context.Context, ev *agenttrailv1.Event, opts []EventOption) (string, error) {
	now := time.Now()
	var id string
	err := s.d.enqueue(ctx, func(step uint32, t *tally) (*agenttrailv1.Event, error) {
		full := s.build(step, now, ev, opts)
		if end := full.GetSessionEnd(); end != nil {
			t.fill(end, step)
			if t.dropped > 0 {
				if full.Labels == nil {
					full.Labels = map[string]string{}
				}
				full.Labels["agenttrail.dropped_events"] = strconv.FormatUint(t.dropped, 10)
			}
		}
		if err := checkEvent(full); err != nil {
			return nil, err
		}
		if n := proto.Size(&agenttrailv1.AppendRequest{Event: full}); n > s.maxRequest {
			return nil, tooLarge(full.GetEventId(), n, s.maxRequest)
		}
		id = full.GetEventId()
		return full, nil
	})
	return id, err
}

// build makes the event of one step: the session's envelope, a new id, the
// step, the time, the payload of ev and the options.
func (s *Session) build(step uint32, now time.Time, ev *agenttrailv1.Event, opts []EventOption) *agenttrailv1.Event {
	full := &agenttrailv1.Event{
		EventId:          NewEventID(),
		SessionId:        s.envelope.SessionId,
		Step:             step,
		AgentId:          s.envelope.AgentId,
		AgentVersion:     s.envelope.AgentVersion,
		ModelId:          s.envelope.ModelId,
		SystemPromptHash: s.envelope.SystemPromptHash,
		UserId:           s.envelope.UserId,
		OccurredAt:       timestamppb.New(now),
		Labels:           maps.Clone(s.labels),
		Payload:          ev.Payload,
		ParentEventId:    s.startID,
	}
	for _, o := range opts {
		o.applyToEvent(full)
	}
	return full
}

// checkEvent runs the server's own checks of an event, except the clock's.
func checkEvent(ev *agenttrailv1.Event) error {
	if err := event.Validate(ev, event.Limits{}); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	return nil
}

// tally counts the events of a session for its end.
type tally struct {
	steps, llmCalls, toolCalls, errors uint32
	inputTokens, outputTokens          int64
	currency                           string
	costMicros                         int64
	costMixed                          bool
	dropped                            uint64
}

// add counts one recorded event.
func (t *tally) add(ev *agenttrailv1.Event) {
	t.steps++
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_LlmCall:
		t.llmCalls++
		t.inputTokens += p.LlmCall.GetInputTokens()
		t.outputTokens += p.LlmCall.GetOutputTokens()
		if c := p.LlmCall.GetCost(); c != nil {
			switch {
			case t.currency == "" && !t.costMixed:
				t.currency = c.GetCurrencyCode()
			case t.currency != c.GetCurrencyCode():
				t.costMixed = true
			}
			t.costMicros += c.GetMicros()
		}
	case *agenttrailv1.Event_ToolCall:
		t.toolCalls++
	case *agenttrailv1.Event_Error:
		t.errors++
	}
}

// fill sets the counters of end left at zero; step is the end's own step.
func (t *tally) fill(end *agenttrailv1.SessionEnd, step uint32) {
	if end.StepCount == 0 {
		end.StepCount = step
	}
	if end.LlmCallCount == 0 {
		end.LlmCallCount = t.llmCalls
	}
	if end.ToolCallCount == 0 {
		end.ToolCallCount = t.toolCalls
	}
	if end.ErrorCount == 0 {
		end.ErrorCount = t.errors
	}
	if end.InputTokens == 0 {
		end.InputTokens = t.inputTokens
	}
	if end.OutputTokens == 0 {
		end.OutputTokens = t.outputTokens
	}
	if end.Cost == nil && t.currency != "" && !t.costMixed {
		end.Cost = &agenttrailv1.Cost{CurrencyCode: t.currency, Micros: t.costMicros}
	}
}
