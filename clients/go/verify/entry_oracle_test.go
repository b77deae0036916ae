package verify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// oracleCheckEntry is CheckEntry as it was before its fast path (decode,
// event.Split, proto.Equal), kept verbatim as the oracle (with the
// package's firstDiff, which names the differing field): CheckEntry must
// give exactly its verdicts and errors.
func oracleCheckEntry(e *agenttrailv1.Entry) error {
	c := e.GetCommitment()
	if c == nil {
		return fmt.Errorf("%w: entry has no commitment", verify.ErrMalformed)
	}
	if err := oracleHashLength("content digest", c.GetContentDigest()); err != nil {
		return err
	}
	if err := oracleHashLength("leaf hash", c.GetLeafHash()); err != nil {
		return err
	}
	if uint64(len(c.GetHeader())) > math.MaxUint32 {
		return fmt.Errorf("%w: header is %d bytes, more than a leaf's 32-bit length prefix allows", verify.ErrMalformed, len(c.GetHeader()))
	}
	salt, content := c.GetSalt(), c.GetContent()
	switch {
	case len(salt) != 0 && len(salt) != verify.HashSize:
		return fmt.Errorf("%w: salt is %d bytes, want %d", verify.ErrMalformed, len(salt), verify.HashSize)
	case len(salt) == 0 && len(content) != 0:
		return fmt.Errorf("%w: content is shown without its salt, so it cannot be checked", verify.ErrMalformed)
	case len(salt) == 0 && e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_PRESENT:
		return fmt.Errorf("%w: view says the content is present, but the salt is missing", verify.ErrMalformed)
	}

	if leaf := verify.LeafHash(c.GetHeader(), c.GetContentDigest()); !bytes.Equal(leaf[:], c.GetLeafHash()) {
		return fmt.Errorf("%w: leaf hash is %x, but header and content digest hash to %x", verify.ErrLeafMismatch, c.GetLeafHash(), leaf)
	}
	hasContent := len(salt) != 0
	if hasContent {
		if d := verify.ContentDigest(salt, content); !bytes.Equal(d[:], c.GetContentDigest()) {
			return fmt.Errorf("%w: content digest is %x, but salt and content hash to %x", verify.ErrDigestMismatch, c.GetContentDigest(), d)
		}
	}

	var header agenttrailv1.EventHeader
	if err := oracleDiscardUnknown.Unmarshal(c.GetHeader(), &header); err != nil {
		return fmt.Errorf("%w: header bytes do not decode as agenttrail.v1.EventHeader: %v", verify.ErrMalformed, err)
	}
	stamp := &agenttrailv1.EventHeader{ReceivedAt: e.GetStamp().GetReceivedAt(), Principal: e.GetStamp().GetPrincipal()}
	committed := &agenttrailv1.EventHeader{ReceivedAt: header.GetReceivedAt(), Principal: header.GetPrincipal()}
	if !proto.Equal(stamp, committed) {
		return fmt.Errorf("%w: stamp field %s differs from the committed header", verify.ErrEventMismatch, verify.FirstDiff(stamp.ProtoReflect(), committed.ProtoReflect()))
	}

	wire, err := proto.Marshal(e.GetEvent())
	if err != nil {
		return fmt.Errorf("%w: entry event does not encode: %v", verify.ErrMalformed, err)
	}
	var ev agenttrailv1.Event
	if err := oracleDiscardUnknown.Unmarshal(wire, &ev); err != nil {
		return fmt.Errorf("%w: entry event does not decode: %v", verify.ErrMalformed, err)
	}
	metadata, rest := event.Split(&ev)
	want := header.GetEvent()
	if want == nil {
		want = new(agenttrailv1.Event)
	}
	if !proto.Equal(metadata, want) {
		return fmt.Errorf("%w: event field %s differs from the committed header", verify.ErrEventMismatch, verify.FirstDiff(metadata.ProtoReflect(), want.ProtoReflect()))
	}

	if hasContent {
		var committed agenttrailv1.Event
		if err := oracleDiscardUnknown.Unmarshal(content, &committed); err != nil {
			return fmt.Errorf("%w: content bytes do not decode as agenttrail.v1.Event: %v", verify.ErrMalformed, err)
		}
		if !proto.Equal(rest, &committed) {
			return fmt.Errorf("%w: event field %s differs from the committed content", verify.ErrEventMismatch, verify.FirstDiff(rest.ProtoReflect(), committed.ProtoReflect()))
		}
	}
	return nil
}

var oracleDiscardUnknown = proto.UnmarshalOptions{DiscardUnknown: true}

func oracleHashLength(what string, h []byte) error {
	if len(h) != verify.HashSize {
		return fmt.Errorf("%w: %s is %d bytes, want %d", verify.ErrMalformed, what, len(h), verify.HashSize)
	}
	return nil
}

// sameVerdict fails unless CheckEntry and the oracle agree on e: both nil,
// or the same error text (and so the same class and field named); and
// unless the fast path passes only what the oracle passes.
func sameVerdict(t *testing.T, name string, e *agenttrailv1.Entry) (passed bool) {
	t.Helper()
	got, want := verify.CheckEntry(e), oracleCheckEntry(e)
	switch {
	case (got == nil) != (want == nil):
		t.Errorf("%s: CheckEntry = %v, the old check = %v", name, got, want)
	case got != nil && got.Error() != want.Error():
		t.Errorf("%s: CheckEntry error\ngot  %v\nwant %v", name, got, want)
	}
	if verify.EntryMatches(e) && want != nil {
		t.Errorf("%s: the fast path passes an entry the old check rejects: %v", name, want)
	}
	return want == nil
}

// TestCheckEntryAgreesWithTheOldCheckOnTheVectors runs every entry of the
// shared vectors (clients/testdata/vectors/entries.json), good and broken,
// through CheckEntry and the old check; every good one must also take the
// fast path.
func TestCheckEntryAgreesWithTheOldCheckOnTheVectors(t *testing.T) {
	b, err := os.ReadFile("../../testdata/vectors/entries.json")
	if err != nil {
		t.Fatal(err)
	}
	var f entriesFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Good) < 10 || len(f.Broken) < 10 {
		t.Fatalf("entries.json has %d good and %d broken entries, want at least 10 of each", len(f.Good), len(f.Broken))
	}
	for _, v := range f.Good {
		e := decodeEntry(t, v.Entry)
		if !sameVerdict(t, v.Name, e) {
			t.Errorf("%s: a good vector fails the old check", v.Name)
		}
		// An entry from a newer server has fields this build does not
		// know: the full check decides it.
		if !verify.EntryMatches(e) && v.Name != "tool_call/unknown_fields" {
			t.Errorf("%s: a good entry does not take the fast path", v.Name)
		}
	}
	for _, v := range f.Broken {
		if sameVerdict(t, v.Name, decodeEntry(t, v.Entry)) {
			t.Errorf("%s: a broken vector passes the old check", v.Name)
		}
	}
}

// honestViews returns an entry of every sample event in the views a server
// sends: full, metadata (no content), erased, and redacted (content fields
// shown but not committed bytes).
func honestViews(t *testing.T) map[string]*agenttrailv1.Entry {
	views := map[string]*agenttrailv1.Entry{}
	for i, s := range eventtest.Samples() {
		e := entryFor(t, i, s.Event)
		views[s.Name+"/full"] = e
		views[s.Name+"/metadata"] = withheld(e, agenttrailv1.ViewKind_VIEW_KIND_METADATA, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, nil)
		views[s.Name+"/erased"] = withheld(e, agenttrailv1.ViewKind_VIEW_KIND_FULL, agenttrailv1.ContentState_CONTENT_STATE_ERASED, nil)
		_, content := event.Split(s.Event)
		views[s.Name+"/redacted"] = withheld(e, agenttrailv1.ViewKind_VIEW_KIND_REDACTED, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, content)
	}
	return views
}

func TestCheckEntryFastPathTakesEveryHonestEntry(t *testing.T) {
	for name, e := range honestViews(t) {
		if !sameVerdict(t, name, e) {
			t.Errorf("%s: an honest entry fails the old check", name)
		}
		if !verify.EntryMatches(e) {
			t.Errorf("%s: an honest entry does not take the fast path", name)
		}
	}
}

// tamper alters an honest entry as the fuzzer's bytes say: one of the
// committed bytes, the hashes, the event shown (re-encoded with altered
// bytes), the stamp, the view, unknown fields, or bytes replaced whole; with
// the leaf and digest recomputed or not, so that every later check is
// reached too.
func tamper(e *agenttrailv1.Entry, ops []byte) {
	c := e.Commitment
	next := func() int {
		if len(ops) == 0 {
			return 0
		}
		b := int(ops[0])
		ops = ops[1:]
		return b
	}
	flipIn := func(b []byte) []byte {
		if len(b) == 0 {
			return append(b, byte(next()))
		}
		b = bytes.Clone(b)
		b[next()*7%len(b)] ^= byte(1 << (next() % 8))
		return b
	}
	for steps := next()%4 + 1; steps > 0; steps-- {
		switch next() % 18 {
		case 0:
			c.Header = flipIn(c.Header)
		case 1:
			c.Content = flipIn(c.Content)
		case 2:
			c.Salt = flipIn(c.Salt)
		case 3:
			c.ContentDigest = flipIn(c.ContentDigest)
		case 4:
			c.LeafHash = flipIn(c.LeafHash)
		case 5: // the event shown, with one byte of its encoding altered
			b, _ := proto.Marshal(e.Event)
			var ev agenttrailv1.Event
			if proto.Unmarshal(flipIn(b), &ev) == nil {
				e.Event = &ev
			}
		case 6: // unknown or wrongly typed fields in the event shown
			if e.Event == nil {
				e.Event = new(agenttrailv1.Event)
			}
			n := protowire.Number(next()%40 + 1)
			e.Event.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.Type(next()%2*2)), []byte{byte(next())}))
		case 7: // an unknown field in the committed header's event, as a newer server
			var h agenttrailv1.EventHeader
			if proto.Unmarshal(c.Header, &h) == nil && h.Event != nil {
				h.Event.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, protowire.Number(90+next()%10), protowire.BytesType), "newer"))
				c.Header, _ = deterministic.Marshal(&h)
			}
		case 8:
			if e.Stamp != nil {
				e.Stamp.Principal += string(rune('a' + next()%3))
			}
		case 9:
			if e.Stamp != nil && e.Stamp.ReceivedAt != nil {
				e.Stamp.ReceivedAt = &timestamppb.Timestamp{Seconds: e.Stamp.ReceivedAt.Seconds + int64(next()%3-1), Nanos: e.Stamp.ReceivedAt.Nanos + int32(next()%3-1)}
			}
		case 10:
			switch next() % 3 {
			case 0:
				e.Stamp = nil
			case 1:
				if e.Stamp != nil {
					e.Stamp.ReceivedAt = nil
				}
			case 2:
				if e.Stamp != nil && e.Stamp.ReceivedAt != nil {
					e.Stamp.ReceivedAt.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1))
				}
			}
		case 11: // the content withheld or erased in the view, or shown again
			c.Salt, c.Content = nil, nil
			e.View = &agenttrailv1.View{Kind: agenttrailv1.ViewKind(next() % 4), Content: agenttrailv1.ContentState(next() % 4)}
		case 12: // header bytes replaced whole
			c.Header = append([]byte(nil), ops...)
		case 13: // content bytes replaced whole
			c.Content = append([]byte(nil), ops...)
		case 14: // the content fields of the event shown dropped
			h, _ := event.Split(e.Event)
			e.Event = h
		case 15: // fields appended to the committed header (duplicates, unknown numbers)
			n := next() % 8 // before len(ops): next consumes one of them
			c.Header = append(bytes.Clone(c.Header), ops[:min(len(ops), n)]...)
		case 16: // the event shown nil
			e.Event = nil
		case 17: // leaf and digest made honest again for the bytes now committed
			if len(c.Salt) != 0 {
				d := verify.ContentDigest(c.Salt, c.Content)
				c.ContentDigest = d[:]
			}
			l := verify.LeafHash(c.Header, c.ContentDigest)
			c.LeafHash = l[:]
		}
	}
}

// FuzzCheckEntryAgreesWithTheOldCheck alters honest entries of every sample
// event as the fuzzer says and requires CheckEntry's verdict and error to
// be the old check's, and the fast path to pass nothing the old check
// rejects.
func FuzzCheckEntryAgreesWithTheOldCheck(f *testing.F) {
	samples := eventtest.Samples()
	for i := range samples {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte{0, 17, 0, 2, 5})
		f.Add(uint8(i), []byte{1, 5, 3, 9, 17})
		f.Add(uint8(i), []byte{2, 6, 7, 2, 4, 17, 11, 1, 2})
		f.Add(uint8(i), []byte{0, 14, 17})
		f.Add(uint8(i), []byte{0, 7, 17})
	}
	f.Fuzz(func(t *testing.T, sample uint8, ops []byte) {
		s := samples[int(sample)%len(samples)]
		e := entryFor(t, int(sample), proto.Clone(s.Event).(*agenttrailv1.Event))
		if len(ops) > 0 && ops[0]%3 == 1 {
			_, content := event.Split(e.Event)
			e = withheld(e, agenttrailv1.ViewKind_VIEW_KIND_REDACTED, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, content)
		}
		tamper(e, ops)
		sameVerdict(t, "fuzz", e)
	})
}

// BenchmarkCheckEntry checks a full-view tool call of about 1 KiB, with
// CheckEntry and with the old check.
func BenchmarkCheckEntry(b *testing.B) {
	var t testing.T
	ev := proto.Clone(eventtest.Samples()[3].Event).(*agenttrailv1.Event)
	ev.GetToolCall().Result = `{"rows":"` + strings.Repeat("x", 900) + `"}`
	e := entryFor(&t, 3, ev)
	for _, c := range []struct {
		name  string
		check func(*agenttrailv1.Entry) error
	}{{"CheckEntry", verify.CheckEntry}, {"old", oracleCheckEntry}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.check(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
