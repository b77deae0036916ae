package event_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"

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

// BenchmarkEncodeReceived is the append path's encoding of an event that
// arrived in Go's encoding: measured (as submit measures), then split where
// it lies. BenchmarkEncodeSized is the same event encoded again.
func BenchmarkEncodeReceived(b *testing.B) {
	for _, tc := range []struct {
		name string
		ev   *agenttrailv1.Event
	}{{"sample", eventtest.Samples()[2].Event}, {"realistic", eventtest.RealisticLLMCall()}} {
		raw, err := deterministic.Marshal(tc.ev)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/received", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, reused, err := event.EncodeReceived(tc.ev, raw, limits); err != nil || !reused {
					b.Fatal(err, reused)
				}
			}
		})
		b.Run(tc.name+"/sized", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				proto.Size(tc.ev)
				if _, err := event.EncodeSized(tc.ev, limits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
