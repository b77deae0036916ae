package client

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// BenchmarkRebuildEvent is the client's work per full-view entry sent
// without its event (event_from_commitment): a realistic LLM call rebuilt
// from its committed header and content.
func BenchmarkRebuildEvent(b *testing.B) {
	ev := eventtest.RealisticLLMCall()
	enc, err := event.Encode(ev, event.Limits{Now: time.Now().Add(24 * time.Hour), MaxClockSkew: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var hev agenttrailv1.Event
	if err := proto.Unmarshal(enc.Header, &hev); err != nil {
		b.Fatal(err)
	}
	header, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&agenttrailv1.EventHeader{Event: &hev, ReceivedAt: timestamppb.Now(), Principal: "agent"})
	b.ReportAllocs()
	for b.Loop() {
		e := &agenttrailv1.Entry{Commitment: &agenttrailv1.Commitment{Header: header, Content: enc.Content}}
		if err := rebuildEvent(e); err != nil {
			b.Fatal(err)
		}
	}
}
