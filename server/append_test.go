package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
)

// rawCodec lets a test send bytes that are not a valid message.
type rawCodec struct{}

type rawBytes []byte

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(rawBytes); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return encoding.GetCodecV2("proto").Marshal(v)
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return encoding.GetCodecV2("proto").Unmarshal(data, v)
}

var appendDesc = &grpc.StreamDesc{StreamName: "Append", ServerStreams: true, ClientStreams: true}

// appendRaw sends each frame as is on one Append stream and returns every
// response and the stream's final status.
func appendRaw(t *testing.T, h *harness, frames [][]byte) ([]*agenttrailv1.AppendResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := h.conn.NewStream(ctx, appendDesc, agenttrailv1.AppendService_Append_FullMethodName, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := cs.SendMsg(rawBytes(f)); err != nil {
			break
		}
	}
	cs.CloseSend()
	var out []*agenttrailv1.AppendResponse
	for {
		resp := new(agenttrailv1.AppendResponse)
		err := cs.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, resp)
	}
}

func frame(t *testing.T, ev *agenttrailv1.Event) []byte {
	t.Helper()
	b, err := proto.Marshal(&agenttrailv1.AppendRequest{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventWithRawString encodes an AppendRequest whose event has a string field
// (output text of an output event) holding invalid UTF-8, which a Go client
// cannot even marshal.
func eventWithRawString(t *testing.T, ev *agenttrailv1.Event) []byte {
	t.Helper()
	b, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out := protowire.AppendTag(nil, 26, protowire.BytesType) // Event.output
	inner := protowire.AppendTag(nil, 1, protowire.BytesType)
	inner = protowire.AppendBytes(inner, []byte("bad \xff\xfe utf-8"))
	out = protowire.AppendBytes(out, inner)
	b = append(b, out...)
	req := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(req, b)
}

// A stream that mixes valid events, invalid ones and a changed duplicate
// gets one response per request, in order, and goes on after each error.
func TestAppendStreamMixesReceiptsAndRejections(t *testing.T) {
	h := start(t, nil)
	evs := agentEvents()
	before := appendAll(t, h.append, requests(evs[:1]))[0].GetReceipt()

	badID := proto.Clone(evs[1]).(*agenttrailv1.Event)
	badID.EventId = "this is not an id"
	future := proto.Clone(evs[2]).(*agenttrailv1.Event)
	future.OccurredAt = timestamppb.New(time.Now().Add(30 * 24 * time.Hour))
	noSession := proto.Clone(evs[3]).(*agenttrailv1.Event)
	noSession.SessionId = ""
	unknownEnum := proto.Clone(evs[4]).(*agenttrailv1.Event)
	unknownEnum.GetHumanApproval().Decision = 99
	changed := proto.Clone(evs[0]).(*agenttrailv1.Event)
	changed.GetSessionStart().UserMessage = "something else"
	serverKind := fresh()[9] // an access event
	output := proto.Clone(evs[7]).(*agenttrailv1.Event)
	output.Payload = nil
	output.EventId = "01963a4e-7c1b-7000-8000-0000000000b1"

	frames := [][]byte{
		frame(t, evs[1]),              // 0 ok
		frame(t, badID),               // 1 invalid id
		frame(t, future),              // 2 future time
		{0xff, 0xff, 0xff},            // 3 not protobuf
		frame(t, noSession),           // 4 missing session
		frame(t, evs[0]),              // 5 identical duplicate of an earlier stream's event
		frame(t, changed),             // 6 changed duplicate
		frame(t, unknownEnum),         // 7 unknown enum value
		eventWithRawString(t, output), // 8 invalid UTF-8
		frame(t, serverKind),          // 9 server-only kind
		frame(t, nil),                 // 10 no event
		frame(t, evs[5]),              // 11 ok
	}
	resps, err := appendRaw(t, h, frames)
	if err != nil {
		t.Fatalf("stream ended with %v after %d responses", err, len(resps))
	}
	if len(resps) != len(frames) {
		t.Fatalf("%d responses for %d requests", len(resps), len(frames))
	}
	want := []struct {
		code  codes.Code
		field string
	}{
		{codes.OK, ""},
		{codes.InvalidArgument, "event.event_id"},
		{codes.InvalidArgument, "event.occurred_at"},
		{codes.InvalidArgument, ""},
		{codes.InvalidArgument, "event.session_id"},
		{codes.OK, ""},
		{codes.AlreadyExists, ""},
		{codes.InvalidArgument, "event.human_approval.decision"},
		{codes.InvalidArgument, ""},
		{codes.PermissionDenied, "event.payload"},
		{codes.InvalidArgument, "event"},
		{codes.OK, ""},
	}
	for i, w := range want {
		r := resps[i]
		if w.code == codes.OK {
			if r.GetReceipt() == nil {
				t.Errorf("response %d: %v, want a receipt", i, r.GetRejection())
			}
			continue
		}
		rej := r.GetRejection()
		if rej == nil {
			t.Errorf("response %d: a receipt, want a %v rejection", i, w.code)
			continue
		}
		if codes.Code(rej.GetCode()) != w.code || rej.GetField() != w.field {
			t.Errorf("response %d: code %v field %q (%s), want %v %q", i, codes.Code(rej.GetCode()), rej.GetField(), rej.GetMessage(), w.code, w.field)
		}
		if rej.GetMessage() == "" {
			t.Errorf("response %d: rejection without a message", i)
		}
		if strings.Contains(rej.GetMessage(), "something else") || strings.Contains(rej.GetMessage(), "this is not an id") {
			t.Errorf("response %d: the message repeats the submitted value: %q", i, rej.GetMessage())
		}
	}
	if d := resps[5].GetReceipt(); !d.GetDuplicate() || d.GetLogIndex() != before.GetLogIndex() {
		t.Errorf("identical duplicate: %v, want the original receipt %v marked duplicate", d, before)
	}
	if size, _ := h.st.Size(); size != 3 {
		t.Errorf("log size %d, want 3: only valid new events are stored", size)
	}
	if !strings.Contains(resps[8].GetRejection().GetMessage(), "UTF-8") {
		t.Errorf("invalid UTF-8: message %q does not say so", resps[8].GetRejection().GetMessage())
	}
}

// A message over the size limit ends its stream with RESOURCE_EXHAUSTED;
// the server stays up and nothing is stored.
func TestOversizedMessageEndsStreamOnly(t *testing.T) {
	h := start(t, nil, server.WithMaxMessageSize(64<<10))
	big := agentEvents()[0]
	big.GetSessionStart().UserMessage = strings.Repeat("x", 100<<10)
	_, err := appendRaw(t, h, [][]byte{frame(t, big)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized message: %v, want ResourceExhausted", err)
	}
	if size, _ := h.st.Size(); size != 0 {
		t.Errorf("log size %d after an oversized message, want 0", size)
	}
	resps := appendAll(t, h.append, requests(agentEvents()[1:2]))
	if len(resps) != 1 || resps[0].GetReceipt() == nil {
		t.Errorf("after an oversized message the server does not append: %v", resps)
	}
}

// An event over the store's event size limit (but within the message limit)
// gets its own RESOURCE_EXHAUSTED rejection.
func TestOversizedEventIsRejectedAlone(t *testing.T) {
	h := start(t, nil)
	evs := agentEvents()
	evs[0].GetSessionStart().UserMessage = strings.Repeat("x", 2<<20)
	resps := appendAll(t, h.append, requests(evs[:2]))
	if got := codes.Code(resps[0].GetRejection().GetCode()); got != codes.ResourceExhausted {
		t.Errorf("event over 1 MiB: %v, want ResourceExhausted", resps[0])
	}
	if resps[1].GetReceipt() == nil {
		t.Errorf("the next event was not appended: %v", resps[1])
	}
}

// An event whose metadata holds a secret or a personal datum is rejected
// with INVALID_ARGUMENT naming the field, and nothing is stored: metadata is
// committed in the clear and shown to every reader. The message never
// repeats the value. Content may hold anything; the developer view masks it.
func TestAppendRejectsSecretsInMetadata(t *testing.T) {
	h := start(t, nil)
	evs := agentEvents()
	type tc struct {
		field string
		set   func(ev *agenttrailv1.Event)
		value string
	}
	cases := []tc{
		{"event.agent_version", func(ev *agenttrailv1.Event) { ev.AgentVersion = "jane.doe@example.com" }, "jane.doe@example.com"},
		{"event.model_id", func(ev *agenttrailv1.Event) { ev.ModelId = "gpt-4o sk-proj-Tq3vX9mL2pR7wK4nB8cJ5hF1aZ6yD0eG" }, "sk-proj-Tq3vX9mL2pR7wK4nB8cJ5hF1aZ6yD0eG"},
		{"event.tool_call.tool_name", func(ev *agenttrailv1.Event) { ev.GetToolCall().ToolName = "charge 4242424242424242" }, "4242424242424242"},
		{"event.tool_call.error_type", func(ev *agenttrailv1.Event) {
			ev.GetToolCall().ErrorType = "AuthError ghp_R2d9Xk3mQ7vL0pT6wY1nB4cF8hJ5sA2eZ9uK"
		}, "ghp_R2d9Xk3mQ7vL0pT6wY1nB4cF8hJ5sA2eZ9uK"},
	}
	var toolCall *agenttrailv1.Event
	for _, ev := range evs {
		if ev.GetToolCall() != nil {
			toolCall = ev
		}
	}
	var frames [][]byte
	for i, c := range cases {
		ev := proto.Clone(evs[0]).(*agenttrailv1.Event)
		if strings.HasPrefix(c.field, "event.tool_call") {
			ev = proto.Clone(toolCall).(*agenttrailv1.Event)
		}
		ev.EventId = fmt.Sprintf("01963a4e-7c1b-7000-8000-0000000009%02d", i)
		c.set(ev)
		frames = append(frames, frame(t, ev))
	}
	clean := proto.Clone(evs[0]).(*agenttrailv1.Event)
	clean.AgentVersion, clean.ModelId = "2.4.1-rc.1+build.7", "claude-sonnet-4-20250514"
	frames = append(frames, frame(t, clean))
	resps, err := appendRaw(t, h, frames)
	if err != nil || len(resps) != len(frames) {
		t.Fatalf("%d responses, %v", len(resps), err)
	}
	for i, c := range cases {
		rej := resps[i].GetRejection()
		if codes.Code(rej.GetCode()) != codes.InvalidArgument || rej.GetField() != c.field {
			t.Errorf("%s: %v, want InvalidArgument naming %s", c.field, resps[i], c.field)
		}
		if !strings.HasPrefix(rej.GetMessage(), c.field+": ") || strings.Contains(rej.GetMessage(), c.value) {
			t.Errorf("%s: message %q should name the field and not repeat the value", c.field, rej.GetMessage())
		}
	}
	if resps[len(cases)].GetReceipt() == nil {
		t.Errorf("clean metadata was rejected: %v", resps[len(cases)])
	}
	if size, _ := h.st.Size(); size != 1 {
		t.Errorf("log size %d, want 1: nothing of a rejected event is stored", size)
	}
}
