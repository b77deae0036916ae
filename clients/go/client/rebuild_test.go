package client

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// rebuildEvent builds the event from a header of the shape the server
// writes, and from one of another shape as the server decodes it; it
// leaves an entry that has its event alone, and refuses a header or
// content that does not decode.
func TestRebuildEvent(t *testing.T) {
	headerEv := &agenttrailv1.Event{EventId: "e1", SessionId: "s1", Step: 3, Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{RequestModel: "m"}}}
	contentEv := &agenttrailv1.Event{Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{OutputText: "hello"}}}
	want := &agenttrailv1.Event{EventId: "e1", SessionId: "s1", Step: 3, Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{RequestModel: "m", OutputText: "hello"}}}
	marshal := func(m proto.Message) []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	header := marshal(&agenttrailv1.EventHeader{Event: headerEv, ReceivedAt: timestamppb.Now(), Principal: "agent"})
	noTime := marshal(&agenttrailv1.EventHeader{Event: headerEv}) // not the shape the server writes
	content := marshal(contentEv)
	// A header in the server's shape whose event ends inside a field
	// (session_id said to be 10 bytes long, 3 given): joined to content of
	// 7 bytes or more it would decode, so it must be refused on its own.
	ts := marshal(timestamppb.Now())
	cut := []byte{0x12, 10, 'a', 'b', 'c'}
	runsOn := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), cut)
	runsOn = protowire.AppendBytes(protowire.AppendTag(runsOn, 2, protowire.BytesType), ts)
	if _, _, _, ok := commitment.SplitHeader(runsOn); !ok {
		t.Fatal("the cut header is not in the server's shape")
	}
	sevenMore := []byte("defghij")
	if err := proto.Unmarshal(append(slices.Clone(cut), sevenMore...), new(agenttrailv1.Event)); err != nil {
		t.Fatalf("the cut event joined to the content does not decode (%v): the case tests nothing", err)
	}
	for _, tc := range []struct {
		name    string
		entry   *agenttrailv1.Entry
		want    *agenttrailv1.Event
		wantErr bool
	}{
		{"with content", &agenttrailv1.Entry{Commitment: &agenttrailv1.Commitment{Header: header, Content: content}}, want, false},
		{"erased", &agenttrailv1.Entry{Commitment: &agenttrailv1.Commitment{Header: header}}, headerEv, false},
		{"other header shape", &agenttrailv1.Entry{Commitment: &agenttrailv1.Commitment{Header: noTime, Content: content}}, want, false},
		{"event sent", &agenttrailv1.Entry{Event: contentEv, Commitment: &agenttrailv1.Commitment{Header: header, Content: content}}, contentEv, false},
		{"no commitment", &agenttrailv1.Entry{}, nil, false},
		{"header does not decode", &agenttrailv1.Entry{Commitment: &agenttrailv1.Commitment{Header: []byte{0x0a, 0x05, 1}}}, nil, true},
		{"header's event runs on into the content", &agenttrailv1.Entry{Commitment: &agenttrailv1.Commitment{Header: runsOn, Content: sevenMore}}, nil, true},
		{"content does not decode", &agenttrailv1.Entry{Commitment: &agenttrailv1.Commitment{Header: header, Content: []byte{0x0a, 0x05, 1}}}, nil, true},
	} {
		err := rebuildEvent(tc.entry)
		if tc.wantErr {
			if !errors.Is(err, errRebuildEvent) {
				t.Errorf("%s: got error %v, want errRebuildEvent", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !proto.Equal(tc.entry.GetEvent(), tc.want) {
			t.Errorf("%s: got event %v, want %v", tc.name, tc.entry.GetEvent(), tc.want)
		}
	}
}
