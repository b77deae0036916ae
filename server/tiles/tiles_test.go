package tiles_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/server/tiles"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// A standard tlog-tiles client (filippo.io/torchwood) follows the log over
// HTTP: the tiles it fetches prove the checkpoint's root, and consistency
// between two sizes, without any agenttrail code on its side.
func TestTorchwoodFollowsTheLog(t *testing.T) {
	ctx := context.Background()
	ts, err := servertest.Start(ctx, servertest.Config{StoreOptions: []store.Option{store.WithCheckpointInterval(0)}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	st := ts.Store
	srv := httptest.NewServer(tiles.Handler(st, nil, nil))
	defer srv.Close()
	fetcher, err := torchwood.NewTileFetcher(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var old tlog.Tree
	for _, k := range []int{1, 255, 1, 300, 1200} {
		var evs []*agenttrailv1.Event
		for range k {
			evs = append(evs, &agenttrailv1.Event{EventId: fmt.Sprintf("e-%d", n), SessionId: "s", AgentId: "a", OccurredAt: timestamppb.Now(),
				Payload: &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Text: "x"}}})
			n++
			if len(evs) == 1000 {
				if _, err := st.Append(ctx, "agent", evs); err != nil {
					t.Fatal(err)
				}
				evs = nil
			}
		}
		if len(evs) > 0 {
			if _, err := st.Append(ctx, "agent", evs); err != nil {
				t.Fatal(err)
			}
		}
		// The checkpoint, as served, verifies with the log's key.
		resp, err := http.Get(srv.URL + "/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		note, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h, err := commitment.OpenCheckpoint(note, st.VerifierKey().String(), st.Origin())
		if err != nil || h.Size != uint64(n) {
			t.Fatalf("GET /checkpoint: %v, size %d, want %d", err, h.Size, n)
		}
		tree := tlog.Tree{N: int64(h.Size), Hash: h.Root}
		hr := torchwood.TileHashReaderWithContext(ctx, tree, fetcher)
		root, err := tlog.TreeHash(tree.N, hr)
		if err != nil || root != tree.Hash {
			t.Fatalf("size %d: the root from the tiles is %v (%v), want %v", n, root, err, tree.Hash)
		}
		if old.N > 0 {
			proof, err := tlog.ProveTree(tree.N, old.N, hr)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
				t.Fatalf("consistency %d -> %d from the tiles: %v", old.N, tree.N, err)
			}
		}
		old = tree
	}
	for _, path := range []string{"/tile/entries/000", "/tile/0/x001/x000", "/tile/9/000", "/tile/0/000.p/0"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}
