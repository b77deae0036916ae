package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

// A View decides how much of each entry a caller is shown. Every entry the
// server returns (Query, tail, GetEvent) passes through the caller's view.
type View interface {
	// Kind names the view in responses and access records.
	Kind() agenttrailv1.ViewKind
	// PolicyVersion is the version of the redaction policy applied, or ""
	// when the view applies none.
	PolicyVersion() string
	// Read says whether the view needs the content from the store.
	Read() store.ReadMode
	// Shows reports whether the caller may see an entry at all; Query
	// returns the entries it may not see as withheld leaves (log index and
	// leaf hash only), and GetEvent does not find them.
	Shows(e *store.Entry) bool
	// Render turns a stored entry into what the caller receives.
	Render(e *store.Entry) (*agenttrailv1.Entry, error)
}

// ViewSelector picks the view of the caller of a request, or returns an
// error (a status) when the caller may not read at all.
type ViewSelector func(ctx context.Context) (View, error)

// FullView shows everything: the whole event, its content bytes and salt,
// so that a reader can check the content digest. For compliance.
type FullView struct {
	// EventFromCommitment leaves Entry.event out, for a caller that
	// rebuilds it from the commitment (QueryRequest.event_from_commitment):
	// the event is the header's event with the content merged into it, as
	// Render builds it, so the content goes out once instead of twice.
	EventFromCommitment bool
}

// Kind implements View.
func (FullView) Kind() agenttrailv1.ViewKind { return agenttrailv1.ViewKind_VIEW_KIND_FULL }

// PolicyVersion implements View.
func (FullView) PolicyVersion() string { return "" }

// Read implements View.
func (FullView) Read() store.ReadMode { return store.HeaderAndContent }

// Shows implements View: everything.
func (FullView) Shows(*store.Entry) bool { return true }

// Render implements View.
func (v FullView) Render(e *store.Entry) (*agenttrailv1.Entry, error) {
	var ev *agenttrailv1.Event
	if !v.EventFromCommitment {
		var err error
		if ev, err = e.Event(); err != nil {
			return nil, err
		}
	}
	out := renderCommon(e, ev, agenttrailv1.ViewKind_VIEW_KIND_FULL, "")
	if e.ContentState == store.ContentPresent {
		out.Commitment.Content = e.Content
		out.Commitment.Salt = e.Salt
		out.View.Content = agenttrailv1.ContentState_CONTENT_STATE_PRESENT
	}
	return out, nil
}

// appendEntry implements entryEncoder: the entry Render returns, encoded
// from the stored bytes. The event is the header's event joined on the
// wire with the content (event.AppendJoined), never decoded: the same
// bytes as encoding what Render returns (a test holds it to that). With
// EventFromCommitment there is no event to encode.
func (v FullView) appendEntry(dst []byte, e *store.Entry) ([]byte, bool) {
	if v.EventFromCommitment {
		return appendFullEntryRest(dst, e), true
	}
	header, ok := headerEvent(e.HeaderBytes)
	if !ok {
		return dst, false
	}
	var content []byte
	if e.ContentState == store.ContentPresent {
		content = e.Content
	}
	dst, err := event.AppendJoinedField(dst, entryEvent, header, content)
	if err != nil {
		return dst, false
	}
	return appendFullEntryRest(dst, e), true
}

// appendFullEntryRest appends the fields of the full view's Entry after
// its event: stamp, commitment and view, as renderCommon and Render fill
// them in and protobuf encodes them (fields in number order; empty
// strings, bytes, zero numbers and enums left out; messages and optional
// fields written when set).
func appendFullEntryRest(dst []byte, e *store.Entry) []byte {
	appendBytes := func(dst []byte, num protowire.Number, b []byte) []byte {
		if len(b) == 0 {
			return dst
		}
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		return protowire.AppendBytes(dst, b)
	}
	appendUint := func(dst []byte, num protowire.Number, v uint64) []byte {
		if v == 0 {
			return dst
		}
		dst = protowire.AppendTag(dst, num, protowire.VarintType)
		return protowire.AppendVarint(dst, v)
	}
	uintSize := func(v uint64) int {
		if v == 0 {
			return 0
		}
		return 1 + protowire.SizeVarint(v)
	}
	bytesSize := func(n int) int {
		if n == 0 {
			return 0
		}
		return 1 + protowire.SizeBytes(n)
	}

	// Stamp (2): log_index 1, received_at 2 {seconds 1, nanos 2}, principal 3.
	secs, nanos := uint64(e.ReceivedAt.Unix()), uint64(e.ReceivedAt.Nanosecond())
	tsLen := uintSize(secs) + uintSize(nanos)
	stampLen := uintSize(e.Index) + 1 + protowire.SizeBytes(tsLen) + bytesSize(len(e.Principal))
	dst = protowire.AppendTag(dst, 2, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(stampLen))
	dst = appendUint(dst, 1, e.Index)
	dst = protowire.AppendTag(dst, 2, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(tsLen))
	dst = appendUint(dst, 1, secs)
	dst = appendUint(dst, 2, nanos)
	if e.Principal != "" {
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendString(dst, e.Principal)
	}

	// Commitment (3): header 1, content_digest 2, leaf_hash 3, content 4, salt 5.
	var content, salt []byte
	state := agenttrailv1.ContentState_CONTENT_STATE_WITHHELD
	switch e.ContentState {
	case store.ContentPresent:
		content, salt, state = e.Content, e.Salt, agenttrailv1.ContentState_CONTENT_STATE_PRESENT
	case store.ContentErased:
		state = agenttrailv1.ContentState_CONTENT_STATE_ERASED
	}
	comLen := bytesSize(len(e.HeaderBytes)) + bytesSize(len(e.ContentDigest)) + bytesSize(len(e.LeafHash)) + bytesSize(len(content)) + bytesSize(len(salt))
	dst = protowire.AppendTag(dst, 3, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(comLen))
	dst = appendBytes(dst, 1, e.HeaderBytes)
	dst = appendBytes(dst, 2, e.ContentDigest[:])
	dst = appendBytes(dst, 3, e.LeafHash[:])
	dst = appendBytes(dst, 4, content)
	dst = appendBytes(dst, 5, salt)

	// View (4): kind 1, policy_version 2 (none), content 3, erased_by 4
	// (optional: written when set, which is when an erasure is named).
	kind := uint64(agenttrailv1.ViewKind_VIEW_KIND_FULL)
	viewLen := uintSize(kind) + uintSize(uint64(state))
	erasedBy := e.ContentState == store.ContentErased && e.ErasedBy > 0
	if erasedBy {
		viewLen += 1 + protowire.SizeVarint(e.ErasedBy)
	}
	dst = protowire.AppendTag(dst, 4, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(viewLen))
	dst = appendUint(dst, 1, kind)
	dst = appendUint(dst, 3, uint64(state))
	if erasedBy {
		dst = protowire.AppendTag(dst, 4, protowire.VarintType)
		dst = protowire.AppendVarint(dst, e.ErasedBy)
	}
	return dst
}

// entryEvent is the field number of agenttrail.v1.Entry.event, and
// eventHeaderEvent that of agenttrail.v1.EventHeader.event.
const (
	entryEvent       protowire.Number = 1
	eventHeaderEvent protowire.Number = 1
)

// headerEvent returns the encoded event of an encoded EventHeader: its one
// event field.
func headerEvent(header []byte) ([]byte, bool) {
	var ev []byte
	found := false
	for len(header) > 0 {
		num, typ, n := protowire.ConsumeTag(header)
		if n < 0 {
			return nil, false
		}
		header = header[n:]
		if num == eventHeaderEvent {
			if typ != protowire.BytesType || found {
				return nil, false
			}
			v, m := protowire.ConsumeBytes(header)
			if m < 0 {
				return nil, false
			}
			ev, found, header = v, true, header[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, header)
		if m < 0 {
			return nil, false
		}
		header = header[m:]
	}
	return ev, found
}

// entryEncoder is a View that can encode what Render returns without
// building it: appendEntry appends the agenttrail.v1.Entry encoding of an
// entry the view shows, or reports false when it cannot (then Render is
// the way). Query reads entries for it without their decoded header
// (store.Query.LeanHeader): neither appendEntry nor Shows may read
// Entry.Header.
type entryEncoder interface {
	appendEntry(dst []byte, e *store.Entry) ([]byte, bool)
}

// MetadataView shows the header only: every METADATA field and the
// commitment, no content at all. For administrators.
type MetadataView struct{}

// Kind implements View.
func (MetadataView) Kind() agenttrailv1.ViewKind { return agenttrailv1.ViewKind_VIEW_KIND_METADATA }

// PolicyVersion implements View.
func (MetadataView) PolicyVersion() string { return "" }

// Read implements View.
func (MetadataView) Read() store.ReadMode { return store.HeaderOnly }

// Shows implements View: everything.
func (MetadataView) Shows(*store.Entry) bool { return true }

// Render implements View.
func (MetadataView) Render(e *store.Entry) (*agenttrailv1.Entry, error) {
	return renderCommon(e, e.Header, agenttrailv1.ViewKind_VIEW_KIND_METADATA, ""), nil
}

// EventRedactor masks personal data and secrets in an event, in place:
// content fields of class PERSONAL or SECRET whole, free text and JSON in
// CONTENT fields by detectors. It must leave METADATA fields unchanged.
// *redact.Redactor is one.
type EventRedactor interface {
	Mask(ev *agenttrailv1.Event)
	Version() string
}

// RedactedView shows the header in full and the content with personal data
// and secrets masked, for developers. The header bytes and content digest
// are unchanged, so the entry still verifies against a checkpoint, with its
// content marked withheld; neither the content bytes nor the salt are sent.
// Access records of other principals are not shown.
type RedactedView struct {
	// Redactor masks the content.
	Redactor EventRedactor
	// Viewer is the principal reading.
	Viewer string
	// Cache, when set, keeps the views rendered, by leaf hash and policy
	// version (see ViewCache).
	Cache *ViewCache
	// Timing, when set, is told how long each entry took to mask.
	Timing func(time.Duration)
}

// Kind implements View.
func (RedactedView) Kind() agenttrailv1.ViewKind { return agenttrailv1.ViewKind_VIEW_KIND_REDACTED }

// PolicyVersion implements View.
func (v RedactedView) PolicyVersion() string { return v.Redactor.Version() }

// Read implements View.
func (RedactedView) Read() store.ReadMode { return store.HeaderAndContent }

// Shows implements View: everything but other principals' access records.
func (v RedactedView) Shows(e *store.Entry) bool {
	a := e.Header.GetAccess()
	return a == nil || a.GetPrincipal() == v.Viewer
}

// Render implements View.
func (v RedactedView) Render(e *store.Entry) (*agenttrailv1.Entry, error) {
	if v.Timing != nil {
		start := time.Now()
		defer func() { v.Timing(time.Since(start)) }()
	}
	ev, err := v.Cache.maskedEvent(e, v.Redactor) // a new event, not shared
	if err != nil {
		return nil, err
	}
	return renderCommon(e, ev, agenttrailv1.ViewKind_VIEW_KIND_REDACTED, v.Redactor.Version()), nil
}

// renderCommon builds the parts of an entry every view shows: the stamp, the
// header bytes, digest and leaf hash, with the content marked withheld (or
// erased, with the index of the event that erased it) until a view says
// otherwise.
func renderCommon(e *store.Entry, ev *agenttrailv1.Event, kind agenttrailv1.ViewKind, policy string) *agenttrailv1.Entry {
	view := &agenttrailv1.View{Kind: kind, PolicyVersion: policy, Content: agenttrailv1.ContentState_CONTENT_STATE_WITHHELD}
	if e.ContentState == store.ContentErased {
		view.Content = agenttrailv1.ContentState_CONTENT_STATE_ERASED
		if e.ErasedBy > 0 {
			by := e.ErasedBy
			view.ErasedBy = &by
		}
	}
	return &agenttrailv1.Entry{
		Event: ev,
		Stamp: &agenttrailv1.Stamp{
			LogIndex:   e.Index,
			ReceivedAt: timestamppb.New(e.ReceivedAt),
			Principal:  e.Principal,
		},
		Commitment: &agenttrailv1.Commitment{
			Header:        e.HeaderBytes,
			ContentDigest: e.ContentDigest[:],
			LeafHash:      e.LeafHash[:],
		},
		View: view,
	}
}

// fixedView returns a ViewSelector that gives every caller the same view.
func fixedView(v View) ViewSelector {
	return func(context.Context) (View, error) { return v, nil }
}
