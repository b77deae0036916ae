package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// LogConfig is a log a witness follows: its origin and the verifier key of
// its checkpoints.
type LogConfig struct {
	Origin      string
	VerifierKey string
}

// ParseLogConfig parses "ORIGIN=VERIFIER_KEY", as agenttrail witness --log
// takes it. The key's name must be the origin, as agenttrail logs name
// their keys.
func ParseLogConfig(s string) (LogConfig, error) {
	origin, key, ok := strings.Cut(s, "=")
	if !ok || origin == "" || key == "" {
		return LogConfig{}, fmt.Errorf("%q is not ORIGIN=VERIFIER_KEY", s)
	}
	if _, err := commitment.NewCheckpointVerifier(key, origin); err != nil {
		return LogConfig{}, fmt.Errorf("the verifier key of %s: %v", origin, err)
	}
	return LogConfig{Origin: origin, VerifierKey: key}, nil
}

// Witness is a C2SP tlog-witness: an http.Handler serving
//
//	POST /add-checkpoint        the witness protocol
//	GET  /checkpoint?origin=O   the latest checkpoint it cosigned for a log, with its cosignature
//	GET  /evidence?origin=O     the conflicting checkpoints it kept, as evidence
//
// It is safe for concurrent use: each log's check and record are one
// critical section, so two requests can never roll a log back.
type Witness struct {
	signer note.Signer
	key    commitment.WitnessKey
	log    *slog.Logger
	logs   map[string]*followed
	mux    *http.ServeMux
}

// followed is one log a witness follows.
type followed struct {
	cfg LogConfig
	v   *commitment.CheckpointVerifier
	nv  note.Verifier
	dir *logDir

	mu   sync.Mutex // held from the check to the record
	size uint64
	root [32]byte
}

// maxBody bounds a request: a checkpoint and at most 63 proof lines.
const maxBody = 64 << 10

// New returns a witness keeping its state in dir, cosigning with the note
// signer key skey (see commitment.NewWitnessSigner), for the logs given.
func New(dir, skey string, logs []LogConfig, log *slog.Logger) (*Witness, error) {
	if len(logs) == 0 {
		return nil, errors.New("witness: no log to follow")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	signer, key, err := commitment.NewWitnessSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	w := &Witness{signer: signer, key: key, log: log, logs: map[string]*followed{}, mux: http.NewServeMux()}
	for _, c := range logs {
		if _, dup := w.logs[c.Origin]; dup {
			return nil, fmt.Errorf("witness: the log %s is given twice", c.Origin)
		}
		v, err := commitment.NewCheckpointVerifier(c.VerifierKey, c.Origin)
		if err != nil {
			return nil, fmt.Errorf("witness: the key of %s: %w", c.Origin, err)
		}
		nv, err := note.NewVerifier(c.VerifierKey)
		if err != nil {
			return nil, fmt.Errorf("witness: the key of %s: %w", c.Origin, err)
		}
		d, err := openLogDir(dir, c.Origin)
		if err != nil {
			return nil, fmt.Errorf("witness: %w", err)
		}
		f := &followed{cfg: c, v: v, nv: nv, dir: d}
		latest, size, err := d.latest()
		if err != nil {
			return nil, fmt.Errorf("witness: reading the state of %s: %w", c.Origin, err)
		}
		if latest != nil {
			h, err := v.Open(latest)
			if err != nil || h.Size != size {
				return nil, fmt.Errorf("witness: the checkpoint of %s it cosigned last (size %d) does not verify: %v", c.Origin, size, err)
			}
			f.size, f.root = h.Size, h.Root
		}
		w.logs[c.Origin] = f
	}
	w.mux.HandleFunc("POST /add-checkpoint", w.addCheckpoint)
	w.mux.HandleFunc("GET /checkpoint", w.checkpoint)
	w.mux.HandleFunc("GET /evidence", w.evidence)
	return w, nil
}

// Key returns the witness's cosignature verifier key.
func (w *Witness) Key() commitment.WitnessKey { return w.key }

// Cosigned returns the size of the latest checkpoint cosigned for a log.
func (w *Witness) Cosigned(origin string) (uint64, bool) {
	f, ok := w.logs[origin]
	if !ok {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size, true
}

// ServeHTTP implements http.Handler.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// refusal is an answer other than a cosignature.
type refusal struct {
	code   int
	msg    string
	size   uint64 // for 409
	reason string // when the request is kept as evidence
}

func (w *Witness) addCheckpoint(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(rw, "reading the request failed", http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		http.Error(rw, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	sigs, ref := w.process(body)
	if ref != nil {
		w.log.Warn("checkpoint refused", slog.Int("status", ref.code), slog.String("reason", ref.msg))
		if ref.code == http.StatusConflict {
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", ref.size)
			return
		}
		http.Error(rw, ref.msg, ref.code)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Write(sigs)
}

// process checks an add-checkpoint request and cosigns it, or says why not.
func (w *Witness) process(body []byte) ([]byte, *refusal) {
	head, noteBytes, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, &refusal{code: http.StatusBadRequest, msg: "the body is not an old size line, proof lines, an empty line and a checkpoint"}
	}
	lines := strings.Split(string(head), "\n")
	oldStr, ok := strings.CutPrefix(lines[0], "old ")
	old, err := strconv.ParseUint(oldStr, 10, 64)
	if !ok || err != nil || strconv.FormatUint(old, 10) != oldStr {
		return nil, &refusal{code: http.StatusBadRequest, msg: "the first line is not \"old <size>\" in decimal"}
	}
	if len(lines)-1 > 63 {
		return nil, &refusal{code: http.StatusBadRequest, msg: "more than 63 consistency proof lines"}
	}
	var proof [][]byte
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != 32 {
			return nil, &refusal{code: http.StatusBadRequest, msg: "a consistency proof line is not the base64 of a 32-byte hash"}
		}
		proof = append(proof, h)
	}
	origin, _, _ := strings.Cut(string(noteBytes), "\n")
	f, ok := w.logs[origin]
	if !ok {
		return nil, &refusal{code: http.StatusNotFound, msg: "this witness does not follow that log"}
	}
	h, err := f.v.Open(noteBytes)
	switch {
	case errors.Is(err, commitment.ErrBadSignature), errors.Is(err, commitment.ErrNoSignature):
		return nil, &refusal{code: http.StatusForbidden, msg: "the checkpoint carries no valid signature by the log's key"}
	case err != nil:
		return nil, &refusal{code: http.StatusBadRequest, msg: "the checkpoint is malformed: " + err.Error()}
	}
	if old > h.Size {
		return nil, &refusal{code: http.StatusBadRequest, msg: "the old size is larger than the checkpoint's"}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	keep := func(ref *refusal) *refusal {
		if ref.reason != "" {
			if path, err := f.dir.saveEvidence(ref.reason, body); err != nil {
				w.log.Error("keeping evidence failed", slog.String("origin", origin), slog.Any("error", err))
			} else {
				w.log.Warn("conflicting checkpoint kept as evidence", slog.String("origin", origin), slog.String("file", path), slog.String("reason", ref.reason))
			}
		}
		return ref
	}
	switch {
	case h.Size < f.size:
		return nil, keep(&refusal{code: http.StatusConflict, size: f.size, msg: "a tree smaller than the one cosigned",
			reason: fmt.Sprintf("the log signed a checkpoint of %d events, smaller than the %d this witness cosigned", h.Size, f.size)})
	case old != f.size:
		return nil, &refusal{code: http.StatusConflict, size: f.size, msg: "the old size is not the size last cosigned"}
	case h.Size == f.size && h.Root != f.root && f.size > 0:
		return nil, keep(&refusal{code: http.StatusConflict, size: f.size, msg: "a fork: another root at the size cosigned",
			reason: fmt.Sprintf("the log signed a checkpoint of %d events with root %x, but this witness cosigned root %x at that size: a fork", h.Size, h.Root, f.root)})
	case old == 0 && len(proof) != 0:
		return nil, &refusal{code: http.StatusBadRequest, msg: "a proof from size 0 must be empty"}
	case old > 0:
		if err := commitment.CheckConsistency(old, h.Size, f.root, h.Root, proof); err != nil {
			return nil, keep(&refusal{code: http.StatusUnprocessableEntity, msg: "the consistency proof does not verify",
				reason: fmt.Sprintf("the log signed a checkpoint of %d events whose consistency proof from the %d this witness cosigned does not verify: a fork or a rewritten log", h.Size, old)})
		}
	}
	line, err := commitment.CosignatureLine(string(noteBytes[:len(noteBytes)-len(sigLines(noteBytes))]), w.signer)
	if err != nil {
		return nil, &refusal{code: http.StatusInternalServerError, msg: "cosigning failed"}
	}
	cosigned := append(bytes.Clone(noteBytes), line...)
	if h.Size > f.size || f.size == 0 {
		if err := f.dir.saveCosigned(h.Size, cosigned); err != nil {
			w.log.Error("recording the cosigned checkpoint failed", slog.String("origin", origin), slog.Any("error", err))
			return nil, &refusal{code: http.StatusInternalServerError, msg: "recording the checkpoint failed"}
		}
		f.size, f.root = h.Size, h.Root
	}
	w.log.Info("cosigned", slog.String("origin", origin), slog.Uint64("tree_size", h.Size))
	return line, nil
}

// sigLines returns the signature lines of a note (after its last blank
// line); the note was opened already, so it is well formed.
func sigLines(n []byte) []byte {
	i := bytes.LastIndex(n, []byte("\n\n"))
	return n[i+1:]
}

func (w *Witness) follow(r *http.Request) (*followed, error) {
	origin := r.URL.Query().Get("origin")
	f, ok := w.logs[origin]
	if !ok {
		return nil, fmt.Errorf("this witness does not follow the log %q", origin)
	}
	return f, nil
}

// checkpoint serves the latest checkpoint cosigned for a log: the log's
// signed note with this witness's cosignature.
func (w *Witness) checkpoint(rw http.ResponseWriter, r *http.Request) {
	f, err := w.follow(r)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusNotFound)
		return
	}
	f.mu.Lock()
	n, _, err := f.dir.latest()
	f.mu.Unlock()
	switch {
	case err != nil:
		http.Error(rw, "reading the state failed", http.StatusInternalServerError)
	case n == nil:
		http.Error(rw, "no checkpoint of this log has been cosigned yet", http.StatusNotFound)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(n)
	}
}

// evidence serves the conflicting checkpoints kept for a log, each with
// why it was kept, separated by a line of dashes.
func (w *Witness) evidence(rw http.ResponseWriter, r *http.Request) {
	f, err := w.follow(r)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusNotFound)
		return
	}
	ev, err := f.dir.evidence()
	if err != nil {
		http.Error(rw, "reading the evidence failed", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for i, e := range ev {
		if i > 0 {
			io.WriteString(rw, "\n-----\n\n")
		}
		rw.Write(e)
	}
}

// CheckpointURL is the URL of a witness's latest cosigned checkpoint of a
// log, under the witness's base URL.
func CheckpointURL(base, origin string) string {
	return strings.TrimSuffix(base, "/") + "/checkpoint?origin=" + url.QueryEscape(origin)
}
