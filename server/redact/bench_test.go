package redact

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// benchLLMCall is the realistic 4 KiB LLM call shared with the server's
// Query benchmark.
func benchLLMCall() *agenttrailv1.Event { return eventtest.RealisticLLMCall() }

// inputBytes is the size of the text of an LLM call's input messages.
func inputBytes(ev *agenttrailv1.Event) int {
	n := 0
	for _, m := range ev.GetLlmCall().GetInputMessages() {
		n += len(m.GetContent())
		for _, c := range m.GetToolCalls() {
			n += len(c.GetArgumentsJson())
		}
	}
	return n
}

func TestBenchEventIsRealistic(t *testing.T) {
	ev := benchLLMCall()
	if n := inputBytes(ev); n < 3800 || n > 4600 {
		t.Errorf("benchmark event has %d bytes of input messages, want about 4 KiB", n)
	}
	view := defaultRedactor(t).Event(ev)
	checkHeaderUnchanged(t, "benchmark event", ev, view)
	masks := 0
	for _, m := range view.GetLlmCall().GetInputMessages() {
		for _, label := range []string{"[EMAIL]", "[PHONE]", "[CARD ****4242]", "[IP]"} {
			masks += strings.Count(m.GetContent(), label)
		}
	}
	if masks != 4 {
		t.Errorf("benchmark event view has %d masks in its input messages, want 4 (email, phone, card, IP)", masks)
	}
}

// BenchmarkEvent measures the developer view of one realistic LLM call.
func BenchmarkEvent(b *testing.B) {
	r := defaultRedactor(b)
	ev := benchLLMCall()
	b.SetBytes(int64(inputBytes(ev)))
	b.ReportAllocs()
	for b.Loop() {
		r.Event(ev)
	}
}

// queryBaseline does what a Query does for one event before any view is
// applied, as a stand-in until the server exists: decode the stored header
// and content (proto.Unmarshal of deterministic encodings) and join them.
// The real Query also reads Badger and sends over gRPC, which costs more.
func queryBaseline(b *testing.B, header, content []byte) *agenttrailv1.Event {
	var h, c agenttrailv1.Event
	if err := proto.Unmarshal(header, &h); err != nil {
		b.Fatal(err)
	}
	if err := proto.Unmarshal(content, &c); err != nil {
		b.Fatal(err)
	}
	return event.Join(&h, &c)
}

// encodeSplit is what the store does at append: split and encode.
func encodeSplit(b *testing.B, ev *agenttrailv1.Event) (header, content []byte) {
	h, c := event.Split(ev)
	det := proto.MarshalOptions{Deterministic: true}
	header, err := det.Marshal(h)
	if err != nil {
		b.Fatal(err)
	}
	content, err = det.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	return header, content
}

// BenchmarkQueryBaseline is the per-event cost a Query has without
// redaction: split and deterministic marshal (as at append), unmarshal and
// join (as at read). Compare BenchmarkEvent with it.
func BenchmarkQueryBaseline(b *testing.B) {
	ev := benchLLMCall()
	b.SetBytes(int64(inputBytes(ev)))
	b.ReportAllocs()
	for b.Loop() {
		header, content := encodeSplit(b, ev)
		queryBaseline(b, header, content)
	}
}

// BenchmarkQueryReadOnly is the read half of the baseline alone: unmarshal
// and join, the part of a Query that runs for every event read.
func BenchmarkQueryReadOnly(b *testing.B) {
	ev := benchLLMCall()
	header, content := encodeSplit(b, ev)
	b.SetBytes(int64(inputBytes(ev)))
	b.ReportAllocs()
	for b.Loop() {
		queryBaseline(b, header, content)
	}
}

// BenchmarkQueryWithRedaction is BenchmarkQueryBaseline followed by the
// developer view, as a developer's Query runs.
func BenchmarkQueryWithRedaction(b *testing.B) {
	r := defaultRedactor(b)
	ev := benchLLMCall()
	b.SetBytes(int64(inputBytes(ev)))
	b.ReportAllocs()
	for b.Loop() {
		header, content := encodeSplit(b, ev)
		r.Event(queryBaseline(b, header, content))
	}
}

// BenchmarkText measures free-text scanning of 4 KiB of prose, with and
// without items to mask.
func BenchmarkText(b *testing.B) {
	ev := benchLLMCall()
	var clean strings.Builder
	for clean.Len() < 4096 {
		clean.WriteString(ev.GetLlmCall().GetInputMessages()[0].GetContent())
		clean.WriteString(" ")
	}
	const pii = " mail jane.doe@example.com, call +44 7700 900123, card 4242 4242 4242 4242, from 203.0.113.42"
	texts := map[string]string{
		"clean_4KiB": clean.String()[:4096],
		"pii_4KiB":   clean.String()[:4096-len(pii)] + pii,
	}
	r := defaultRedactor(b)
	for _, name := range []string{"clean_4KiB", "pii_4KiB"} {
		s := texts[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				r.Text(s)
			}
		})
	}
}
