package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/witness"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// proc is a process of the binary, with what it printed.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	done   chan struct{}
}

func (p *proc) out() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *proc) errs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

// startProc runs the binary and waits until its stdout has a line with
// prefix, returning the rest of that line.
func startProc(t *testing.T, bin, prefix string, args ...string) (*proc, string) {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = cleanEnv()
	pr, pw := io.Pipe()
	p.cmd.Stdout = pw
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(s.Text() + "\n")
			p.mu.Unlock()
			if rest, ok := strings.CutPrefix(s.Text(), prefix); ok {
				select {
				case found <- rest:
				default:
				}
			}
		}
	}()
	go func() { p.cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	select {
	case rest := <-found:
		return p, rest
	case <-p.done:
		t.Fatalf("%q exited before printing %q:\n%s%s", args, prefix, p.out(), p.errs())
	case <-time.After(30 * time.Second):
		t.Fatalf("%q did not print %q", args, prefix)
	}
	return nil, ""
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("did not stop")
	}
}

func (p *proc) kill() { p.cmd.Process.Kill(); <-p.done }

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTTRAIL_") {
			env = append(env, kv)
		}
	}
	return env
}

// runBin runs the binary to its end.
func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errOut.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// witnessProc is a running agenttrail witness.
type witnessProc struct {
	*proc
	url, key, dir string
}

func startWitnessProc(t *testing.T, bin, dir, name, logSpec string) witnessProc {
	t.Helper()
	p, addr := startProc(t, bin, "agenttrail witness listening on ", "witness", "--data", dir, "--name", name, "--listen", "127.0.0.1:0", "--log", logSpec, "--log-level", "warn")
	var key string
	for deadline := time.Now().Add(5 * time.Second); key == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(p.out(), "\n") {
			if k, ok := strings.CutPrefix(l, "witness key: "); ok {
				key = k
			}
		}
	}
	return witnessProc{proc: p, url: addr, key: key, dir: dir}
}

// cosignedSize is the size of the newest checkpoint a witness cosigned.
func (w witnessProc) cosignedSize(t *testing.T, origin string) uint64 {
	t.Helper()
	resp, err := http.Get(witness.CheckpointURL(w.url, origin))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return 0
	}
	b, _ := io.ReadAll(resp.Body)
	h, err := commitment.ParseCheckpointBody(string(b[:strings.Index(string(b), "\n\n")+1]))
	if err != nil {
		t.Fatalf("witness checkpoint: %v\n%s", err, b)
	}
	return h.Size
}

// A server with two real witnesses: every checkpoint gets both
// cosignatures; restarted on a truncated or rewritten copy of its data, the
// witnesses refuse, the server reports it, and verifiers reject the forked
// checkpoint; kill -9 of a witness or the server loses no cosigned state.
func TestWitnessedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs witnesses")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	const origin = "witnessed.test/log"
	skey, vk, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(root, "log-signing.key")
	os.WriteFile(keyFile, []byte(skey+"\n"), 0o600)
	logSpec := origin + "=" + vk
	w1 := startWitnessProc(t, bin, filepath.Join(root, "w1"), "w1.test/witness", logSpec)
	w2 := startWitnessProc(t, bin, filepath.Join(root, "w2"), "w2.test/witness", logSpec)
	policy := []string{"--witness-key", w1.key, "--witness-key", w2.key, "--quorum", "2"}

	data := filepath.Join(root, "data")
	record := filepath.Join(root, "log-checkpoints.json")
	serveArgs := func(data, record string) []string {
		return []string{"serve", "--data", data, "--signing-key", keyFile, "--checkpoint-record", record, "--origin", origin,
			"--listen", "127.0.0.1:0", "--http-listen", "off", "--checkpoint-interval", "0", "--log-level", "warn",
			"--witness", "w1=" + w1.url + "+" + w1.key, "--witness", "w2=" + w2.url + "+" + w2.key, "--witness-quorum", "2"}
	}
	// A first start creates the log with its origin; keys are made offline.
	initLog := func(data, record string) {
		p, _ := startProc(t, bin, "agenttrail listening on ", serveArgs(data, record)...)
		p.stop(t)
	}
	initLog(data, record)
	agentKey := createKey(t, bin, data, "--signing-key", keyFile, "--principal", "bot", "--role", "agent")
	auditKey := createKey(t, bin, data, "--signing-key", keyFile, "--principal", "auditor", "--role", "compliance")
	srv, addr := startProc(t, bin, "agenttrail listening on ", serveArgs(data, record)...)
	c, err := client.New(addr, client.WithAPIKey(agentKey))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	auditor, err := client.New(addr, client.WithAPIKey(auditKey))
	if err != nil {
		t.Fatal(err)
	}
	defer auditor.Close()

	appendN := func(c *client.Client, prefix string, n int) {
		t.Helper()
		res, err := c.Append(context.Background(), someEvents(prefix, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	waitCosigned := func(c *client.Client, size uint64) *agenttrailv1.Checkpoint {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cp, err := c.CosignedCheckpoint(context.Background()); err == nil && cp.GetTreeSize() >= size {
				return cp
			}
		}
		t.Fatalf("no checkpoint of %d events cosigned in time\nserver: %s", size, srv.errs())
		return nil
	}

	latest := func(c *client.Client) uint64 {
		t.Helper()
		cp, err := c.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return cp.GetTreeSize()
	}
	// Normal operation: every new checkpoint gets both cosignatures. (The
	// log starts with the two key_change events of the keys.)
	for i, n := range []int{5, 3, 7} {
		appendN(c, fmt.Sprintf("a%d", i), n)
	}
	first := latest(auditor)
	cp := waitCosigned(auditor, first)
	p, _ := commitment.NewWitnessPolicy([]string{w1.key, w2.key}, 2)
	h, cosigs, err := commitment.OpenCosignedCheckpoint(cp.GetSignedNote(), vk, origin, p)
	if err != nil || h.Size < first || len(cosigs) != 2 {
		t.Fatalf("cosigned checkpoint: %v, size %d (want at least %d), %d cosignatures", err, h.Size, first, len(cosigs))
	}
	first = h.Size // reads are logged too: the log may have grown since
	expect(t, append([]string{"verify", "--addr", addr, "--key", auditKey, "--verifier-key", vk}, policy...), 0,
		[]string{"cosigned by w1.test/witness, w2.test/witness (quorum 2 of 2)", "verified events [0, "}, nil)
	// What an auditor keeps: the checkpoint a witness cosigned.
	saved := filepath.Join(root, "saved.note")
	os.WriteFile(saved, cp.GetSignedNote(), 0o600)

	// Kill -9 a witness while checkpoints are being submitted, and restart
	// it on its directory: it keeps every cosignature it gave.
	stopAppends := make(chan struct{})
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		for i := 0; ; i++ {
			select {
			case <-stopAppends:
				return
			default:
			}
			res, err := c.Append(context.Background(), someEvents(fmt.Sprintf("k%d", i), 2))
			if err != nil || res[0].Err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	before := w1.cosignedSize(t, origin)
	w1.kill()
	close(stopAppends)
	<-appended
	w1 = startWitnessProc(t, bin, w1.dir, "w1.test/witness", logSpec)
	if after := w1.cosignedSize(t, origin); after < before {
		t.Fatalf("the witness killed at %d events came back at %d", before, after)
	}
	// The restarted witness listens elsewhere: restart the server to use it,
	// killing it -9 mid-submission first.
	appendN(c, "b", 4)
	srv.kill()
	c.Close()
	auditor.Close()
	cosignedBefore := readRecordSize(t, record)
	srv, addr = startProc(t, bin, "agenttrail listening on ", serveArgs(data, record)...)
	c, _ = client.New(addr, client.WithAPIKey(agentKey))
	auditor, _ = client.New(addr, client.WithAPIKey(auditKey))
	if cp, err := auditor.CosignedCheckpoint(context.Background()); err != nil || cp.GetTreeSize() < cosignedBefore {
		t.Fatalf("after kill -9 of the server, the cosigned checkpoint is %d (%v), it was %d", cp.GetTreeSize(), err, cosignedBefore)
	}
	appendN(c, "c", 2)
	witnessed := latest(auditor)
	waitCosigned(auditor, witnessed)
	srv.stop(t)
	c.Close()
	auditor.Close()

	// The attacks: the server restarted on a truncated copy, then on a
	// rewritten one, holding the signing key but not the record.
	t.Run("truncated copy", func(t *testing.T) {
		forged := filepath.Join(t.TempDir(), "data")
		copyDir(t, data, forged)
		mk, err := store.ReadMasterKeyFile(defaultMasterKeyFile(forged))
		if err != nil {
			t.Fatal(err)
		}
		tp, err := badger.Tamper(badger.URL(forged), mk.StorageKey())
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.Truncate(7); err != nil {
			t.Fatal(err)
		}
		tp.Close()
		// With the record beside the key, the server refuses to start.
		_, errOut, code := runBin(t, bin, serveArgs(forged, record)...)
		if code != 1 || !strings.Contains(errOut, "the store holds 7 events") {
			t.Fatalf("serve on a truncated copy with the record: exit %d\n%s", code, errOut)
		}
		// Without it, it starts, and the witnesses refuse its checkpoints.
		fs, addr := startProc(t, bin, "agenttrail listening on ", serveArgs(forged, filepath.Join(t.TempDir(), "rec.json"))...)
		waitLog(t, fs, "witness did not cosign", "truncated or replaced")
		expect(t, append([]string{"verify", "--addr", addr, "--key", auditKey, "--verifier-key", vk}, policy...), 1, nil,
			[]string{"no checkpoint cosigned by the witnesses"})
		expect(t, []string{"verify", "--addr", addr, "--key", auditKey, "--verifier-key", vk, "--checkpoint", saved}, 1, nil,
			[]string{"not consistent with the trusted checkpoint", "rolled back"})
		fs.stop(t)
		expect(t, []string{"verify", "--data", forged, "--verifier-key", vk, "--checkpoint", saved}, 1, nil,
			[]string{fmt.Sprintf("events, fewer than the %d of the trusted checkpoint", first)})
	})
	t.Run("rewritten copy", func(t *testing.T) {
		forged := filepath.Join(t.TempDir(), "data")
		rec := filepath.Join(t.TempDir(), "rec.json")
		initLog(forged, rec)
		fk := createKey(t, bin, forged, "--signing-key", keyFile, "--checkpoint-record", rec, "--principal", "bot", "--role", "agent")
		ak := createKey(t, bin, forged, "--signing-key", keyFile, "--checkpoint-record", rec, "--principal", "auditor", "--role", "compliance")
		fs, addr := startProc(t, bin, "agenttrail listening on ", serveArgs(forged, rec)...)
		fc, err := client.New(addr, client.WithAPIKey(fk))
		if err != nil {
			t.Fatal(err)
		}
		defer fc.Close()
		// A longer log of other events, under the same origin and key.
		for n := uint64(2); n < witnessed+10; n += 50 {
			appendN(fc, fmt.Sprintf("f%d", n), 50)
		}
		waitLog(t, fs, "witness did not cosign", "this log is not the one it witnessed (rewritten or replaced)")
		expect(t, append([]string{"verify", "--addr", addr, "--key", ak, "--verifier-key", vk}, policy...), 1, nil,
			[]string{"no checkpoint cosigned by the witnesses"})
		expect(t, []string{"verify", "--addr", addr, "--key", ak, "--verifier-key", vk, "--checkpoint", saved}, 1, nil,
			[]string{"not consistent with the trusted checkpoint", "bad proof"})
		fs.stop(t)
		// The witnesses kept the forked checkpoints as evidence.
		resp, err := http.Get(strings.Replace(witness.CheckpointURL(w2.url, origin), "/checkpoint?", "/evidence?", 1))
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(ev), "reason: ") {
			t.Errorf("witness evidence: %s", ev)
		}
	})
	// A forked checkpoint, signed by the log's key, with or without the
	// genuine cosignatures copied onto it, fails under the witness policy.
	fork, _ := commitment.SignCheckpoint(mustSigner(t, skey), commitment.TreeHead{Origin: origin, Size: 15, Root: [32]byte{1}})
	if _, _, err := commitment.OpenCosignedCheckpoint(fork, vk, origin, p); !errors.Is(err, commitment.ErrNoQuorum) {
		t.Errorf("a forked checkpoint without cosignatures: %v", err)
	}
	genuine, _ := os.ReadFile(saved)
	withCosigs := append(fork, genuine[strings.Index(string(genuine), "\n\n")+2+strings.Index(string(genuine[strings.Index(string(genuine), "\n\n")+2:]), "\n")+1:]...)
	if _, _, err := commitment.OpenCosignedCheckpoint(withCosigs, vk, origin, p); !errors.Is(err, commitment.ErrBadSignature) {
		t.Errorf("a forked checkpoint with the genuine cosignatures: %v", err)
	}
	// The Python and TypeScript verifiers reject them too, and accept the
	// genuine one.
	otherVerifiers(t, root, map[string][]byte{"genuine": genuine, "fork": fork, "fork_with_cosignatures": withCosigs}, vk, origin,
		[]string{w1.key, w2.key}, map[string]string{"genuine": "ok", "fork": "no_quorum", "fork_with_cosignatures": "bad_signature"})
}

// otherVerifiers runs the Python and TypeScript verifiers of the clients on
// notes under a witness policy (quorum: all), and checks the outcome of
// each: "ok" or an error code. A toolchain that is not installed (bash
// .ci/setup installs both) is skipped with a log line.
func otherVerifiers(t *testing.T, dir string, notes map[string][]byte, vk, origin string, witnessKeys []string, want map[string]string) {
	t.Helper()
	var names []string
	for name, n := range notes {
		os.WriteFile(filepath.Join(dir, name+".note"), n, 0o600)
		names = append(names, name)
	}
	keys := strings.Join(witnessKeys, ",")
	py := `import sys
from agenttrail import verify
d, vk, origin, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
for name in sys.argv[5:]:
    try:
        verify.verify_cosigned_checkpoint(open(f"{d}/{name}.note", "rb").read(), vk, origin, keys, len(keys))
        print(name, "ok")
    except verify.VerificationError as e:
        print(name, e.code)
`
	ts := `import { readFileSync } from "node:fs";
import { verifyCosignedCheckpoint, VerificationError } from "./src/verify.ts";
const [d, vk, origin, keyList, ...names] = process.argv.slice(1); // node -e: no script path
const keys = keyList.split(",");
for (const name of names) {
  try {
    verifyCosignedCheckpoint(new Uint8Array(readFileSync(d + "/" + name + ".note")), vk, origin, keys, keys.length);
    console.log(name, "ok");
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    console.log(name, e.code);
  }
}
`
	python, _ := filepath.Abs("../../clients/python/.venv/bin/python")
	tsDir, _ := filepath.Abs("../../clients/typescript")
	tsx := filepath.Join(tsDir, "node_modules", "tsx")
	runs := []struct {
		lang, tool string
		cmd        *exec.Cmd
	}{
		{"python", python, exec.Command(python, append([]string{"-c", py, dir, vk, origin, keys}, names...)...)},
		{"typescript", tsx, exec.Command("node", append([]string{"--import", "tsx", "--input-type=module", "-e", ts, "--", dir, vk, origin, keys}, names...)...)},
	}
	for _, r := range runs {
		if _, err := os.Stat(r.tool); err != nil {
			t.Logf("%s verifier not installed (run bash .ci/setup): skipped", r.lang)
			continue
		}
		r.cmd.Dir = tsDir
		if r.lang == "python" {
			src, _ := filepath.Abs("../../clients/python/src")
			r.cmd.Env = append(os.Environ(), "PYTHONPATH="+src)
		}
		out, err := r.cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s verifier: %v\n%s", r.lang, err, out)
			continue
		}
		for name, w := range want {
			if !strings.Contains(string(out), name+" "+w+"\n") {
				t.Errorf("%s verifier: %s should be %s:\n%s", r.lang, name, w, out)
			}
		}
	}
}

func mustSigner(t *testing.T, skey string) note.Signer {
	s, _, err := commitment.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitLog waits for a process's stderr to hold the strings.
func waitLog(t *testing.T, p *proc, want ...string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(p.errs(), w)
		}
		if ok {
			return
		}
	}
	t.Fatalf("stderr lacks %q:\n%s", want, p.errs())
}

// readRecordSize is the size of the cosigned checkpoint in a record file.
func readRecordSize(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, `"cosigned": "`)
	if i < 0 {
		return 0
	}
	lines := strings.SplitN(s[i+len(`"cosigned": "`):], `\n`, 3)
	var n uint64
	fmt.Sscan(lines[1], &n)
	return n
}

// copyDir copies a data directory, and the master key beside it.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if b, err := os.ReadFile(defaultMasterKeyFile(from)); err == nil {
		if err := os.WriteFile(defaultMasterKeyFile(to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
