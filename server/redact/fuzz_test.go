package redact

import (
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// fuzzSeeds are texts at the edges of the detectors, added to the corpus
// lines.
var fuzzSeeds = []string{
	"", "@", "a@b.co", "::", "::1", "+", "+1 (", "4242 4242 4242 4242 4242",
	"Bearer ", "Basic ", "eyJ.eyJ.", "-----BEGIN PRIVATE KEY-----", "://:@",
	"password=", "api_key: ", `{"password": 1}`, "\\n+44 20 7946 0958",
	"jane@example.com4242424242424242", "[EMAIL][EMAIL]", "x@y.com.4.4.4.4",
	"GB82 WEST 1234 5698 7654 32", "AB 12 34 56 C", "078-05-1120",
	"sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", "Zq4Lm8Xv2Nb7Tp1Rk9Wc3Yd6/Zq4Lm8Xv2Nb7Tp1Rk9Wc3Yd6",
	"2026-11-02T09:30:00.123456+01:00", "2026-11-02 09:30", "1999-12-31T23:59:59Z",
	"DOB 0", // a date's day that ends the text
}

// textSeeds returns the texts the text fuzzers start from: the seeds above,
// the triage seeds, and every line of the corpora.
func textSeeds(t testing.TB) []string {
	all := append(append([]string{}, fuzzSeeds...), triageSeeds...)
	for _, name := range []string{"sensitive.jsonl", "clean.jsonl"} {
		for _, l := range loadCorpus(t, name) {
			all = append(all, l.Text)
		}
	}
	return all
}

// FuzzText checks Text on any string: it does not panic, keeps valid UTF-8
// valid (proto3 strings must be), leaves nothing any detector matches (a run
// that decodes to text counting by what its text holds), and is idempotent.
func FuzzText(f *testing.F) {
	for _, s := range textSeeds(f) {
		f.Add(s)
	}
	r := defaultRedactor(f)
	f.Fuzz(func(t *testing.T, s string) {
		out := r.Text(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q: valid UTF-8 became invalid", s, out)
		}
		sc := scanners.Get().(*scanner)
		sc.reset(out)
		ms := r.find(sc, trAll)
		if r.decodes {
			// A run that decodes to text is judged by what the text
			// holds, not by its look (see decoded), as Text judges it.
			ms = r.decoded(sc, ms, 0)
		}
		if len(ms) > 0 {
			t.Fatalf("Text(%q) = %q, in which a detector still matches %q", s, out, out[ms[0].start:ms[0].end])
		}
		if isISOTime(s) {
			sc.reset(s)
			if ms := r.find(sc, trAll); len(ms) > 0 {
				t.Fatalf("%q is an ISO time, which Text skips, but a detector matches %q in it", s, s[ms[0].start:ms[0].end])
			}
		}
		sc.release()
		if again := r.Text(out); again != out {
			t.Fatalf("Text is not idempotent on %q:\nonce  %q\ntwice %q", s, out, again)
		}
		if js := r.content(s); utf8.ValidString(s) && !utf8.ValidString(js) {
			t.Fatalf("content(%q) = %q: valid UTF-8 became invalid", s, js)
		}
		if js := r.content(s); r.content(js) != js {
			t.Fatalf("content is not idempotent on %q:\nonce  %q\ntwice %q", s, js, r.content(js))
		}
	})
}

// FuzzEvent checks Event on any event that decodes: it does not panic,
// does not modify its argument, leaves the header unchanged, returns an
// event that encodes, and is idempotent. Idempotence means that every
// content string of the view comes back unchanged from scanning (as text
// or as JSON), so no detector matches anything left in it.
func FuzzEvent(f *testing.F) {
	seeds := []*agenttrailv1.Event{benchLLMCall()}
	for _, s := range eventtest.Samples() {
		seeds = append(seeds, s.Event)
	}
	for _, l := range loadCorpus(f, "sensitive.jsonl") {
		seeds = append(seeds, corpusEvents(f, l.Text)...)
	}
	for _, ev := range seeds {
		b, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	r := defaultRedactor(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev agenttrailv1.Event
		if proto.Unmarshal(b, &ev) != nil {
			return
		}
		before := proto.Clone(&ev)
		view := r.Event(&ev)
		if !proto.Equal(&ev, before) {
			t.Fatalf("Event modified its argument")
		}
		hin, _ := event.Split(&ev)
		hout, _ := event.Split(view)
		if !proto.Equal(hin, hout) {
			t.Fatalf("the view's header differs from the event's:\ngot  %v\nwant %v", hout, hin)
		}
		if _, err := proto.Marshal(view); err != nil {
			t.Fatalf("the view does not encode: %v\n%v", err, view)
		}
		if again := r.Event(view); !proto.Equal(again, view) {
			t.Fatalf("Event is not idempotent:\nonce  %v\ntwice %v", view, again)
		}
	})
}
