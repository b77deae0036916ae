package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// manyAgentEvents returns n agent events, copies of agentEvents under new
// ids.
func manyAgentEvents(n int) []*agenttrailv1.Event {
	base := agentEvents()
	out := make([]*agenttrailv1.Event, n)
	for i := range out {
		ev := proto.Clone(base[i%len(base)]).(*agenttrailv1.Event)
		ev.EventId = eventtest.ID(fmt.Sprintf("%s-%d", ev.GetEventId(), i))
		out[i] = ev
	}
	return out
}

// queryItems reads a whole Query stream: its items in order (each
// response's own, or each of its batch) and how many responses carried
// them.
func readItems(t testing.TB, stream agenttrailv1.QueryService_QueryClient) ([]*agenttrailv1.QueryResponse, int, error) {
	t.Helper()
	var items []*agenttrailv1.QueryResponse
	resps := 0
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return items, resps, nil
		}
		if err != nil {
			return items, resps, err
		}
		resps++
		if r.GetItem() != nil && len(r.GetBatch()) > 0 {
			t.Errorf("response %d holds an item and a batch", resps)
		}
		if r.GetItem() != nil {
			items = append(items, r)
		}
		items = append(items, r.GetBatch()...)
	}
}

// A Query with proof_tree_size returns every entry and withheld entry of
// the range below that size with its inclusion proof against the tree of
// that size, in one call that the trail records once (with the range and
// the tree size); with batch set, in few responses.
func TestQueryWithProofsInOneCall(t *testing.T) {
	h := startSecure(t)
	appendAs(t, h, "agent", manyAgentEvents(600))
	// A developer's read before the checkpoint: its access record is
	// withheld from a later developer's query.
	queryAs(t, h, "developer2", &agenttrailv1.QueryRequest{Limit: 1})
	// Access records are appended without the reader waiting: find it.
	bobRead := uint64(0)
	accessKind := &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ACCESS}}}
	for deadline := time.Now().Add(10 * time.Second); bobRead == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		all, err := queryAs(t, h, "compliance", accessKind)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all {
			if e.GetEvent().GetAccess().GetPrincipal() == "dev-bob" {
				bobRead = e.GetStamp().GetLogIndex()
			}
		}
	}
	if bobRead == 0 {
		t.Fatal("dev-bob's read is not on the record")
	}
	var cp *agenttrailv1.Checkpoint
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := h.logs.GetCheckpoint(h.as("compliance"), &agenttrailv1.GetCheckpointRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if cp = resp.GetCheckpoint(); cp.GetTreeSize() > bobRead {
			break
		}
	}
	size := cp.GetTreeSize()
	if size <= bobRead {
		t.Fatalf("checkpoint of %d events, want one covering dev-bob's read at %d", size, bobRead)
	}
	root := tlog.Hash(cp.GetRootHash())
	from := uint64(3)

	for _, tc := range []struct {
		who   string
		batch bool
	}{{"compliance", true}, {"compliance", false}, {"developer", true}} {
		t.Run(fmt.Sprintf("%s/batch=%v", tc.who, tc.batch), func(t *testing.T) {
			req := &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{FromIndex: &from}, ProofTreeSize: &size, Batch: tc.batch}
			stream, err := h.query.Query(h.as(tc.who), req)
			if err != nil {
				t.Fatal(err)
			}
			items, resps, err := readItems(t, stream)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := uint64(len(items)), size-from; got != want {
				t.Fatalf("%d items, want %d (every index of [%d, %d))", got, want, from, size)
			}
			if tc.batch && resps > len(items)/50 {
				t.Errorf("%d items came in %d responses, want batches", len(items), resps)
			}
			if !tc.batch && resps != len(items) {
				t.Errorf("%d items came in %d responses, want one each", len(items), resps)
			}
			withheld := 0
			for i, item := range items {
				var index uint64
				var leaf []byte
				switch {
				case item.GetEntry() != nil:
					index, leaf = item.GetEntry().GetStamp().GetLogIndex(), item.GetEntry().GetCommitment().GetLeafHash()
				case item.GetWithheld() != nil:
					index, leaf = item.GetWithheld().GetLogIndex(), item.GetWithheld().GetLeafHash()
					withheld++
				default:
					t.Fatalf("item %d: %v, want an entry or a withheld entry", i, item)
				}
				if index != from+uint64(i) {
					t.Fatalf("item %d at index %d, want %d", i, index, from+uint64(i))
				}
				p := item.GetInclusionProof()
				if p.GetLogIndex() != index || p.GetTreeSize() != size || string(p.GetLeafHash()) != string(leaf) {
					t.Fatalf("item at %d: proof for index %d, size %d, leaf %x; want %d, %d, %x", index, p.GetLogIndex(), p.GetTreeSize(), p.GetLeafHash(), index, size, leaf)
				}
				proof := make(tlog.RecordProof, len(p.GetHashes()))
				for k, hash := range p.GetHashes() {
					proof[k] = tlog.Hash(hash)
				}
				if err := tlog.CheckRecord(proof, int64(size), root, int64(index), tlog.Hash(leaf)); err != nil {
					t.Fatalf("item at %d: the proof does not verify against the checkpoint: %v", index, err)
				}
			}
			if tc.who == "developer" && withheld == 0 {
				t.Errorf("no withheld entry for the developer, want dev-bob's read")
			}
		})
	}

	// Each of those calls is one access record, naming the range
	// returned and the tree size.
	var records []*agenttrailv1.Access
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		all, err := queryAs(t, h, "compliance", accessKind)
		if err != nil {
			t.Fatal(err)
		}
		records = records[:0]
		for _, e := range all {
			if a := e.GetEvent().GetAccess(); a.ProofTreeSize != nil {
				records = append(records, a)
			}
		}
		if len(records) >= 3 {
			break
		}
	}
	if len(records) != 3 {
		t.Fatalf("%d access records of a read with proofs, want 3 (one per call): %v", len(records), records)
	}
	for _, a := range records {
		if a.GetProofTreeSize() != size || a.GetRpc() != agenttrailv1.QueryService_Query_FullMethodName || a.GetStatusCode() != 0 {
			t.Errorf("access record %v: want Query, proof tree size %d, OK", a, size)
		}
		if a.GetRole() == "compliance" && (a.GetEventsReturned() != size-from || a.GetReturned().GetFirst() != from || a.GetReturned().GetLast() != size-1) {
			t.Errorf("compliance's record: %d events returned in [%d, %d], want %d in [%d, %d]",
				a.GetEventsReturned(), a.GetReturned().GetFirst(), a.GetReturned().GetLast(), size-from, from, size-1)
		}
	}
}

// A bad proof_tree_size is INVALID_ARGUMENT naming the field.
func TestQueryProofTreeSizeErrors(t *testing.T) {
	h := startSecure(t)
	appendAs(t, h, "agent", agentEvents())
	zero, beyond, fine := uint64(0), uint64(1000), uint64(2)
	for _, tc := range []struct {
		name string
		req  *agenttrailv1.QueryRequest
	}{
		{"zero", &agenttrailv1.QueryRequest{ProofTreeSize: &zero}},
		{"beyond the log", &agenttrailv1.QueryRequest{ProofTreeSize: &beyond}},
		{"with follow", &agenttrailv1.QueryRequest{ProofTreeSize: &fine, Follow: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := queryAs(t, h, "compliance", tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "proof_tree_size") {
				t.Errorf("got %v, want INVALID_ARGUMENT naming proof_tree_size", err)
			}
		})
	}
}

// A batched live tail sends what it has as soon as the scan waits: the
// stored entries and caught_up, then each new commit, without waiting for
// a batch to fill.
func TestBatchedTailSendsEachCommit(t *testing.T) {
	h := startSecure(t)
	evs := manyAgentEvents(40)
	appendAs(t, h, "agent", evs[:30])
	ctx, cancel := context.WithTimeout(h.as("compliance"), 30*time.Second)
	defer cancel()
	stream, err := h.query.Query(ctx, &agenttrailv1.QueryRequest{Follow: true, Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	next := func() []*agenttrailv1.QueryResponse {
		t.Helper()
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetItem() != nil {
			return []*agenttrailv1.QueryResponse{r}
		}
		return r.GetBatch()
	}
	var stored []*agenttrailv1.QueryResponse
	for len(stored) == 0 || stored[len(stored)-1].GetCaughtUp() == nil {
		stored = append(stored, next()...)
	}
	if got := len(stored) - 1; got < 30 {
		t.Fatalf("%d entries before caught_up, want at least the 30 appended", got)
	}
	for _, ev := range evs[30:33] {
		appendAs(t, h, "agent", []*agenttrailv1.Event{ev})
		for found := false; !found; {
			for _, item := range next() {
				if item.GetEntry().GetEvent().GetEventId() == ev.GetEventId() {
					found = true
				}
			}
		}
	}
}
