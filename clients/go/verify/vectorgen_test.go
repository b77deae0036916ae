package verify_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// The test log: 100 entries, signed by a key derived from a fixed seed. Every
// input of the generator is fixed, and Ed25519 signatures are deterministic,
// so the vectors are the same on every run.
const (
	testOrigin  = "agenttrail.example/test-log"
	otherOrigin = "agenttrail.example/other-log"
	witnessName = "witness.example/w1"
	logSize     = 100
)

// deterministic is how the server encodes headers and content.
var deterministic = proto.MarshalOptions{Deterministic: true}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// seeded returns 32 bytes derived from a label, for keys and salts.
func seeded(label string) []byte {
	s := sha256.Sum256([]byte("agenttrail test vectors: " + label))
	return s[:]
}

// testKey is an Ed25519 note signing key.
type testKey struct {
	name string
	priv ed25519.PrivateKey
	hash uint32
	vkey string
}

func newTestKey(t *testing.T, name, label string) testKey {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(seeded(label))
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	k, err := verify.ParseVerifierKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{name: name, priv: priv, hash: k.KeyHash, vkey: vkey}
}

// signer returns the key as a note.Signer, through note.NewSigner's own key
// format, so the vectors are signed by golang.org/x/mod/sumdb/note itself.
func (k testKey) signer(t *testing.T) note.Signer {
	t.Helper()
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", k.name, k.hash,
		base64.StdEncoding.EncodeToString(append([]byte{0x01}, k.priv.Seed()...)))
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// line returns a signature line with any key hash and signature bytes.
func (k testKey) line(hash uint32, sig []byte) string {
	return "— " + k.name + " " + base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, hash), sig...)) + "\n"
}

// sigLine returns the key's correct signature line for a note text.
func (k testKey) sigLine(text string) string {
	return k.line(k.hash, ed25519.Sign(k.priv, []byte(text)))
}

// sign returns a note signed by the keys in order, through note.Sign.
func sign(t *testing.T, text string, keys ...testKey) []byte {
	t.Helper()
	var signers []note.Signer
	for _, k := range keys {
		signers = append(signers, k.signer(t))
	}
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func body(origin string, size uint64, root []byte) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root))
}

// logEntry returns the full-view entry at index i of the test log: sample
// i mod 13 of store/event/eventtest (with a new event id after the first
// 13), received 120ms + i ms after it occurred, salted with a salt derived
// from i.
func logEntry(t *testing.T, i int) *agenttrailv1.Entry {
	t.Helper()
	samples := eventtest.Samples()
	ev := samples[i%len(samples)].Event
	if i >= len(samples) {
		ev.EventId = fmt.Sprintf("01963a4e-7c1b-7001-8000-%012d", i)
	}
	return entryFor(t, i, ev)
}

// entryFor returns the full-view entry of an event at index i, committed as
// the server commits it.
func entryFor(t *testing.T, i int, ev *agenttrailv1.Event) *agenttrailv1.Entry {
	t.Helper()
	principal := "support-agent"
	if ev.GetAgentId() == "agenttrail" {
		principal = "agenttrail"
	}
	received := timestamppb.New(ev.GetOccurredAt().AsTime().Add(120*time.Millisecond + time.Duration(i)*time.Millisecond))
	header, content := event.Split(ev)
	hb, err := deterministic.Marshal(&agenttrailv1.EventHeader{Event: header, ReceivedAt: received, Principal: principal})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := deterministic.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	salt := seeded(fmt.Sprintf("salt %d", i))
	digest := verify.ContentDigest(salt, cb)
	leaf := verify.LeafHash(hb, digest[:])
	return &agenttrailv1.Entry{
		Event: ev,
		Stamp: &agenttrailv1.Stamp{LogIndex: uint64(i), ReceivedAt: received, Principal: principal},
		Commitment: &agenttrailv1.Commitment{
			Header: hb, ContentDigest: digest[:], LeafHash: leaf[:], Content: cb, Salt: salt,
		},
		View: &agenttrailv1.View{Kind: agenttrailv1.ViewKind_VIEW_KIND_FULL, Content: agenttrailv1.ContentState_CONTENT_STATE_PRESENT},
	}
}

// memLog is the test log's tree, built with tlog.
type memLog struct {
	leaves []tlog.Hash
	stored []tlog.Hash
}

func (l *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = l.stored[x]
	}
	return out, nil
}

func (l *memLog) add(t *testing.T, leaf tlog.Hash) {
	t.Helper()
	hs, err := tlog.StoredHashesForRecordHash(int64(len(l.leaves)), leaf, l)
	if err != nil {
		t.Fatal(err)
	}
	l.leaves = append(l.leaves, leaf)
	l.stored = append(l.stored, hs...)
}

func (l *memLog) root(t *testing.T, size uint64) []byte {
	t.Helper()
	h, err := tlog.TreeHash(int64(size), l)
	if err != nil {
		t.Fatal(err)
	}
	return h[:]
}

func (l *memLog) inclusion(t *testing.T, index, size uint64) []b64 {
	t.Helper()
	p, err := tlog.ProveRecord(int64(size), int64(index), l)
	if err != nil {
		t.Fatal(err)
	}
	return hashList(p)
}

func (l *memLog) consistency(t *testing.T, oldSize, newSize uint64) []b64 {
	t.Helper()
	if oldSize == 0 {
		return []b64{}
	}
	p, err := tlog.ProveTree(int64(newSize), int64(oldSize), l)
	if err != nil {
		t.Fatal(err)
	}
	return hashList(p)
}

func hashList(p []tlog.Hash) []b64 {
	out := []b64{}
	for _, h := range p {
		out = append(out, b64(h[:]))
	}
	return out
}

// flip returns a copy of b with the low bit of byte i flipped.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

// vectors is everything the generator writes.
type vectors struct {
	entries     entriesFile
	trees       treesFile
	inclusion   inclusionFile
	consistency consistencyFile
	checkpoints checkpointsFile
	keys        verifierKeysFile
	cosigned    cosignedFile
	erasures    erasuresFile
}

func generateVectors(t *testing.T) vectors {
	t.Helper()
	var log memLog
	var entries []*agenttrailv1.Entry
	for i := range logSize {
		e := logEntry(t, i)
		entries = append(entries, e)
		log.add(t, tlog.Hash(e.GetCommitment().GetLeafHash()))
	}
	return vectors{
		entries:     entryVectors(t, entries),
		trees:       treeVectors(t, &log),
		inclusion:   inclusionVectors(t, &log),
		consistency: consistencyVectors(t, &log),
		checkpoints: checkpointVectors(t, &log),
		keys:        keyVectors(t),
		cosigned:    cosignedVectors(t, &log),
		erasures:    erasureVectors(t),
	}
}

func marshalEntry(t *testing.T, e *agenttrailv1.Entry) b64 {
	t.Helper()
	b, err := deterministic.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func goodEntryOf(t *testing.T, name string, e *agenttrailv1.Entry) goodEntry {
	c := e.GetCommitment()
	return goodEntry{
		Name: name, Entry: marshalEntry(t, e), Header: c.GetHeader(), Content: c.GetContent(), Salt: c.GetSalt(),
		ContentDigest: c.GetContentDigest(), LeafHash: c.GetLeafHash(),
	}
}

// withheld returns the entry as a view without its content bytes and salt:
// the event shown is the header's METADATA plus whatever content the view
// shows (none when content is nil).
func withheld(e *agenttrailv1.Entry, kind agenttrailv1.ViewKind, state agenttrailv1.ContentState, content *agenttrailv1.Event) *agenttrailv1.Entry {
	v := proto.Clone(e).(*agenttrailv1.Entry)
	header, _ := event.Split(v.Event)
	v.Event = event.Join(header, content)
	v.Commitment.Content, v.Commitment.Salt = nil, nil
	v.View = &agenttrailv1.View{Kind: kind, Content: state}
	if kind == agenttrailv1.ViewKind_VIEW_KIND_REDACTED {
		v.View.PolicyVersion = "2026-11-01"
	}
	return v
}

func entryVectors(t *testing.T, log []*agenttrailv1.Entry) entriesFile {
	f := entriesFile{
		Comment: "Log entries (agenttrail.v1.Entry, encoded) with their commitments. Good entries verify; each broken one fails with its error class. See README.md.",
	}
	samples := eventtest.Samples()
	for i, s := range samples {
		f.Good = append(f.Good, goodEntryOf(t, s.Name+"/full", log[i]))
	}
	// Redacted views: content masked as the developer view does, digest
	// kept, salt and content bytes withheld.
	start, toolCall := log[0], log[3]
	masked := proto.Clone(start.Event).(*agenttrailv1.Event)
	masked.GetSessionStart().UserMessage = "My order #4411 never arrived. Please refund it to my card; you can reach me at [EMAIL]."
	masked.GetSessionStart().ClientIp = "[IP]"
	_, maskedContent := event.Split(masked)
	f.Good = append(f.Good, goodEntryOf(t, "session_start/redacted",
		withheld(start, agenttrailv1.ViewKind_VIEW_KIND_REDACTED, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, maskedContent)))
	masked = proto.Clone(toolCall.Event).(*agenttrailv1.Event)
	masked.GetToolCall().Result = `{"order_id":"4411","status":"lost_in_transit","total_cents":4999,"card_last4":"[CARD:****4242]"}`
	_, maskedContent = event.Split(masked)
	f.Good = append(f.Good, goodEntryOf(t, "tool_call/redacted",
		withheld(toolCall, agenttrailv1.ViewKind_VIEW_KIND_REDACTED, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, maskedContent)))
	f.Good = append(f.Good, goodEntryOf(t, "llm_call/metadata",
		withheld(log[2], agenttrailv1.ViewKind_VIEW_KIND_METADATA, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, nil)))
	f.Good = append(f.Good, goodEntryOf(t, "session_start/erased",
		withheld(start, agenttrailv1.ViewKind_VIEW_KIND_FULL, agenttrailv1.ContentState_CONTENT_STATE_ERASED, nil)))
	f.Good = append(f.Good, goodEntryOf(t, "tool_call/unknown_fields", fromNewerServer(t, toolCall)))
	// An output whose payload holds only content: its header still holds the
	// (empty) payload container, so the kind of the event is committed.
	textOnly := proto.Clone(log[7].Event).(*agenttrailv1.Event)
	textOnly.Payload = &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Text: "Done."}}
	textOnlyEntry := entryFor(t, 7, textOnly)
	f.Good = append(f.Good, goodEntryOf(t, "output_text_only/full", textOnlyEntry))
	f.Good = append(f.Good, goodEntryOf(t, "output_text_only/metadata",
		withheld(textOnlyEntry, agenttrailv1.ViewKind_VIEW_KIND_METADATA, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, nil)))

	broken := func(name, wrong, class string, base *agenttrailv1.Entry, edit func(e *agenttrailv1.Entry)) {
		e := proto.Clone(base).(*agenttrailv1.Entry)
		edit(e)
		f.Broken = append(f.Broken, brokenEntry{Name: name, Wrong: wrong, Entry: marshalEntry(t, e), Error: class})
	}
	// recommit makes the leaf (and digest) honest again after an edit of
	// header or content, so that only the later checks can fail.
	recommit := func(e *agenttrailv1.Entry) {
		c := e.Commitment
		if len(c.Salt) != 0 {
			d := verify.ContentDigest(c.Salt, c.Content)
			c.ContentDigest = d[:]
		}
		l := verify.LeafHash(c.Header, c.ContentDigest)
		c.LeafHash = l[:]
	}
	redacted := withheld(start, agenttrailv1.ViewKind_VIEW_KIND_REDACTED, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, maskedContent)
	erased := withheld(start, agenttrailv1.ViewKind_VIEW_KIND_FULL, agenttrailv1.ContentState_CONTENT_STATE_ERASED, nil)

	broken("header_byte_flipped", "one bit of the committed header bytes is flipped; the leaf hash is unchanged", "leaf_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.Header = flip(e.Commitment.Header, 10) })
	broken("header_byte_flipped_erased", "one bit of an erased entry's header is flipped; the leaf hash is unchanged", "leaf_mismatch", erased,
		func(e *agenttrailv1.Entry) { e.Commitment.Header = flip(e.Commitment.Header, 20) })
	broken("content_digest_altered", "the content digest is altered; the leaf hash, salt and content are unchanged", "leaf_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.ContentDigest = flip(e.Commitment.ContentDigest, 0) })
	broken("content_digest_altered_redacted", "the content digest of a redacted view is altered", "leaf_mismatch", redacted,
		func(e *agenttrailv1.Entry) { e.Commitment.ContentDigest = flip(e.Commitment.ContentDigest, 31) })
	broken("leaf_hash_altered", "the leaf hash is altered", "leaf_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.LeafHash = flip(e.Commitment.LeafHash, 5) })
	broken("salt_altered", "one bit of the salt is flipped", "digest_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.Salt = flip(e.Commitment.Salt, 0) })
	broken("salt_of_another_entry", "the salt is that of the entry at index 4", "digest_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.Salt = log[4].Commitment.Salt })
	broken("content_byte_flipped", "one bit of the content bytes is flipped", "digest_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.Content = flip(e.Commitment.Content, 40) })
	broken("salt_short", "the salt is 31 bytes", "malformed", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.Salt = e.Commitment.Salt[:31] })
	broken("content_digest_short", "the content digest is 31 bytes", "malformed", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.ContentDigest = e.Commitment.ContentDigest[:31] })
	broken("leaf_hash_long", "the leaf hash is 33 bytes", "malformed", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.LeafHash = append(e.Commitment.LeafHash, 0) })
	broken("content_without_salt", "content bytes are shown but the salt is missing", "malformed", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.Salt = nil })
	broken("present_without_salt", "the view says the content is present, but salt and content bytes are missing", "malformed", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment.Salt, e.Commitment.Content = nil, nil })
	broken("no_commitment", "the entry has no commitment", "malformed", toolCall,
		func(e *agenttrailv1.Entry) { e.Commitment = nil })
	broken("header_undecodable", "the header's last byte is cut off, so it is not an EventHeader; leaf hash recomputed", "malformed", toolCall,
		func(e *agenttrailv1.Entry) {
			e.Commitment.Header = e.Commitment.Header[:len(e.Commitment.Header)-1]
			recommit(e)
		})
	broken("content_undecodable", "the content's last byte is cut off, so it is not an Event; digest and leaf hash recomputed", "malformed", toolCall,
		func(e *agenttrailv1.Entry) {
			e.Commitment.Content = e.Commitment.Content[:len(e.Commitment.Content)-1]
			recommit(e)
		})
	broken("header_invalid_utf8", "the header's principal string ends in the byte 0xff, which is not UTF-8; leaf hash recomputed", "malformed", toolCall,
		func(e *agenttrailv1.Entry) {
			h := e.Commitment.Header
			if !strings.HasSuffix(string(h), e.Stamp.Principal) {
				t.Fatal("the principal is not the last field of the header")
			}
			e.Commitment.Header = append(h[:len(h)-1:len(h)-1], 0xff)
			recommit(e)
		})
	broken("event_agent_id_altered", "the event shows another agent_id than the committed header", "event_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Event.AgentId = "billing-agent" })
	broken("event_step_altered", "the event shows another step than the committed header", "event_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Event.Step++ })
	broken("event_kind_altered", "the event shows an error payload, but the committed header holds an output", "event_mismatch", log[7],
		func(e *agenttrailv1.Entry) {
			e.Event.Payload = &agenttrailv1.Event_Error{Error: &agenttrailv1.AgentError{ErrorType: "Other"}}
		})
	broken("event_tool_name_altered_metadata_view", "a metadata view shows another tool_name (METADATA) than the committed header", "event_mismatch",
		withheld(toolCall, agenttrailv1.ViewKind_VIEW_KIND_METADATA, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, nil),
		func(e *agenttrailv1.Entry) { e.Event.GetToolCall().ToolName = "issue_refund" })
	broken("event_session_id_altered_erased", "an erased entry shows another session_id than the committed header", "event_mismatch", erased,
		func(e *agenttrailv1.Entry) { e.Event.SessionId = "01963a4e-7c00-7000-8000-5e5510000002" })
	broken("event_content_altered", "a full view shows a tool result other than the committed content", "event_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Event.GetToolCall().Result = `{"order_id":"4411","status":"delivered"}` })
	broken("event_label_added", "a full view shows a label (content) that the committed content lacks", "event_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Event.Labels["team"] = "billing" })
	broken("event_payload_dropped", "a metadata view of an output whose payload holds only content shows no payload at all; the header holds an empty output", "event_mismatch",
		withheld(textOnlyEntry, agenttrailv1.ViewKind_VIEW_KIND_METADATA, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, nil),
		func(e *agenttrailv1.Entry) { e.Event.Payload = nil })
	broken("stamp_principal_altered", "the stamp names another principal than the committed header", "event_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Stamp.Principal = "admin-root" })
	broken("stamp_received_at_altered", "the stamp's received_at is one second later than the committed header's", "event_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Stamp.ReceivedAt.Seconds++ })
	broken("stamp_missing", "the entry has no stamp, so no received_at and principal", "event_mismatch", toolCall,
		func(e *agenttrailv1.Entry) { e.Stamp = nil })
	return f
}

// fromNewerServer returns the entry as a newer server with a new METADATA
// field 99 in Event would send it: the field is in the event shown and in the
// committed header. A verifier ignores fields it does not know when it
// compares the event with the header; the leaf still covers them.
func fromNewerServer(t *testing.T, e *agenttrailv1.Entry) *agenttrailv1.Entry {
	t.Helper()
	v := proto.Clone(e).(*agenttrailv1.Entry)
	unknown := protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "from a newer server")
	v.Event.ProtoReflect().SetUnknown(unknown)
	var header agenttrailv1.EventHeader
	if err := proto.Unmarshal(v.Commitment.Header, &header); err != nil {
		t.Fatal(err)
	}
	header.Event.ProtoReflect().SetUnknown(unknown)
	hb, err := deterministic.Marshal(&header)
	if err != nil {
		t.Fatal(err)
	}
	leaf := verify.LeafHash(hb, v.Commitment.ContentDigest)
	v.Commitment.Header, v.Commitment.LeafHash = hb, leaf[:]
	return v
}

func treeVectors(t *testing.T, log *memLog) treesFile {
	f := treesFile{
		Comment: "Leaf hashes of the 100 entries of the test log, and the RFC 6962 root hash of the tree of the first size leaves. See README.md.",
		Leaves:  hashList(log.leaves),
	}
	for _, size := range []uint64{0, 1, 2, 3, 4, 5, 7, 8, 13, 16, 63, 64, 65, 100} {
		f.Trees = append(f.Trees, tree{Size: size, Root: log.root(t, size)})
	}
	return f
}

func inclusionVectors(t *testing.T, log *memLog) inclusionFile {
	f := inclusionFile{
		Comment: "RFC 6962 inclusion proofs in the test log. Good proofs verify; each broken one fails with its error class. See README.md.",
	}
	good := func(index, size uint64) inclusionVector {
		return inclusionVector{
			Name:  fmt.Sprintf("index_%d_size_%d", index, size),
			Index: index, Size: size, LeafHash: log.leaves[index][:], Proof: log.inclusion(t, index, size), Root: log.root(t, size),
		}
	}
	pairs := [][2]uint64{
		{0, 1}, {0, 2}, {1, 2}, {2, 3}, {0, 7}, {6, 7}, {3, 8}, {7, 8}, {0, 13}, {5, 13}, {12, 13},
		{0, 64}, {63, 64}, {0, 100}, {42, 100}, {96, 100}, {99, 100},
	}
	for _, p := range pairs {
		f.Good = append(f.Good, good(p[0], p[1]))
	}
	base := good(5, 13)
	broken := func(name, wrong, class string, edit func(v *inclusionVector)) {
		v := base
		v.Proof = append([]b64{}, base.Proof...)
		v.Name, v.Wrong, v.Error = name, wrong, class
		edit(&v)
		f.Broken = append(f.Broken, v)
	}
	broken("flipped_hash", "one bit of the second proof hash is flipped", "bad_proof",
		func(v *inclusionVector) { v.Proof[1] = flip(v.Proof[1], 7) })
	broken("missing_hash", "the last proof hash is missing", "bad_proof",
		func(v *inclusionVector) { v.Proof = v.Proof[:len(v.Proof)-1] })
	broken("missing_first_hash", "the first proof hash (the leaf's sibling) is missing", "bad_proof",
		func(v *inclusionVector) { v.Proof = v.Proof[1:] })
	broken("extra_hash", "a hash (the leaf hash at index 0) is appended to the proof", "bad_proof",
		func(v *inclusionVector) { v.Proof = append(v.Proof, log.leaves[0][:]) })
	broken("hashes_reversed", "the proof hashes are in reverse order", "bad_proof",
		func(v *inclusionVector) {
			for i, j := 0, len(v.Proof)-1; i < j; i, j = i+1, j-1 {
				v.Proof[i], v.Proof[j] = v.Proof[j], v.Proof[i]
			}
		})
	broken("wrong_index", "the index is 4, but leaf and proof are those of index 5", "bad_proof",
		func(v *inclusionVector) { v.Index = 4 })
	// (A size from 9 to 16 would give index 5 a proof of the same shape, which
	// proves the leaf is in a tree of that size with root13: the proof cannot
	// tell, only the checkpoint of that size can.)
	broken("wrong_size", "the size is 17, but the proof and root are those of size 13", "bad_proof",
		func(v *inclusionVector) { v.Size = 17 })
	broken("wrong_leaf", "the leaf hash is that of index 6", "bad_proof",
		func(v *inclusionVector) { v.LeafHash = log.leaves[6][:] })
	broken("wrong_root", "the root is that of the tree of size 14", "bad_proof",
		func(v *inclusionVector) { v.Root = log.root(t, 14) })
	broken("index_equals_size", "the index is 13 in a tree of size 13", "bad_proof",
		func(v *inclusionVector) { v.Index = 13 })
	broken("short_hash", "the first proof hash is 31 bytes", "malformed",
		func(v *inclusionVector) { v.Proof[0] = v.Proof[0][:31] })
	last := good(99, 100)
	f.Broken = append(f.Broken,
		inclusionVector{Name: "last_leaf_missing_hash", Wrong: "the last proof hash of the last leaf of a tree of 100 is missing", Error: "bad_proof",
			Index: 99, Size: 100, LeafHash: last.LeafHash, Proof: last.Proof[:len(last.Proof)-1], Root: last.Root},
		inclusionVector{Name: "size_one_with_proof", Wrong: "a tree of one leaf needs an empty proof, but the proof has one hash", Error: "bad_proof",
			Index: 0, Size: 1, LeafHash: log.leaves[0][:], Proof: []b64{log.leaves[1][:]}, Root: log.leaves[0][:]},
		inclusionVector{Name: "size_zero", Wrong: "no leaf is in the empty tree", Error: "bad_proof",
			Index: 0, Size: 0, LeafHash: log.leaves[0][:], Proof: []b64{}, Root: log.root(t, 0)},
	)
	return f
}

func consistencyVectors(t *testing.T, log *memLog) consistencyFile {
	f := consistencyFile{
		Comment: "RFC 6962 consistency proofs between sizes of the test log. Good proofs verify; each broken one fails with its error class. See README.md.",
	}
	good := func(oldSize, newSize uint64) consistencyVector {
		return consistencyVector{
			Name:    fmt.Sprintf("from_%d_to_%d", oldSize, newSize),
			OldSize: oldSize, NewSize: newSize, OldRoot: log.root(t, oldSize), NewRoot: log.root(t, newSize),
			Proof: log.consistency(t, oldSize, newSize),
		}
	}
	pairs := [][2]uint64{
		{1, 1}, {1, 2}, {1, 8}, {1, 100}, {2, 3}, {3, 7}, {4, 8}, {7, 8}, {7, 13}, {8, 13},
		{6, 100}, {13, 64}, {63, 64}, {64, 100}, {99, 100}, {100, 100}, {0, 0}, {0, 13},
	}
	for _, p := range pairs {
		f.Good = append(f.Good, good(p[0], p[1]))
	}
	base := good(7, 13)
	broken := func(name, wrong, class string, from consistencyVector, edit func(v *consistencyVector)) {
		v := from
		v.Proof = append([]b64{}, from.Proof...)
		v.Name, v.Wrong, v.Error = name, wrong, class
		edit(&v)
		f.Broken = append(f.Broken, v)
	}
	broken("flipped_hash", "one bit of the first proof hash is flipped", "bad_proof", base,
		func(v *consistencyVector) { v.Proof[0] = flip(v.Proof[0], 3) })
	broken("flipped_last_hash", "one bit of the last proof hash is flipped", "bad_proof", base,
		func(v *consistencyVector) { v.Proof[len(v.Proof)-1] = flip(v.Proof[len(v.Proof)-1], 30) })
	broken("missing_hash", "the last proof hash is missing", "bad_proof", base,
		func(v *consistencyVector) { v.Proof = v.Proof[:len(v.Proof)-1] })
	broken("extra_hash", "a hash (the leaf hash at index 0) is appended to the proof", "bad_proof", base,
		func(v *consistencyVector) { v.Proof = append(v.Proof, log.leaves[0][:]) })
	broken("empty_proof", "the proof is empty", "bad_proof", base,
		func(v *consistencyVector) { v.Proof = []b64{} })
	broken("wrong_old_root", "the old root is that of size 6", "bad_proof", base,
		func(v *consistencyVector) { v.OldRoot = log.root(t, 6) })
	broken("wrong_new_root", "the new root is that of size 14", "bad_proof", base,
		func(v *consistencyVector) { v.NewRoot = log.root(t, 14) })
	broken("wrong_old_size", "the old size is 6, but roots and proof are those of 7", "bad_proof", base,
		func(v *consistencyVector) { v.OldSize = 6 })
	broken("wrong_new_size", "the new size is 17, but roots and proof are those of 13", "bad_proof", base,
		func(v *consistencyVector) { v.NewSize = 17 })
	broken("sizes_swapped", "old and new size and root are swapped", "bad_proof", base,
		func(v *consistencyVector) {
			v.OldSize, v.NewSize, v.OldRoot, v.NewRoot = v.NewSize, v.OldSize, v.NewRoot, v.OldRoot
		})
	broken("short_hash", "the second proof hash is 31 bytes", "malformed", base,
		func(v *consistencyVector) { v.Proof[1] = v.Proof[1][:31] })
	broken("old_root_prepended", "the old size 4 is a power of two, whose proof omits the old root, but the old root is prepended", "bad_proof", good(4, 8),
		func(v *consistencyVector) { v.Proof = append([]b64{v.OldRoot}, v.Proof...) })
	broken("equal_sizes_with_proof", "equal sizes need an empty proof, but it has one hash", "bad_proof", good(13, 13),
		func(v *consistencyVector) { v.Proof = []b64{log.leaves[0][:]} })
	broken("equal_sizes_different_roots", "equal sizes, but the new root is that of size 14", "bad_proof", good(13, 13),
		func(v *consistencyVector) { v.NewRoot = log.root(t, 14) })
	broken("from_empty_with_proof", "a proof from the empty tree has no hashes, but it has one", "bad_proof", good(0, 13),
		func(v *consistencyVector) { v.Proof = []b64{log.leaves[0][:]} })
	broken("from_empty_wrong_root", "the old root of the empty tree is all zeros, not SHA-256 of nothing", "bad_proof", good(0, 13),
		func(v *consistencyVector) { v.OldRoot = make([]byte, 32) })
	broken("last_leaf_missing_hash", "the last proof hash from 99 to 100 is missing", "bad_proof", good(99, 100),
		func(v *consistencyVector) { v.Proof = v.Proof[:len(v.Proof)-1] })
	return f
}

func checkpointVectors(t *testing.T, log *memLog) checkpointsFile {
	f := checkpointsFile{
		Comment: "C2SP tlog-checkpoint signed notes (note: the exact bytes, base64). Good notes open with their verifier key and origin to the size and root given; each broken one fails with its error class. See README.md.",
	}
	logKey := newTestKey(t, testOrigin, "log key")
	witness := newTestKey(t, witnessName, "witness key")
	rotated := newTestKey(t, testOrigin, "rotated log key") // same name, another key
	other := newTestKey(t, otherOrigin, "other log key")
	root100, root13 := log.root(t, 100), log.root(t, 13)
	text100 := body(testOrigin, 100, root100)
	signed100 := sign(t, text100, logKey)

	goodNote := func(name string, msg []byte, vkey string, size uint64, root []byte) {
		f.Good = append(f.Good, goodCheckpoint{Name: name, Note: msg, VerifierKey: vkey, Origin: testOrigin, Size: size, Root: root})
	}
	goodNote("size_100", signed100, logKey.vkey, 100, root100)
	goodNote("size_13", sign(t, body(testOrigin, 13, root13), logKey), logKey.vkey, 13, root13)
	goodNote("size_1", sign(t, body(testOrigin, 1, log.root(t, 1)), logKey), logKey.vkey, 1, log.root(t, 1))
	goodNote("size_0", sign(t, body(testOrigin, 0, log.root(t, 0)), logKey), logKey.vkey, 0, log.root(t, 0))
	goodNote("size_max_uint64", sign(t, body(testOrigin, 1<<64-1, root100), logKey), logKey.vkey, 1<<64-1, root100)
	goodNote("extension_lines", sign(t, text100+"timestamp 1793611800\nwitnessed-by "+witnessName+"\n", logKey), logKey.vkey, 100, root100)
	goodNote("cosigned_log_first", sign(t, text100, logKey, witness), logKey.vkey, 100, root100)
	goodNote("cosigned_witness_first", sign(t, text100, witness, logKey), logKey.vkey, 100, root100)
	goodNote("unknown_key_same_name", sign(t, text100, rotated, logKey), logKey.vkey, 100, root100)
	goodNote("repeated_signature_ignored", []byte(text100+"\n"+logKey.sigLine(text100)+logKey.line(logKey.hash, make([]byte, 64))), logKey.vkey, 100, root100)
	goodNote("verifier_key_upper_case_hash", signed100, upperHash(logKey.vkey), 100, root100)
	// A byte order mark is text like any other: no verifier may strip it.
	bomOrigin := "\ufeff" + testOrigin
	f.Good = append(f.Good, goodCheckpoint{Name: "origin_starts_with_byte_order_mark", Note: sign(t, body(bomOrigin, 100, root100), logKey),
		VerifierKey: logKey.vkey, Origin: bomOrigin, Size: 100, Root: root100})
	var hundred strings.Builder
	hundred.WriteString(text100 + "\n" + logKey.sigLine(text100))
	for i := range 99 {
		hundred.WriteString(witness.line(uint32(i), ed25519.Sign(witness.priv, []byte(text100))))
	}
	goodNote("hundred_signatures", []byte(hundred.String()), logKey.vkey, 100, root100)

	broken := func(name, wrong, class string, msg []byte) {
		f.Broken = append(f.Broken, brokenCheckpoint{Name: name, Wrong: wrong, Note: msg, VerifierKey: logKey.vkey, Origin: testOrigin, Error: class})
	}
	sig := ed25519.Sign(logKey.priv, []byte(text100))
	broken("signature_flipped", "one bit of the Ed25519 signature is flipped", "bad_signature",
		[]byte(text100+"\n"+logKey.line(logKey.hash, flip(sig, 9))))
	broken("signature_truncated", "the Ed25519 signature is 63 bytes", "bad_signature",
		[]byte(text100+"\n"+logKey.line(logKey.hash, sig[:63])))
	broken("signature_over_other_text", "the signature is the log key's signature of the checkpoint of size 13", "bad_signature",
		[]byte(text100+"\n"+logKey.sigLine(body(testOrigin, 13, root13))))
	broken("size_altered", "the size line says 101; the signature is over 100", "bad_signature",
		[]byte(strings.Replace(string(signed100), "\n100\n", "\n101\n", 1)))
	broken("root_altered", "the root line is that of size 13; the signature is over the root of 100", "bad_signature",
		[]byte(strings.Replace(string(signed100), base64.StdEncoding.EncodeToString(root100), base64.StdEncoding.EncodeToString(root13), 1)))
	broken("origin_altered", "the origin line is altered after signing", "bad_signature",
		[]byte(strings.Replace(string(signed100), testOrigin+"\n", testOrigin+"s\n", 1)))
	broken("extension_line_added", "an extension line is added after signing", "bad_signature",
		[]byte(text100+"extra\n"+string(signed100[len(text100):])))
	broken("repeated_signature_bad_first", "the first signature line by the log key is invalid, a valid repeat follows", "bad_signature",
		[]byte(text100+"\n"+logKey.line(logKey.hash, make([]byte, 64))+logKey.sigLine(text100)))
	broken("signed_by_witness_only", "the note is signed only by a witness key", "no_signature",
		sign(t, text100, witness))
	broken("signed_by_rotated_key", "the note is signed by another key of the same name", "no_signature",
		sign(t, text100, rotated))
	broken("key_hash_altered", "the signature line's key hash is altered, so it names an unknown key", "no_signature",
		[]byte(text100+"\n"+logKey.line(logKey.hash^1, sig)))
	broken("key_name_altered", "the signature line's key name is altered, so it names an unknown key", "no_signature",
		[]byte(text100+"\n"+strings.Replace(logKey.sigLine(text100), testOrigin, otherOrigin, 1)))
	broken("blank_line_between_signatures", "a blank line between the log's and the witness's signature lines makes the log's line part of the text", "no_signature",
		[]byte(text100+"\n"+logKey.sigLine(text100)+"\n"+witness.sigLine(text100+"\n"+logKey.sigLine(text100))))
	f.Broken = append(f.Broken,
		brokenCheckpoint{Name: "wrong_verifier_key", Wrong: "the verifier key is another key of the same name", Error: "no_signature",
			Note: signed100, VerifierKey: rotated.vkey, Origin: testOrigin},
		brokenCheckpoint{Name: "other_log_key", Wrong: "the verifier key is another log's", Error: "no_signature",
			Note: signed100, VerifierKey: other.vkey, Origin: testOrigin},
		brokenCheckpoint{Name: "malformed_verifier_key", Wrong: "the verifier key's hash does not match its name and key", Error: "malformed",
			Note: signed100, VerifierKey: strings.Replace(logKey.vkey, fmt.Sprintf("+%08x+", logKey.hash), fmt.Sprintf("+%08x+", logKey.hash^1), 1), Origin: testOrigin},
		brokenCheckpoint{Name: "other_origin", Wrong: "a correctly signed checkpoint of another origin", Error: "origin_mismatch",
			Note: sign(t, body(otherOrigin, 100, root100), logKey), VerifierKey: logKey.vkey, Origin: testOrigin},
		brokenCheckpoint{Name: "expected_origin_differs", Wrong: "the expected origin differs from the checkpoint's in case", Error: "origin_mismatch",
			Note: signed100, VerifierKey: logKey.vkey, Origin: "Agenttrail.example/test-log"},
	)

	// Notes that break the signed-note format.
	line := logKey.sigLine(text100)
	broken("missing_final_newline", "the last signature line does not end with a newline", "malformed",
		signed100[:len(signed100)-1])
	broken("no_blank_line", "no blank line separates the text from the signature line", "malformed",
		[]byte(text100+line))
	broken("signature_lines_missing", "the note ends after the blank line, with no signature line", "malformed",
		[]byte(text100+"\n"))
	broken("blank_line_after_signatures", "an extra blank line follows the signature line", "malformed",
		append(append([]byte{}, signed100...), '\n'))
	broken("hyphen_instead_of_em_dash", "the signature line starts with \"- \" instead of \"— \"", "malformed",
		[]byte(text100+"\n"+strings.Replace(line, "—", "-", 1)))
	broken("no_space_after_em_dash", "the signature line starts with \"—\" and no space", "malformed",
		[]byte(text100+"\n"+strings.Replace(line, "— ", "—", 1)))
	broken("signature_not_base64", "the signature is not base64", "malformed",
		[]byte(text100+"\n— "+testOrigin+" not*base64!\n"))
	broken("signature_unpadded", "the signature's base64 padding is missing", "malformed",
		[]byte(text100+"\n"+strings.Replace(line, "=\n", "\n", 1)))
	broken("signature_too_short", "the signature is 4 bytes: a key hash and no signature", "malformed",
		[]byte(text100+"\n"+logKey.line(logKey.hash, nil)))
	broken("signature_missing", "the signature line has a key name and no signature", "malformed",
		[]byte(text100+"\n— "+testOrigin+"\n"))
	broken("key_name_with_plus", "the signature line's key name contains \"+\"", "malformed",
		[]byte(text100+"\n"+strings.Replace(line, testOrigin, testOrigin+"+x", 1)))
	broken("carriage_returns", "lines end in CR LF", "malformed",
		[]byte(strings.ReplaceAll(string(signed100), "\n", "\r\n")))
	broken("control_character", "the origin line contains a tab (signed)", "malformed",
		sign(t, strings.Replace(text100, testOrigin, testOrigin+"\tlog", 1), logKey))
	broken("invalid_utf8", "an extension line contains the byte 0xff (signed)", "malformed",
		[]byte(text100+"\xff\n\n"+logKey.sigLine(text100+"\xff\n")))
	broken("overlong_utf8", "an extension line holds \"/\" encoded in two bytes (C0 AF), which UTF-8 forbids (signed)", "malformed",
		sign(t, text100+"\xc0\xaf\n", logKey))
	broken("surrogate_utf8", "an extension line holds the surrogate U+D800 encoded in UTF-8 (ED A0 80), which UTF-8 forbids (signed)", "malformed",
		sign(t, text100+"\xed\xa0\x80\n", logKey))
	broken("truncated_utf8", "the note ends inside a three-byte UTF-8 sequence", "malformed",
		append(append([]byte{}, signed100...), 0xe2, 0x80))
	var tooMany strings.Builder
	tooMany.WriteString(text100 + "\n" + line)
	for i := range 100 {
		tooMany.WriteString(witness.line(uint32(i), sig))
	}
	broken("too_many_signatures", "101 signature lines; at most 100 are allowed", "malformed", []byte(tooMany.String()))

	// Correctly signed notes whose text is not a checkpoint.
	root64 := base64.StdEncoding.EncodeToString(root100)
	signedText := func(name, wrong, text string) {
		broken(name, wrong, "malformed", sign(t, text, logKey))
	}
	signedText("body_two_lines", "the text has origin and size but no root line", testOrigin+"\n100\n")
	signedText("body_empty_origin", "the origin line is empty", "\n100\n"+root64+"\n")
	signedText("body_blank_line", "an empty line between origin and size", testOrigin+"\n\n100\n"+root64+"\n")
	signedText("body_empty_extension_line", "an empty extension line", text100+"\nextension\n")
	signedText("size_not_decimal", "the size is 1e2", testOrigin+"\n1e2\n"+root64+"\n")
	signedText("size_hex", "the size is 0x64", testOrigin+"\n0x64\n"+root64+"\n")
	signedText("size_leading_zero", "the size is 0100", testOrigin+"\n0100\n"+root64+"\n")
	signedText("size_negative", "the size is -1", testOrigin+"\n-1\n"+root64+"\n")
	signedText("size_plus_sign", "the size is +100", testOrigin+"\n+100\n"+root64+"\n")
	signedText("size_space", "the size line is \" 100\"", testOrigin+"\n 100\n"+root64+"\n")
	signedText("size_overflow", "the size is 2^64, one more than a uint64 holds", testOrigin+"\n18446744073709551616\n"+root64+"\n")
	signedText("root_not_base64", "the root line is not base64", testOrigin+"\n100\nnot*base64!\n")
	signedText("root_unpadded", "the root's base64 padding is missing", testOrigin+"\n100\n"+strings.TrimRight(root64, "=")+"\n")
	signedText("root_url_safe_base64", "the root is in URL-safe base64", testOrigin+"\n100\n"+urlSafe(root100)+"\n")
	signedText("root_31_bytes", "the root is 31 bytes", testOrigin+"\n100\n"+base64.StdEncoding.EncodeToString(root100[:31])+"\n")
	signedText("root_33_bytes", "the root is 33 bytes", testOrigin+"\n100\n"+base64.StdEncoding.EncodeToString(append(append([]byte{}, root100...), 0))+"\n")
	return f
}

// urlSafe returns the URL-safe base64 of a root that needs '-' or '_' in it,
// so that it is not also standard base64.
func urlSafe(root []byte) string {
	s := base64.URLEncoding.EncodeToString(root)
	if !strings.ContainsAny(s, "-_") {
		panic("test root has no URL-safe characters; choose another")
	}
	return s
}

// upperHash returns a verifier key with its key hash in upper case.
func upperHash(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	return parts[0] + "+" + strings.ToUpper(parts[1]) + "+" + parts[2]
}

func keyVectors(t *testing.T) verifierKeysFile {
	f := verifierKeysFile{
		Comment: "Note verifier keys \"<name>+<key hash>+<base64 of 0x01 and the Ed25519 public key>\". Good keys parse to the name, key hash and public key given; each broken one fails with its error class. See README.md.",
	}
	logKey := newTestKey(t, testOrigin, "log key")
	pub := logKey.priv.Public().(ed25519.PublicKey)
	f.Good = append(f.Good,
		goodKey{Name: "log_key", VerifierKey: logKey.vkey, KeyName: testOrigin, KeyHash: logKey.hash, PublicKey: b64(pub)},
		goodKey{Name: "upper_case_hash", VerifierKey: upperHash(logKey.vkey), KeyName: testOrigin, KeyHash: logKey.hash, PublicKey: b64(pub)},
	)
	// The Go documentation's example key for golang.org/x/mod/sumdb/note.
	peter := "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	peterKey, err := base64.StdEncoding.DecodeString("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
	if err != nil {
		t.Fatal(err)
	}
	f.Good = append(f.Good, goodKey{Name: "note_package_example", VerifierKey: peter, KeyName: "PeterNeumann", KeyHash: 0xc74f20a3, PublicKey: b64(peterKey[1:])})
	unicodeName := "журнал.example/log"
	f.Good = append(f.Good, goodKey{Name: "unicode_name", VerifierKey: makeKey(unicodeName, 0x01, pub), KeyName: unicodeName, KeyHash: keyHash(unicodeName, 0x01, pub), PublicKey: b64(pub)})

	// U+FEFF is not white space to Go's unicode.IsSpace (nor to the
	// signed-note rules), though JavaScript's \s matches it.
	bomName := "agenttrail.example/\ufefflog"
	f.Good = append(f.Good, goodKey{Name: "name_with_zero_width_no_break_space", VerifierKey: makeKey(bomName, 0x01, pub), KeyName: bomName, KeyHash: keyHash(bomName, 0x01, pub), PublicKey: b64(pub)})

	broken := func(name, wrong, key string) {
		f.Broken = append(f.Broken, brokenKey{Name: name, Wrong: wrong, VerifierKey: key, Error: "malformed"})
	}
	parts := strings.SplitN(logKey.vkey, "+", 3)
	broken("empty", "the key is empty", "")
	broken("name_only", "no \"+\" at all", testOrigin)
	broken("no_key", "name and key hash but no key", parts[0]+"+"+parts[1])
	broken("empty_name", "the name is empty", "+"+parts[1]+"+"+parts[2])
	broken("name_with_space", "the name contains a space (hash computed for that name)", makeKey("agenttrail example", 0x01, pub))
	broken("name_with_no_break_space", "the name contains U+00A0, which is Unicode white space (hash computed for that name)", makeKey("agenttrail\u00a0example", 0x01, pub))
	broken("name_with_ideographic_space", "the name contains U+3000, which is Unicode white space (hash computed for that name)", makeKey("agenttrail\u3000example", 0x01, pub))
	broken("name_with_control_character", "the name contains U+001F, an ASCII control character that no note may hold (hash computed for that name)", makeKey("agenttrail\x1fexample", 0x01, pub))
	broken("name_with_next_line", "the name contains U+0085, which is Unicode white space (hash computed for that name)", makeKey("agenttrail\u0085example", 0x01, pub))
	broken("hash_seven_digits", "the key hash has 7 hex digits", parts[0]+"+"+parts[1][1:]+"+"+parts[2])
	// A key whose hash starts with 0, written without it: a lenient hex
	// parser would read the right value.
	zeroKey := leadingZeroHashKey(pub)
	zparts := strings.SplitN(zeroKey, "+", 3)
	broken("hash_leading_zero_dropped", "the key hash "+zparts[1]+" is written without its leading zero", zparts[0]+"+"+zparts[1][1:]+"+"+zparts[2])
	broken("hash_not_hex", "the key hash has a non-hex digit", parts[0]+"+"+parts[1][:7]+"g+"+parts[2])
	broken("hash_with_sign", "the key hash is written with a sign", parts[0]+"+-"+parts[1][1:]+"+"+parts[2])
	broken("hash_mismatch", "the key hash is not that of the name and key", parts[0]+fmt.Sprintf("+%08x+", logKey.hash^1)+parts[2])
	broken("key_not_base64", "the key is not base64", parts[0]+"+"+parts[1]+"+not*base64!")
	broken("key_base64_truncated", "the key's base64 lacks its last character", parts[0]+"+"+parts[1]+"+"+parts[2][:len(parts[2])-1])
	broken("key_with_newline", "the key's base64 has a newline in it", parts[0]+"+"+parts[1]+"+"+parts[2][:20]+"\n"+parts[2][20:])
	broken("key_wrong_algorithm", "the key's type byte is 0x02, not 0x01 (Ed25519) (hash computed for that key)", makeKey(testOrigin, 0x02, pub))
	broken("key_short", "the public key is 31 bytes (hash computed for that key)", makeKey(testOrigin, 0x01, pub[:31]))
	broken("key_long", "the public key is 33 bytes (hash computed for that key)", makeKey(testOrigin, 0x01, append(append([]byte{}, pub...), 0)))
	broken("key_type_only", "the key is the type byte alone (hash computed for that key)", makeKey(testOrigin, 0x01, nil))
	return f
}

// leadingZeroHashKey returns a verifier key for pub whose key hash is below
// 0x10000000.
func leadingZeroHashKey(pub []byte) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("agenttrail.example/log-%d", i)
		if keyHash(name, 0x01, pub) < 0x10000000 {
			return makeKey(name, 0x01, pub)
		}
	}
}

// keyHash is the note key hash of a name, a type byte and a public key.
func keyHash(name string, alg byte, pub []byte) uint32 {
	h := sha256.Sum256(append([]byte(name+"\n"), append([]byte{alg}, pub...)...))
	return binary.BigEndian.Uint32(h[:])
}

// makeKey writes a verifier key with a correct key hash for any name, type
// byte and public key, valid or not.
func makeKey(name string, alg byte, pub []byte) string {
	return fmt.Sprintf("%s+%08x+%s", name, keyHash(name, alg, pub), base64.StdEncoding.EncodeToString(append([]byte{alg}, pub...)))
}
