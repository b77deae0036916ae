package event_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

func BenchmarkEncode(b *testing.B) {
	ev := eventtest.Samples()[2].Event
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := event.Encode(ev, limits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSized(b *testing.B) {
	ev := eventtest.Samples()[2].Event
	proto.Size(ev)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := event.EncodeSized(ev, limits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplitAndMarshal(b *testing.B) {
	ev := eventtest.Samples()[2].Event
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h, c := event.Split(ev)
		if _, err := deterministic.Marshal(h); err != nil {
			b.Fatal(err)
		}
		if _, err := deterministic.Marshal(c); err != nil {
			b.Fatal(err)
		}
	}
}
