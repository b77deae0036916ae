package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
)

// The pipeline hands items back in the order given, each after its work,
// and stops at the first failure in that order even when later items
// (which finish first) fail too.
func TestPipelineKeepsOrderAndStopsAtFirstFailure(t *testing.T) {
	type item struct {
		i    int
		done bool
	}
	for _, fail := range []int{-1, 0, 63, 64, 700} {
		var seen []int
		work := func(it *item) {
			time.Sleep(time.Duration(rand.IntN(20)) * time.Microsecond)
			it.done = true
		}
		done := func(it *item) error {
			if !it.done {
				return fmt.Errorf("item %d handed back before its work", it.i)
			}
			seen = append(seen, it.i)
			if it.i == fail || (fail >= 0 && it.i == fail+300) {
				return fmt.Errorf("item %d fails", it.i)
			}
			return nil
		}
		p := newPipeline(work, done)
		var addErr error
		for i := range 1000 {
			if addErr = p.add(item{i: i}); addErr != nil {
				break
			}
		}
		err := p.close()
		want := 1000
		if fail >= 0 {
			want = fail + 1
			if err == nil || err.Error() != fmt.Sprintf("item %d fails", fail) {
				t.Errorf("fail at %d: close() = %v, want item %d's error", fail, err, fail)
			}
			if addErr != nil && !errors.Is(addErr, err) && addErr.Error() != err.Error() {
				t.Errorf("fail at %d: add() = %v, close() = %v", fail, addErr, err)
			}
		} else if err != nil || addErr != nil {
			t.Errorf("close() = %v, add() = %v, want nil", err, addErr)
		}
		if len(seen) != want {
			t.Fatalf("fail at %d: done saw %d items, want %d", fail, len(seen), want)
		}
		for i, v := range seen {
			if v != i {
				t.Fatalf("fail at %d: done saw item %d at position %d", fail, v, i)
			}
		}
	}
}

// evidenceTamper alters what a server sends to export and online verify:
// one field of the entries (or proofs) at the given log indexes.
type evidenceTamper struct {
	what    atomic.Value // string: "", "content", "leaf", "proof", "checkpoint"
	indexes atomic.Value // []uint64
	hits    atomic.Int64
}

func (tp *evidenceTamper) set(what string, indexes ...uint64) {
	tp.what.Store(what)
	tp.indexes.Store(indexes)
	tp.hits.Store(0)
}

func (tp *evidenceTamper) alter(r *agenttrailv1.QueryResponse) {
	what, _ := tp.what.Load().(string)
	indexes, _ := tp.indexes.Load().([]uint64)
	e := r.GetEntry()
	if e == nil {
		return
	}
	for _, i := range indexes {
		if e.GetStamp().GetLogIndex() != i {
			continue
		}
		tp.hits.Add(1)
		switch what {
		case "content":
			e.Commitment.Content[len(e.Commitment.Content)/2] ^= 1
		case "leaf":
			e.Commitment.LeafHash[3] ^= 1
		case "proof":
			r.InclusionProof.Hashes[len(r.InclusionProof.Hashes)-1][5] ^= 1
		}
	}
}

type tamperedStream struct {
	grpc.ServerStream
	tp *evidenceTamper
}

func (s tamperedStream) SendMsg(m any) error {
	if r, ok := m.(*agenttrailv1.QueryResponse); ok {
		r = proto.Clone(r).(*agenttrailv1.QueryResponse)
		s.tp.alter(r)
		for _, b := range r.GetBatch() {
			s.tp.alter(b)
		}
		m = r
	}
	return s.ServerStream.SendMsg(m)
}

// Export and online verify check a range on every core: an entry, its
// content, its leaf hash or a hash of its proof altered on the way is
// found, and the first altered entry in log order is the one named, also
// when a later one is altered too and the altered ones are in different
// chunks of the pipeline.
func TestOnlineEvidenceNamesTheFirstTamperedEvent(t *testing.T) {
	tp := &evidenceTamper{}
	tp.set("")
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, tamperedStream{ss, tp})
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if r, ok := resp.(*agenttrailv1.GetCheckpointResponse); ok && tp.what.Load() == "checkpoint" {
			r = proto.Clone(r).(*agenttrailv1.GetCheckpointResponse)
			// A digit of the root's base64 line, the note's third.
			note := r.Checkpoint.SignedNote
			at := bytes.IndexByte(note[bytes.IndexByte(note, '\n')+1:], '\n') + bytes.IndexByte(note, '\n') + 4
			note[at] ^= 1
			tp.hits.Add(1)
			resp = r
		}
		return resp, err
	}
	s := startCLIServer(t, server.WithInterceptors([]grpc.UnaryServerInterceptor{unary}, []grpc.StreamServerInterceptor{stream}))
	for b := range 3 {
		s.appendEvents(t, someEvents(fmt.Sprintf("p%d", b), 100)...)
	}
	addr := []string{"--addr", s.addr, "--verifier-key", s.vkey}
	expect(t, append([]string{"verify", "--to", "300"}, addr...), 0, []string{"verified events [0, 300): 300 events, content included"}, nil)
	out, _ := expect(t, append([]string{"export", "--to-index", "300"}, addr...), 0, nil, []string{"exported 300 events"})
	if n := strings.Count(out, "\n"); n != 301 {
		t.Fatalf("export has %d lines, want 301", n)
	}
	file := writeFile(t, "all.jsonl", strings.Split(strings.TrimSpace(out), "\n")...)
	expect(t, []string{"verify", "--export", file, "--verifier-key", s.vkey}, 0, []string{"300 events (log indexes 0 to 299"}, nil)

	for _, tc := range []struct {
		what    string
		indexes []uint64
		first   uint64
		reason  string
	}{
		{"content", []uint64{150, 70}, 70, "digest"},
		{"content", []uint64{299}, 299, "digest"},
		{"leaf", []uint64{200, 201}, 200, ""},
		{"proof", []uint64{130, 5}, 5, "proof"},
		{"proof", []uint64{64}, 64, "proof"},
	} {
		tp.set(tc.what, tc.indexes...)
		verifyErr := fmt.Sprintf("event %d does not verify: ", tc.first)
		_, errOut := expect(t, append([]string{"verify", "--to", "300"}, addr...), 1, nil, []string{verifyErr, tc.reason})
		if tp.hits.Load() == 0 {
			t.Fatalf("%s %v: nothing was altered: the test no longer sees what the server sends", tc.what, tc.indexes)
		}
		for _, i := range tc.indexes {
			if i != tc.first && strings.Contains(errOut, fmt.Sprintf("event %d ", i)) {
				t.Errorf("%s %v: verify named a later event: %s", tc.what, tc.indexes, errOut)
			}
		}
		expect(t, append([]string{"export", "--to-index", "300"}, addr...), 1, nil,
			[]string{fmt.Sprintf("event %d as the server sent it does not verify", tc.first), tc.reason})
	}
	tp.set("checkpoint")
	expect(t, append([]string{"verify", "--to", "300"}, addr...), 1, nil, []string{"latest checkpoint does not verify"})
	expect(t, append([]string{"export", "--to-index", "300"}, addr...), 1, nil, []string{"latest checkpoint does not verify"})
	if tp.hits.Load() == 0 {
		t.Fatal("checkpoint: nothing was altered")
	}
	tp.set("")
	expect(t, append([]string{"verify", "--to", "300"}, addr...), 0, []string{"verified events [0, 300)"}, nil)
}
