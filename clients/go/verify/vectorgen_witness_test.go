package verify_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// The vectors of witness policies (cosigned.json) and of erasures that
// must be proven (erasures.json).

type cosignedFile struct {
	Comment string           `json:"comment"`
	Good    []cosignedVector `json:"good"`
	Broken  []cosignedVector `json:"broken"`
}

type cosignedVector struct {
	Name        string   `json:"name"`
	Wrong       string   `json:"wrong,omitempty"`
	Note        b64      `json:"note"`
	VerifierKey string   `json:"verifier_key"`
	Origin      string   `json:"origin"`
	WitnessKeys []string `json:"witness_keys"`
	Quorum      int      `json:"quorum"`
	Size        uint64   `json:"size,string,omitempty"`
	Root        b64      `json:"root,omitempty"`
	Cosigners   []string `json:"cosigners,omitempty"`
	Error       string   `json:"error,omitempty"`
}

type erasuresFile struct {
	Comment string          `json:"comment"`
	Cases   []erasureVector `json:"cases"`
}

type erasureVector struct {
	Name    string         `json:"name"`
	Entries []erasureEntry `json:"entries"`
	// Error is "" when every erased entry is proven, else
	// "unproven_erasure" with the first unproven index.
	Error      string `json:"error,omitempty"`
	FirstBadAt uint64 `json:"first_unproven,string,omitempty"`
}

type erasureEntry struct {
	Index  uint64 `json:"index,string"`
	Event  b64    `json:"event"`
	Erased bool   `json:"erased"`
}

// cosignTime is the timestamp of every cosignature of the vectors.
const cosignTime = 1793611800

// witnessKey is a witness's cosignature/v1 key, derived from a label.
type witnessKey struct {
	name string
	priv ed25519.PrivateKey
	hash uint32
	vkey string
}

func newWitnessKey(name, label string) witnessKey {
	priv := ed25519.NewKeyFromSeed(seeded(label))
	pub := priv.Public().(ed25519.PublicKey)
	h := keyHash(name, 0x04, pub)
	return witnessKey{name: name, priv: priv, hash: h,
		vkey: fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{0x04}, pub...)))}
}

// cosig returns the witness's cosignature/v1 line for a note text, at a
// time, with the key hash given.
func (w witnessKey) cosig(text string, at uint64, hash uint32) string {
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", at, text)
	sig := binary.BigEndian.AppendUint64(nil, at)
	sig = append(sig, ed25519.Sign(w.priv, []byte(msg))...)
	return "— " + w.name + " " + base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, hash), sig...)) + "\n"
}

func (w witnessKey) line(text string) string { return w.cosig(text, cosignTime, w.hash) }

func cosignedVectors(t *testing.T, log *memLog) cosignedFile {
	f := cosignedFile{Comment: "Checkpoints under a witness policy (C2SP tlog-cosignature, cosignature/v1): the log's verifier key and origin, the trusted witnesses' keys and how many must have cosigned. Good notes yield the tree head and the witnesses whose cosignatures verified, in line order; each broken one fails with its error class. See README.md."}
	logKey := newTestKey(t, testOrigin, "log key")
	w1 := newWitnessKey("witness.example/w1", "cosigner w1")
	w2 := newWitnessKey("witness.example/w2", "cosigner w2")
	w3 := newWitnessKey("witness.example/w3", "cosigner w3")
	root100, root13 := log.root(t, 100), log.root(t, 13)
	text := body(testOrigin, 100, root100)
	logLine := logKey.sigLine(text)
	note := func(lines ...string) b64 { return b64(text + "\n" + strings.Join(lines, "")) }
	keys := []string{w1.vkey, w2.vkey}
	good := func(name string, n b64, quorum int, cosigners ...string) {
		f.Good = append(f.Good, cosignedVector{Name: name, Note: n, VerifierKey: logKey.vkey, Origin: testOrigin, WitnessKeys: keys,
			Quorum: quorum, Size: 100, Root: root100, Cosigners: cosigners})
	}
	good("two_of_two", note(logLine, w1.line(text), w2.line(text)), 2, w1.name, w2.name)
	good("one_of_two", note(logLine, w1.line(text)), 1, w1.name)
	good("witnesses_first", note(w2.line(text), w1.line(text), logLine), 2, w2.name, w1.name)
	good("untrusted_witness_ignored", note(logLine, w3.line(text), w2.line(text), w1.line(text)), 2, w2.name, w1.name)
	zeroLine := "— " + w1.name + " " + base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, w1.hash), make([]byte, 72)...)) + "\n"
	good("repeated_cosignature_ignored", note(logLine, w1.line(text), zeroLine, w2.line(text)), 2, w1.name, w2.name)
	good("other_times", note(logLine, w1.cosig(text, 0, w1.hash), w2.cosig(text, 1<<63-1, w2.hash)), 2, w1.name, w2.name)

	broken := func(name, wrong, class string, n b64, keys []string, quorum int) {
		f.Broken = append(f.Broken, cosignedVector{Name: name, Wrong: wrong, Note: n, VerifierKey: logKey.vkey, Origin: testOrigin,
			WitnessKeys: keys, Quorum: quorum, Error: class})
	}
	broken("no_cosignatures", "the log signed it; no witness cosigned", "no_quorum", note(logLine), keys, 1)
	broken("one_of_two_needs_two", "one cosignature, the policy needs two", "no_quorum", note(logLine, w1.line(text)), keys, 2)
	broken("untrusted_witness_only", "only a witness outside the policy cosigned", "no_quorum", note(logLine, w3.line(text)), keys, 1)
	broken("cosignature_flipped", "one bit of w1's Ed25519 signature is flipped", "bad_signature",
		note(logLine, flipped(w1.line(text), 20), w2.line(text)), keys, 2)
	broken("repeated_cosignature_bad_first", "w1's first line is invalid; a valid repeat follows", "bad_signature",
		note(logLine, zeroLine, w1.line(text)), keys, 1)
	forkText := body(testOrigin, 100, root13)
	broken("cosignatures_of_another_tree", "the cosignatures are those of another tree of the same size, copied onto this checkpoint: a fork", "bad_signature",
		note(logLine, w1.line(forkText), w2.line(forkText)), keys, 1)
	broken("cosignature_time_altered", "the timestamp of w1's cosignature is changed after signing", "bad_signature",
		note(logLine, timeAltered(w1.line(text)), w2.line(text)), keys, 1)
	broken("plain_signature_as_cosignature", "w1's line is a plain Ed25519 note signature, without the cosignature/v1 header and timestamp", "bad_signature",
		note(logLine, "— "+w1.name+" "+base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, w1.hash), ed25519.Sign(w1.priv, []byte(text))...))+"\n"), keys, 1)
	broken("cosignature_truncated", "w1's cosignature is a timestamp and 63 bytes", "bad_signature",
		note(logLine, truncated(w1.line(text))), keys, 1)
	broken("key_hash_of_type_01", "w1's line carries the key hash of its key as a plain Ed25519 (0x01) key, so it names no trusted witness", "no_quorum",
		note(logLine, w1.cosig(text, cosignTime, keyHash(w1.name, 0x01, w1.priv.Public().(ed25519.PublicKey)))), keys, 1)
	broken("log_signature_missing", "the witnesses cosigned, but the log's signature is missing", "no_signature", note(w1.line(text), w2.line(text)), keys, 1)
	broken("log_signature_bad", "the log's signature is over another checkpoint", "bad_signature", note(logKey.sigLine(forkText), w1.line(text)), keys, 1)
	broken("witness_key_twice", "the policy names w1 twice", "malformed", note(logLine, w1.line(text)), []string{w1.vkey, w1.vkey}, 1)
	broken("witness_key_type_01", "a witness key given as a plain Ed25519 (0x01) verifier key", "malformed", note(logLine, w1.line(text)),
		[]string{logKey.vkey}, 1)
	broken("quorum_above_witnesses", "the quorum is 3 of 2 witnesses", "malformed", note(logLine, w1.line(text), w2.line(text)), keys, 3)
	broken("quorum_zero", "a quorum of 0 would trust a checkpoint no witness cosigned", "malformed", note(logLine), keys, 0)
	broken("no_witness_keys", "a policy without witnesses", "malformed", note(logLine), []string{}, 1)
	return f
}

// flipped flips one bit of byte k of a signature line's decoded bytes
// (key hash, timestamp, signature).
func flipped(line string, k int) string {
	i := strings.LastIndex(line, " ")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(line[i+1:], "\n"))
	raw[k] ^= 0x01
	return line[:i+1] + base64.StdEncoding.EncodeToString(raw) + "\n"
}

func timeAltered(line string) string { return flipped(line, 11) }

func truncated(line string) string {
	i := strings.LastIndex(line, " ")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(line[i+1:], "\n"))
	return line[:i+1] + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]) + "\n"
}

func erasureVectors(t *testing.T) erasuresFile {
	f := erasuresFile{Comment: "Content may be missing only where an erasure or retention event of the log, at a later index, names the index (Erasure.log_indexes and ranges, Retention.ranges). Each case lists entries that verified: their log index, their event (METADATA fields, deterministic encoding, base64) and whether their content is erased. See README.md."}
	ev := func(index uint64) erasureEntry {
		return entryOf(t, index, eventtest.Samples()[int(index)%13].Event, false)
	}
	erased := func(index uint64) erasureEntry {
		e := ev(index)
		e.Erased = true
		return e
	}
	erasure := func(at uint64, indexes []uint64, ranges ...[2]uint64) erasureEntry {
		er := &agenttrailv1.Erasure{Principal: "compliance", UserId: "subject-1", LogIndexes: indexes}
		for _, r := range ranges {
			er.Ranges = append(er.Ranges, &agenttrailv1.IndexRange{First: r[0], Last: r[1]})
		}
		return entryOf(t, at, &agenttrailv1.Event{EventId: fmt.Sprintf("erasure-%d", at), OccurredAt: timestamppb.New(eventtest.T0),
			Payload: &agenttrailv1.Event_Erasure{Erasure: er}}, false)
	}
	retention := func(at, from, to uint64, ranges ...[2]uint64) erasureEntry {
		r := &agenttrailv1.Retention{Policy: "90d", Cutoff: timestamppb.New(eventtest.T0), FromIndex: from, ToIndex: to}
		for _, rg := range ranges {
			r.Ranges = append(r.Ranges, &agenttrailv1.IndexRange{First: rg[0], Last: rg[1]})
		}
		return entryOf(t, at, &agenttrailv1.Event{EventId: fmt.Sprintf("retention-%d", at), OccurredAt: timestamppb.New(eventtest.T0),
			Payload: &agenttrailv1.Event_Retention{Retention: r}}, false)
	}
	add := func(name string, bad uint64, entries ...erasureEntry) {
		c := erasureVector{Name: name, Entries: entries}
		if bad != noBad {
			c.Error, c.FirstBadAt = "unproven_erasure", bad
		}
		f.Cases = append(f.Cases, c)
	}
	add("no_erasures", noBad, ev(0), ev(1), ev(2))
	add("named_by_log_indexes", noBad, ev(2), erased(3), ev(4), erased(5), erasure(9, []uint64{3, 5}))
	add("named_by_a_range", noBad, erased(4), erased(7), erasure(10, nil, [2]uint64{3, 8}))
	add("named_by_retention_ranges", noBad, erased(1), erased(11), retention(12, 0, 11, [2]uint64{0, 2}, [2]uint64{10, 11}))
	add("named_out_of_order", noBad, erasure(9, []uint64{3}), erased(3))
	add("bare_marker", 14, ev(13), erased(14), ev(15))
	add("erasure_before_the_event", 3, erasure(2, []uint64{3}), erased(3))
	add("erasure_names_itself", 6, erased(6), erasure(6, []uint64{6}))
	add("retention_bounds_are_not_ranges", 5, erased(5), retention(12, 0, 11, [2]uint64{0, 2}, [2]uint64{10, 11}))
	add("inverted_range_names_nothing", 4, erased(4), erasure(9, nil, [2]uint64{5, 3}))
	add("second_erased_after_its_erasure", 8, erased(2), erasure(5, []uint64{2, 8}), erased(8))
	add("erased_erasure_event", 9, erased(3), erasure(9, []uint64{3}), erased(9))
	return f
}

const noBad = ^uint64(0)

// entryOf is an entry of the erasure vectors: the METADATA half of an
// event, deterministically encoded.
func entryOf(t *testing.T, index uint64, ev *agenttrailv1.Event, erased bool) erasureEntry {
	t.Helper()
	header, _ := event.Split(ev)
	b, err := deterministic.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	return erasureEntry{Index: index, Event: b, Erased: erased}
}
