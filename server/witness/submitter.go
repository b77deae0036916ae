package witness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agenttrail/agenttrail/server/metrics"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// Log is what a Submitter needs of the log it has witnessed: *store.Store.
type Log interface {
	VerifierKey() commitment.VerifierKey
	LatestCheckpoint() store.Checkpoint
	Watch() (uint64, <-chan struct{})
	ConsistencyProof(ctx context.Context, from, to uint64) ([][store.HashSize]byte, error)
	RecordCosigned(ctx context.Context, note []byte) error
	LatestCosigned() store.Checkpoint
}

// The outcomes of a submission, as the witness_submissions counter labels
// them.
const (
	OutcomeCosigned    = "cosigned"    // the witness cosigned
	OutcomeConflict    = "conflict"    // it cosigned a larger tree or another root at this size (409)
	OutcomeRefused     = "refused"     // any other refusal: a bad proof (422), an unknown log (404), a signature it does not accept (403)
	OutcomeUnreachable = "unreachable" // no answer
)

var outcomes = []string{OutcomeCosigned, OutcomeConflict, OutcomeRefused, OutcomeUnreachable}

// Submitter sends each new checkpoint of a log to its witnesses, with the
// consistency proof each needs, collects their cosignatures, and keeps the
// newest checkpoint that a quorum of them cosigned (recorded durably with
// Log.RecordCosigned). Appends never wait for it: it follows the log's
// checkpoints from its own goroutine. A witness that is down or refuses is
// logged, counted (Counts) and retried with backoff.
//
// All witnesses are asked about the same checkpoint in one round, so that
// their cosignatures meet on one note.
type Submitter struct {
	log       Log
	logKey    string
	witnesses []*Client
	quorum    int
	l         *slog.Logger

	mu       sync.Mutex
	cosigned store.Checkpoint // the newest meeting the quorum
	state    []witnessState

	counts  []map[string]*atomic.Uint64 // per witness, per outcome
	metrics *metrics.Metrics            // nil: none
}

type witnessState struct {
	cosignedAt time.Time // when it last cosigned
	known      uint64    // the size the witness last cosigned, as far as we know
	lines      []byte    // its cosignature line of lineSize
	size       uint64    // the size of lines
	retryAt    time.Time // not before, after a failure
	backoff    time.Duration
	failing    bool
}

// NewSubmitter returns a submitter of a log's checkpoints to witnesses, of
// which quorum must cosign a checkpoint (0 means all).
func NewSubmitter(log Log, witnesses []*Client, quorum int, l *slog.Logger) (*Submitter, error) {
	if len(witnesses) == 0 {
		return nil, errors.New("witness: no witnesses")
	}
	if quorum == 0 {
		quorum = len(witnesses)
	}
	if quorum < 1 || quorum > len(witnesses) {
		return nil, fmt.Errorf("witness: quorum %d of %d witnesses", quorum, len(witnesses))
	}
	names := map[string]bool{}
	for _, w := range witnesses {
		if names[w.Name] {
			return nil, fmt.Errorf("witness: the name %s is given twice", w.Name)
		}
		names[w.Name] = true
	}
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	s := &Submitter{log: log, logKey: log.VerifierKey().String(), witnesses: witnesses, quorum: quorum, l: l,
		cosigned: log.LatestCosigned(), state: make([]witnessState, len(witnesses))}
	for range witnesses {
		m := map[string]*atomic.Uint64{}
		for _, o := range outcomes {
			m[o] = new(atomic.Uint64)
		}
		s.counts = append(s.counts, m)
	}
	return s, nil
}

// Policy returns the witness policy the submitter works to: its witnesses'
// keys and its quorum.
func (s *Submitter) Policy() *commitment.WitnessPolicy {
	p := &commitment.WitnessPolicy{Quorum: s.quorum}
	for _, w := range s.witnesses {
		p.Witnesses = append(p.Witnesses, w.Key)
	}
	return p
}

// Cosigned returns the newest checkpoint a quorum of the witnesses
// cosigned: the log's signed note with their cosignature lines. Its Note is
// nil when there is none yet.
func (s *Submitter) Cosigned() store.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cosigned
}

// Count is one counter of submissions: how many ended with an outcome at a
// witness. Exported as agenttrail_witness_submissions_total{witness,
// outcome} where metrics are served.
type Count struct {
	Witness, Outcome string
	N                uint64
}

// Counts returns the submission counters, by witness and outcome.
func (s *Submitter) Counts() []Count {
	var out []Count
	for i, w := range s.witnesses {
		for _, o := range outcomes {
			out = append(out, Count{Witness: w.Name, Outcome: o, N: s.counts[i][o].Load()})
		}
	}
	return out
}

// ReportTo records the submissions and each witness's lag in m
// (agenttrail_witness_submissions_total, agenttrail_witness_lag_seconds).
// Call it before Run.
func (s *Submitter) ReportTo(m *metrics.Metrics) { s.metrics = m }

// Run submits checkpoints until ctx ends.
func (s *Submitter) Run(ctx context.Context) {
	var done uint64 // the size of the last round every witness answered
	for ctx.Err() == nil {
		_, changed := s.log.Watch()
		cp := s.log.LatestCheckpoint()
		if cp.Note != nil && (cp.Size > done || s.retryDue(cp.Size)) {
			if s.round(ctx, cp) {
				done = cp.Size
			}
			continue
		}
		var wake <-chan time.Time
		var t *time.Timer
		if at, ok := s.nextRetry(cp.Size); ok {
			t = time.NewTimer(time.Until(at))
			wake = t.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-wake:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// retryDue reports whether a witness that has not cosigned size is due.
func (s *Submitter) retryDue(size uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, st := range s.state {
		if st.size != size && !now.Before(st.retryAt) {
			return true
		}
	}
	return false
}

// nextRetry returns when the next witness that has not cosigned size may
// be asked again.
func (s *Submitter) nextRetry(size uint64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var at time.Time
	for _, st := range s.state {
		if st.size != size && st.failing && (at.IsZero() || st.retryAt.Before(at)) {
			at = st.retryAt
		}
	}
	return at, !at.IsZero()
}

// round asks every witness that is due and has not cosigned cp yet, and
// records the checkpoint when a quorum cosigned it. It reports whether
// every witness asked answered with a cosignature.
func (s *Submitter) round(ctx context.Context, cp store.Checkpoint) bool {
	var wg sync.WaitGroup
	now := time.Now()
	results := make([]error, len(s.witnesses))
	asked := make([]bool, len(s.witnesses))
	for i := range s.witnesses {
		s.mu.Lock()
		st := s.state[i]
		s.mu.Unlock()
		if st.size == cp.Size || now.Before(st.retryAt) {
			continue
		}
		asked[i] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.submit(ctx, i, cp)
		}()
	}
	wg.Wait()
	all := true
	for i, a := range asked {
		if a && results[i] != nil {
			all = false
		}
	}
	s.collect(ctx, cp)
	return all
}

// submit asks one witness to cosign cp.
func (s *Submitter) submit(ctx context.Context, i int, cp store.Checkpoint) error {
	w := s.witnesses[i]
	s.mu.Lock()
	old := s.state[i].known
	s.mu.Unlock()
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if old > cp.Size {
			err = fmt.Errorf("%w: the witness cosigned a tree of %d events, more than the %d of this log: the log was truncated or replaced by an older copy", errConflict, old, cp.Size)
			break
		}
		var proof [][store.HashSize]byte
		if old > 0 && old < cp.Size {
			if proof, err = s.log.ConsistencyProof(ctx, old, cp.Size); err != nil {
				return err // the store is closing
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var cosigned []byte
		cosigned, err = w.AddCheckpoint(cctx, s.logKey, old, proof, cp.Note)
		cancel()
		var conflict *ConflictError
		if errors.As(err, &conflict) && conflict.Size != old {
			old = conflict.Size // learnt the witness's size: ask again
			continue
		}
		if err == nil {
			s.succeeded(i, cp, cosigned[len(cp.Note):])
			return nil
		}
		if errors.As(err, &conflict) {
			err = fmt.Errorf("%w: the witness cosigned another tree of %d events: this log was forked, rewritten or rolled back", errConflict, conflict.Size)
		}
		break
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.failed(i, old, cp, err)
	return err
}

var errConflict = errors.New("conflict")

func (s *Submitter) succeeded(i int, cp store.Checkpoint, line []byte) {
	s.counts[i][OutcomeCosigned].Add(1)
	s.metrics.WitnessSubmission(s.witnesses[i].Name, OutcomeCosigned)
	s.metrics.WitnessLag(s.witnesses[i].Name, 0)
	s.mu.Lock()
	st := &s.state[i]
	if st.failing {
		s.l.Info("witness cosigns again", slog.String("witness", s.witnesses[i].Name), slog.Uint64("tree_size", cp.Size))
	}
	*st = witnessState{known: cp.Size, lines: line, size: cp.Size, cosignedAt: time.Now()}
	s.mu.Unlock()
}

func (s *Submitter) failed(i int, old uint64, cp store.Checkpoint, err error) {
	w := s.witnesses[i]
	outcome := OutcomeUnreachable
	var refused *RefusedError
	switch {
	case errors.Is(err, errConflict):
		outcome = OutcomeConflict
	case errors.As(err, &refused):
		outcome = OutcomeRefused
		switch refused.Status {
		case http.StatusUnprocessableEntity:
			err = fmt.Errorf("the witness refuses: the consistency proof from the %d events it cosigned does not verify: this log is not the one it witnessed (rewritten or replaced): %w", old, err)
		case http.StatusForbidden:
			err = fmt.Errorf("the witness does not accept this log's signature: is the log's verifier key configured on the witness? %w", err)
		case http.StatusNotFound:
			err = fmt.Errorf("the witness does not follow this log's origin: %w", err)
		}
	}
	s.counts[i][outcome].Add(1)
	s.metrics.WitnessSubmission(w.Name, outcome)
	s.mu.Lock()
	st := &s.state[i]
	if !st.cosignedAt.IsZero() {
		s.metrics.WitnessLag(w.Name, time.Since(st.cosignedAt))
	}
	st.known = old
	st.failing = true
	st.backoff = min(max(2*st.backoff, time.Second), time.Minute)
	st.retryAt = time.Now().Add(st.backoff)
	backoff := st.backoff
	s.mu.Unlock()
	s.l.Error("witness did not cosign", slog.String("witness", w.Name), slog.String("outcome", outcome),
		slog.Uint64("tree_size", cp.Size), slog.Duration("retry_in", backoff), slog.Any("error", err))
}

// collect makes the cosigned checkpoint of cp when a quorum cosigned it.
func (s *Submitter) collect(ctx context.Context, cp store.Checkpoint) {
	s.mu.Lock()
	note := append([]byte(nil), cp.Note...)
	n := 0
	for _, st := range s.state {
		if st.size == cp.Size && st.lines != nil {
			note = append(note, st.lines...)
			n++
		}
	}
	newer := cp.Size > s.cosigned.Size || s.cosigned.Note == nil
	s.mu.Unlock()
	if n < s.quorum || !newer {
		return
	}
	if _, _, err := commitment.OpenCosignedCheckpoint(note, s.logKey, s.log.VerifierKey().Name, s.Policy()); err != nil {
		s.l.Error("the cosigned checkpoint does not verify", slog.Uint64("tree_size", cp.Size), slog.Any("error", err))
		return
	}
	if err := s.log.RecordCosigned(ctx, note); err != nil {
		s.l.Error("recording the cosigned checkpoint failed", slog.Uint64("tree_size", cp.Size), slog.Any("error", err))
		return
	}
	s.mu.Lock()
	if cp.Size > s.cosigned.Size || s.cosigned.Note == nil {
		s.cosigned = store.Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root, Note: note}
	}
	s.mu.Unlock()
	s.l.Debug("checkpoint cosigned by a quorum", slog.Uint64("tree_size", cp.Size), slog.Int("witnesses", n))
}
