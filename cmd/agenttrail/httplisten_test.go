package main

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// httpGet returns the status and body of a GET.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The binary's one HTTP listener serves the log as C2SP tlog-tiles beside
// the console and /metrics: /checkpoint is the witnessed checkpoint, which
// verifies with the log's key and the witness's; the hash tiles prove its
// root to a standard client (torchwood); entry bundles are not served.
// /metrics reports each witness's submissions and lag, cosigned while the
// witness answers and unreachable once it is gone.
func TestHTTPListenerServesTilesAndWitnessMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a witness")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	const origin = "tiles.test/log"
	skey, vk, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(root, "log-signing.key")
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w1 := startWitnessProc(t, bin, filepath.Join(root, "w1"), "w1.test/witness", origin+"="+vk)
	policy, err := commitment.NewWitnessPolicy([]string{w1.key}, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(root, "data")
	args := []string{"serve", "--data", data, "--signing-key", keyFile, "--origin", origin,
		"--checkpoint-record", filepath.Join(root, "log-checkpoints.json"),
		"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--checkpoint-interval", "0", "--log-level", "warn",
		"--witness", "w1=" + w1.url + "+" + w1.key}
	first, _ := startProc(t, bin, "agenttrail listening on ", args...)
	first.stop(t) // creates the log with its origin; the key is made offline
	agentKey := createKey(t, bin, data, "--signing-key", keyFile, "--principal", "bot", "--role", "agent")

	srv, web := startProc(t, bin, "web console: ", args...)
	web = strings.TrimSpace(web)
	var addr string
	for _, l := range strings.Split(srv.out(), "\n") {
		if a, ok := strings.CutPrefix(l, "agenttrail listening on "); ok {
			addr = a
		}
	}
	c, err := client.New(addr, client.WithAPIKey(agentKey))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Append(context.Background(), someEvents("tiles", 300))
	if err != nil {
		t.Fatal(err)
	}
	size := uint64(0)
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		size = max(size, r.Receipt.GetLogIndex()+1)
	}

	// /checkpoint serves the cosigned checkpoint once the witness cosigned
	// the latest tree.
	var head commitment.TreeHead
	var cosigs []commitment.Cosignature
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := httpGet(t, web+"checkpoint")
		if code == http.StatusOK {
			head, cosigs, err = commitment.OpenCosignedCheckpoint([]byte(body), vk, origin, policy)
			if err == nil && head.Size >= size {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /checkpoint: %d, %v; want a checkpoint of %d events cosigned by w1:\n%s\nserver: %s", code, err, size, body, srv.errs())
		}
	}
	if len(cosigs) != 1 {
		t.Errorf("GET /checkpoint: %d cosignatures, want 1", len(cosigs))
	}

	// The hash tiles prove the checkpoint's root to a standard client.
	fetcher, err := torchwood.NewTileFetcher(web)
	if err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: int64(head.Size), Hash: head.Root}
	got, err := tlog.TreeHash(tree.N, torchwood.TileHashReaderWithContext(context.Background(), tree, fetcher))
	if err != nil || got != tree.Hash {
		t.Fatalf("root of %d events from /tile/: %v (%v), want %v", tree.N, got, err, tree.Hash)
	}
	for _, path := range []string{"tile/entries/000", "tile/0/000.p/0", "tile/9/000"} {
		if code, _ := httpGet(t, web+path); code != http.StatusNotFound {
			t.Errorf("GET /%s: %d, want 404", path, code)
		}
	}

	// /metrics: the witness cosigned, and lags by nothing.
	_, m := httpGet(t, web+"metrics")
	for _, want := range []string{
		`agenttrail_witness_submissions_total{outcome="cosigned",witness="w1"} `,
		`agenttrail_witness_lag_seconds{witness="w1"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}

	// Gone, the witness is unreachable, and its lag grows while the log
	// moves on.
	w1.kill()
	unreachable := regexp.MustCompile(`agenttrail_witness_submissions_total\{outcome="unreachable",witness="w1"\} \d`)
	lag := regexp.MustCompile(`agenttrail_witness_lag_seconds\{witness="w1"\} (\S+)`)
	for i, deadline := 0, time.Now().Add(30*time.Second); ; i++ {
		if _, err := c.Append(context.Background(), someEvents("more-"+strconv.Itoa(i), 1)); err != nil {
			t.Fatal(err)
		}
		_, m = httpGet(t, web+"metrics")
		l := lag.FindStringSubmatch(m)
		if unreachable.MatchString(m) && l != nil {
			if v, err := strconv.ParseFloat(l[1], 64); err == nil && v > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the witness is gone, but /metrics does not say so:\n%s", grepLines(m, "agenttrail_witness_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.stop(t)
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
