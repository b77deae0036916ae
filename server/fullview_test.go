package server_test

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// renderedFull is the full view without its encoding from stored bytes:
// every entry is rendered as a message and encoded by gRPC.
type renderedFull struct{}

func (renderedFull) Kind() agenttrailv1.ViewKind { return server.FullView{}.Kind() }
func (renderedFull) PolicyVersion() string       { return "" }
func (renderedFull) Read() store.ReadMode        { return server.FullView{}.Read() }
func (renderedFull) Shows(e *store.Entry) bool   { return true }
func (renderedFull) Render(e *store.Entry) (*agenttrailv1.Entry, error) {
	return server.FullView{}.Render(e)
}

// fullViewLog starts a server whose callers choose the full view or
// renderedFull by the x-view header, over a log of every sample, a
// realistic LLM call and erased events.
func fullViewLog(t *testing.T) *harness {
	t.Helper()
	h := start(t, nil, server.WithViews(func(ctx context.Context) (server.View, error) {
		if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("x-view")) > 0 && md.Get("x-view")[0] == "rendered" {
			return renderedFull{}, nil
		}
		return server.FullView{}, nil
	}))
	llm := eventtest.RealisticLLMCall()
	llm.Labels = map[string]string{"env": "prod", "team": "support", "region": "eu-1"}
	evs := append(fresh(), llm)
	for i := range 3 {
		ev := proto.Clone(evs[1]).(*agenttrailv1.Event)
		ev.EventId = eventtest.ID("erased-" + string(rune('a'+i)))
		evs = append(evs, ev)
	}
	ctx := context.Background()
	if _, err := h.st.Append(ctx, "test", evs); err != nil {
		t.Fatal(err)
	}
	ids := []string{evs[len(evs)-1].GetEventId(), evs[len(evs)-3].GetEventId()}
	if _, err := h.st.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-1", EventIDs: ids}); err != nil {
		t.Fatal(err)
	}
	return h
}

// queryInView runs a Query in the view named by x-view and returns its items.
func queryInView(t *testing.T, h *harness, view string, req *agenttrailv1.QueryRequest) []*agenttrailv1.QueryResponse {
	t.Helper()
	stream, err := h.query.Query(metadata.AppendToOutgoingContext(context.Background(), "x-view", view), req)
	if err != nil {
		t.Fatal(err)
	}
	items, _, err := readItems(t, stream)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// The full view's entry encoded from the stored bytes is, byte for byte,
// the deterministic encoding of the entry it renders: with content, and
// erased; with its event, and without it (EventFromCommitment).
func TestFullViewEncodesWhatItRenders(t *testing.T) {
	h := fullViewLog(t)
	present, erased := 0, 0
	for e, err := range h.st.Scan(context.Background(), store.Query{Read: store.HeaderAndContent}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []server.FullView{{}, {EventFromCommitment: true}} {
			got, ok := server.EncodeFullEntry(v, e)
			if !ok {
				t.Fatalf("entry %d (%v): not encoded from its stored bytes", e.Index, e.ContentState)
			}
			rendered, err := v.Render(e)
			if err != nil {
				t.Fatal(err)
			}
			if (rendered.GetEvent() == nil) != v.EventFromCommitment {
				t.Errorf("entry %d, %+v: rendered with event %v", e.Index, v, rendered.GetEvent() != nil)
			}
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(rendered)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("entry %d (%v), %+v: encoded from stored bytes differs from the rendered entry\ngot  %x\nwant %x", e.Index, e.ContentState, v, got, want)
			}
		}
		switch e.ContentState {
		case store.ContentPresent:
			present++
		case store.ContentErased:
			erased++
		}
	}
	if present < 10 || erased != 2 {
		t.Errorf("%d entries with content, %d erased; want every sample and 2 erased", present, erased)
	}
}

// Query in the full view returns the same items whether entries are
// encoded from stored bytes or rendered, one per response or batched, with
// inclusion proofs or without.
func TestQueryFullViewSameAsRendered(t *testing.T) {
	h := fullViewLog(t)
	size, _ := h.st.Size()
	for _, batch := range []bool{false, true} {
		for _, proofs := range []bool{false, true} {
			read := func(view string) []*agenttrailv1.QueryResponse {
				req := &agenttrailv1.QueryRequest{Batch: batch}
				if proofs {
					req.ProofTreeSize = &size
				}
				return queryInView(t, h, view, req)
			}
			want, got := read("rendered"), read("full")
			if len(got) != len(want) || len(got) < int(size)-1 {
				t.Fatalf("batch %v, proofs %v: %d items, rendered %d, log %d", batch, proofs, len(got), len(want), size)
			}
			for i := range got {
				if !proto.Equal(got[i], want[i]) {
					t.Errorf("batch %v, proofs %v: item %d differs from the rendered one:\ngot  %v\nwant %v", batch, proofs, i, got[i], want[i])
				}
				if proofs && got[i].GetInclusionProof() == nil {
					t.Errorf("batch %v: item %d without its proof", batch, i)
				}
			}
		}
	}
}

// With event_from_commitment, Query in the full view sends each entry
// without its event and otherwise as before; the event rebuilt from the
// commitment (the header's event with the content merged into it) is the
// event sent without the field, erased entries included. Other views
// ignore the field.
func TestQueryEventFromCommitment(t *testing.T) {
	h := fullViewLog(t)
	read := func(view string, fromCommitment bool) []*agenttrailv1.QueryResponse {
		return queryInView(t, h, view, &agenttrailv1.QueryRequest{Batch: true, EventFromCommitment: fromCommitment})
	}
	want, got := read("full", false), read("full", true)
	if len(got) != len(want) || len(got) < 10 {
		t.Fatalf("%d items with event_from_commitment, %d without", len(got), len(want))
	}
	erased := 0
	for i := range got {
		g, w := got[i].GetEntry(), want[i].GetEntry()
		if g.GetEvent() != nil {
			t.Errorf("item %d: sent with its event", i)
		}
		if w.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_ERASED {
			erased++
		}
		var hdr agenttrailv1.EventHeader
		if err := proto.Unmarshal(g.GetCommitment().GetHeader(), &hdr); err != nil {
			t.Fatal(err)
		}
		rebuilt := hdr.GetEvent()
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(g.GetCommitment().GetContent(), rebuilt); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(rebuilt, w.GetEvent()) {
			t.Errorf("item %d: rebuilt event\n%v\nwant %v", i, rebuilt, w.GetEvent())
		}
		g.Event = w.GetEvent()
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("item %d differs beyond its event:\ngot  %v\nwant %v", i, got[i], want[i])
		}
	}
	if erased != 2 {
		t.Errorf("%d erased entries, want 2", erased)
	}
	for i, item := range read("rendered", true) {
		if item.GetEntry().GetEvent() == nil {
			t.Errorf("another view, item %d: sent without its event", i)
		}
	}
}
