package witness_test

import (
	"context"
	"crypto/rand"

	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/server/witness"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
)

const origin = "witness.test/log"

// testLog is a log with a key the test holds, to sign any checkpoint.
type testLog struct {
	signer note.Signer
	vkey   string
}

func newTestLog(t *testing.T) testLog {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := commitment.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return testLog{s, vkey}
}

func (l testLog) sign(t *testing.T, size uint64, root [32]byte) []byte {
	b, err := commitment.SignCheckpoint(l.signer, commitment.TreeHead{Origin: origin, Size: size, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func startWitness(t *testing.T, dir string, l testLog) (*witness.Witness, *httptest.Server, string) {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, "witness.test/w")
	if err != nil {
		t.Fatal(err)
	}
	return startWitnessKey(t, dir, skey, l)
}

func startWitnessKey(t *testing.T, dir, skey string, l testLog) (*witness.Witness, *httptest.Server, string) {
	t.Helper()
	w, err := witness.New(dir, skey, []witness.LogConfig{{Origin: origin, VerifierKey: l.vkey}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return w, srv, skey
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A tree of leaves "0", "1", ... and its roots and proofs, by the store's
// own hashing, so that the witness checks real consistency proofs.
func treeLog(t *testing.T) (*store.Store, func(n int)) {
	t.Helper()
	ts, err := servertest.Start(context.Background(), servertest.Config{StoreOptions: []store.Option{store.WithCheckpointInterval(0), store.WithOrigin(origin)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	n := 0
	return ts.Store, func(k int) {
		var evs []*agenttrailv1.Event
		for range k {
			evs = append(evs, &agenttrailv1.Event{EventId: fmt.Sprintf("e-%d", n), SessionId: "s", AgentId: "a",
				OccurredAt: timestamppb.Now(), Payload: &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Text: "x"}}})
			n++
		}
		res, err := ts.Store.Append(context.Background(), "agent", evs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
}

// The protocol's answers, as C2SP tlog-witness specifies them.
func TestAddCheckpoint(t *testing.T) {
	l := newTestLog(t)
	dir := t.TempDir()
	w, srv, skey := startWitness(t, dir, l)
	root5 := [32]byte{5}

	// First contact: old 0, no proof.
	code, body := post(t, srv.URL, "old 0\n\n"+string(l.sign(t, 5, root5)))
	if code != 200 || !strings.HasPrefix(body, "— witness.test/w ") {
		t.Fatalf("first checkpoint: %d %q", code, body)
	}
	if size, _ := w.Cosigned(origin); size != 5 {
		t.Fatalf("cosigned size %d, want 5", size)
	}
	// The same checkpoint again is cosigned again.
	if code, _ := post(t, srv.URL, "old 5\n\n"+string(l.sign(t, 5, root5))); code != 200 {
		t.Errorf("the same checkpoint again: %d", code)
	}
	tests := []struct {
		name string
		body string
		code int
		want string
	}{
		{"stale old size", "old 0\n\n" + string(l.sign(t, 9, [32]byte{9})), 409, "5\n"},
		{"smaller tree", "old 3\n\n" + string(l.sign(t, 3, [32]byte{3})), 409, "5\n"},
		{"fork at the same size", "old 5\n\n" + string(l.sign(t, 5, [32]byte{6})), 409, "5\n"},
		{"bad proof", "old 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n" + string(l.sign(t, 9, [32]byte{9})), 422, ""},
		{"old above the checkpoint", "old 12\n\n" + string(l.sign(t, 9, [32]byte{9})), 400, ""},
		{"not the log's key", "old 5\n\n" + string(newTestLog(t).sign(t, 9, [32]byte{9})), 403, ""},
		{"unknown log", "old 0\n\nother.test/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— other.test/log AAAAAAAAAA==\n", 404, ""},
		{"no blank line", "old 0\n", 400, ""},
		{"leading zero", "old 05\n\n" + string(l.sign(t, 9, [32]byte{9})), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, srv.URL, tt.body)
			if code != tt.code || tt.want != "" && body != tt.want {
				t.Errorf("got %d %q, want %d %q", code, body, tt.code, tt.want)
			}
		})
	}
	if size, _ := w.Cosigned(origin); size != 5 {
		t.Fatalf("after the refusals, cosigned size %d, want 5", size)
	}
	// The fork, the smaller tree and the bad proof are kept as evidence.
	resp, err := http.Get(srv.URL + "/evidence?origin=" + origin)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"a fork", "smaller than the 5", "does not verify"} {
		if !strings.Contains(string(ev), want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	// Restarted on its directory, the witness remembers what it cosigned.
	srv.Close()
	w2, srv2, _ := startWitnessKey(t, dir, skey, l)
	if size, _ := w2.Cosigned(origin); size != 5 {
		t.Fatalf("after a restart, cosigned size %d, want 5", size)
	}
	if code, body := post(t, srv2.URL, "old 0\n\n"+string(l.sign(t, 9, [32]byte{9}))); code != 409 || body != "5\n" {
		t.Errorf("after a restart, old 0: %d %q, want 409 5", code, body)
	}
	resp, err = http.Get(witness.CheckpointURL(srv2.URL, origin))
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := &commitment.WitnessPolicy{Witnesses: []commitment.WitnessKey{w2.Key()}, Quorum: 1}
	if h, _, err := commitment.OpenCosignedCheckpoint(cp, l.vkey, origin, p); err != nil || h.Size != 5 {
		t.Errorf("GET /checkpoint: %v (size %d)", err, h.Size)
	}
}

// The submitter gets every new checkpoint of a real log cosigned by two
// witnesses, with the consistency proofs they need, and records it.
func TestSubmitter(t *testing.T) {
	st, appendN := treeLog(t)
	l := testLog{vkey: st.VerifierKey().String()}
	var clients []*witness.Client
	var ws []*witness.Witness
	for i := range 2 {
		w, srv, _ := startWitness(t, t.TempDir(), l)
		c, err := witness.NewClient(fmt.Sprintf("w%d", i), srv.URL, w.Key().String())
		if err != nil {
			t.Fatal(err)
		}
		clients, ws = append(clients, c), append(ws, w)
	}
	sub, err := witness.NewSubmitter(st, clients, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sub.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitCosigned := func(size uint64) store.Checkpoint {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if cp := sub.Cosigned(); cp.Size >= size {
				return cp
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no checkpoint of %d events cosigned in time (counts %+v)", size, sub.Counts())
		return store.Checkpoint{}
	}
	for _, n := range []int{3, 5, 1, 8} {
		appendN(n)
		size, _ := st.Size()
		cp := waitCosigned(size)
		h, cosigs, err := commitment.OpenCosignedCheckpoint(cp.Note, l.vkey, origin, sub.Policy())
		if err != nil || h.Size != size || len(cosigs) != 2 {
			t.Fatalf("cosigned checkpoint of %d: %v, %d cosignatures", size, err, len(cosigs))
		}
		if rec := st.LatestCosigned(); rec.Size != size {
			t.Errorf("recorded cosigned size %d, want %d", rec.Size, size)
		}
	}
	for _, c := range sub.Counts() {
		if c.Outcome != witness.OutcomeCosigned && c.N != 0 {
			t.Errorf("count %+v, want no failures", c)
		}
	}
}
