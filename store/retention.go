package store

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// RetentionPolicy keeps the content of matching events for a duration after
// the server received them; then the retention job destroys it. Set fields
// must all match. An event several policies match expires under the one
// that keeps it longest. Erasure, retention, legal hold and policy records
// never expire, nor does content a legal hold covers.
type RetentionPolicy struct {
	// Name names the policy in Retention events: 1 to 64 characters from
	// [A-Za-z0-9._-], unique in its set.
	Name string
	// AgentID matches the events of one agent; empty matches every agent.
	AgentID string
	// Kinds matches events of these kinds; empty matches every kind that
	// may expire.
	Kinds []agenttrailv1.EventKind
	// LabelKey matches events with this label, and LabelValue (when set)
	// with this value of it.
	LabelKey, LabelValue string
	// KeepFor is how long content is kept: at least MinRetention.
	KeepFor time.Duration
}

// MinRetention is the shortest a retention policy keeps content.
const MinRetention = 24 * time.Hour

// MaxRetentionPolicies bounds a set of retention policies.
const MaxRetentionPolicies = 100

// RetentionPolicies is a version of the retention policies.
type RetentionPolicies struct {
	// Version counts the changes, from 1; 0 means never set.
	Version  uint64
	Policies []RetentionPolicy
	// Index is the log index of the RetentionPolicyChange event that set
	// them; SetBy and SetAt who and when.
	Index uint64
	SetBy string
	SetAt time.Time
}

var policyName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// checkPolicies checks a set of policies, naming the first field at fault.
func checkPolicies(ps []RetentionPolicy) error {
	if len(ps) > MaxRetentionPolicies {
		return fmt.Errorf("%w: policies: at most %d", ErrInvalidArgument, MaxRetentionPolicies)
	}
	names := map[string]bool{}
	for i, p := range ps {
		at := fmt.Sprintf("policies[%d]", i)
		switch {
		case !policyName.MatchString(p.Name):
			return fmt.Errorf("%w: %s.name must be 1 to 64 characters from [A-Za-z0-9._-]", ErrInvalidArgument, at)
		case names[p.Name]:
			return fmt.Errorf("%w: %s.name %q is used by an earlier policy", ErrInvalidArgument, at, p.Name)
		case p.AgentID != "" && !event.IsID(p.AgentID):
			return fmt.Errorf("%w: %s.agent_id must be an id: 1 to %d characters from [A-Za-z0-9._:-]", ErrInvalidArgument, at, event.MaxIDLen)
		case p.KeepFor < MinRetention:
			return fmt.Errorf("%w: %s.keep_for must be at least %s", ErrInvalidArgument, at, MinRetention)
		case p.KeepFor > 100*365*24*time.Hour:
			return fmt.Errorf("%w: %s.keep_for must be at most 100 years", ErrInvalidArgument, at)
		case len(p.LabelKey) > 256 || len(p.LabelValue) > 1024:
			return fmt.Errorf("%w: %s: label_key must be at most 256 bytes and label_value 1024", ErrInvalidArgument, at)
		case p.LabelKey == "" && p.LabelValue != "":
			return fmt.Errorf("%w: %s.label_value needs a label_key", ErrInvalidArgument, at)
		}
		names[p.Name] = true
		if len(p.Kinds) > 32 {
			return fmt.Errorf("%w: %s.kinds: at most 32", ErrInvalidArgument, at)
		}
		for _, k := range p.Kinds {
			if _, ok := agenttrailv1.EventKind_name[int32(k)]; !ok || k == 0 {
				return fmt.Errorf("%w: %s.kinds: each must be a defined EventKind other than EVENT_KIND_UNSPECIFIED", ErrInvalidArgument, at)
			}
			if event.IsLifecycleKind(k) {
				return fmt.Errorf("%w: %s.kinds: %s records never expire", ErrInvalidArgument, at, kindShort(k))
			}
		}
	}
	return nil
}

// policyMessage and policyFromMessage convert a policy to and from the wire.
func policyMessage(p RetentionPolicy) *agenttrailv1.RetentionPolicy {
	return &agenttrailv1.RetentionPolicy{
		Name: p.Name, AgentId: p.AgentID, Kinds: slices.Clone(p.Kinds),
		LabelKey: p.LabelKey, LabelValue: p.LabelValue, KeepFor: durationpb.New(p.KeepFor),
	}
}

// PolicyFromMessage converts a policy from the wire; KeepFor is zero when
// keep_for is missing or invalid, which checkPolicies refuses.
func PolicyFromMessage(m *agenttrailv1.RetentionPolicy) RetentionPolicy {
	p := RetentionPolicy{Name: m.GetName(), AgentID: m.GetAgentId(), Kinds: slices.Clone(m.GetKinds()), LabelKey: m.GetLabelKey(), LabelValue: m.GetLabelValue()}
	if m.GetKeepFor().CheckValid() == nil {
		p.KeepFor = m.GetKeepFor().AsDuration()
	}
	return p
}

// PolicyMessage converts a policy to the wire.
func PolicyMessage(p RetentionPolicy) *agenttrailv1.RetentionPolicy { return policyMessage(p) }

func policiesFrom(e *Entry, c *agenttrailv1.RetentionPolicyChange) RetentionPolicies {
	ps := RetentionPolicies{Version: c.GetVersion(), Index: e.Index, SetBy: c.GetPrincipal(), SetAt: e.ReceivedAt}
	for _, m := range c.GetPolicies() {
		ps.Policies = append(ps.Policies, PolicyFromMessage(m))
	}
	return ps
}

// Retention returns the retention policies in force.
func (s *Store) Retention() RetentionPolicies {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	ps := s.policies
	ps.Policies = slices.Clone(ps.Policies)
	return ps
}

// SetRetention replaces the retention policies with a new version, on
// behalf of principal, and records the whole new set in the log with a
// RetentionPolicyChange event. With ifVersion, the change applies only if
// that version is in force (ErrConflict otherwise).
func (s *Store) SetRetention(ctx context.Context, principal string, ps []RetentionPolicy, ifVersion *uint64) (RetentionPolicies, error) {
	if err := checkPolicies(ps); err != nil {
		return RetentionPolicies{}, err
	}
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if err := s.loadLifecycleState(ctx); err != nil {
		return RetentionPolicies{}, err
	}
	if ifVersion != nil && *ifVersion != s.policies.Version {
		return RetentionPolicies{}, fmt.Errorf("%w: the retention policies are at version %d, not %d", ErrConflict, s.policies.Version, *ifVersion)
	}
	c := &agenttrailv1.RetentionPolicyChange{Version: s.policies.Version + 1, Principal: principal}
	for _, p := range ps {
		c.Policies = append(c.Policies, policyMessage(p))
	}
	r, err := s.appendServerEvent(ctx, s.lifecycleEvent(&agenttrailv1.Event_RetentionPolicy{RetentionPolicy: c}))
	if err != nil {
		return RetentionPolicies{}, err
	}
	s.policies = RetentionPolicies{Version: c.Version, Policies: slices.Clone(ps), Index: r.Index, SetBy: principal, SetAt: r.ReceivedAt}
	return s.policies, nil
}

// RetentionRun is what one policy expired in one run of the retention job.
type RetentionRun struct {
	Policy string
	// Cutoff: content of matching events received before it was destroyed.
	Cutoff time.Time
	Count  uint64
	Ranges []IndexRange
	// Index is the log index of the Retention event.
	Index uint64
}

// matchesBase reports whether a policy matches an event by its header
// (agent and kind); labels are content, checked apart.
func (p RetentionPolicy) matchesBase(h *agenttrailv1.Event) bool {
	k := event.KindOf(h)
	if event.IsLifecycleKind(k) || k == agenttrailv1.EventKind_EVENT_KIND_KEY_CHANGE {
		return false
	}
	if p.AgentID != "" && h.GetAgentId() != p.AgentID {
		return false
	}
	return len(p.Kinds) == 0 || slices.Contains(p.Kinds, k)
}

func (p RetentionPolicy) matchesLabels(labels map[string]string) bool {
	if p.LabelKey == "" {
		return true
	}
	v, ok := labels[p.LabelKey]
	return ok && (p.LabelValue == "" || v == p.LabelValue)
}

// ApplyRetention runs the retention job once, at the store's clock: for
// every policy, it destroys the content of the events it expires (those
// received before now minus the longest keep_for among the policies that
// match them, not erased yet, not under a legal hold), writing one
// Retention event per policy that expires anything (more when one event
// could not name them all), before the keys go.
func (s *Store) ApplyRetention(ctx context.Context) ([]RetentionRun, error) {
	if s.keys == nil {
		return nil, nil // plaintext content cannot be crypto-shredded
	}
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if err := s.loadLifecycleState(ctx); err != nil {
		return nil, err
	}
	ps := s.policies
	if len(ps.Policies) == 0 {
		return nil, nil
	}
	now := s.cfg.now()
	shortest := slices.MinFunc(ps.Policies, func(a, b RetentionPolicy) int { return cmpDuration(a.KeepFor, b.KeepFor) })
	// Events are received in log order (the sequencer never lets
	// received-at go back while it runs), so those old enough to expire
	// under any policy come before the first received after now minus the
	// shortest keep_for.
	hi, err := s.receivedBefore(ctx, now.Add(-shortest.KeepFor))
	if err != nil {
		return nil, err
	}
	expire := map[string][]uint64{}
	err = s.reading(ctx, func() error {
		for raw, err := range s.d.Scan(ctx, ScanRequest{Filter: &Filter{}, Lo: 0, Hi: hi}) {
			if err != nil {
				return err
			}
			if _, ok := s.cov.erasedBy(raw.Index); ok {
				continue
			}
			e, err := decodeHeader(raw)
			if err != nil {
				return err
			}
			p, ok, err := s.expiresUnder(ctx, ps.Policies, e, now)
			if err != nil {
				return err
			}
			if ok {
				if _, held := s.heldBy(e.Header); !held {
					expire[p.Name] = append(expire[p.Name], e.Index)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var runs []RetentionRun
	for _, p := range ps.Policies {
		idx := expire[p.Name]
		if len(idx) == 0 {
			continue
		}
		// One Retention event per policy, or per part of a run too large
		// for one event.
		rs := rangesOf(idx)
		for len(rs) > 0 {
			part := rs[:min(len(rs), maxLifecycleRanges)]
			rs = rs[len(part):]
			run, err := s.expire(ctx, ps.Version, p, now.Add(-p.KeepFor), part)
			if err != nil {
				return runs, err
			}
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// expiresUnder returns the policy under which an event expires at now: of
// the policies that match it, the one that keeps it longest.
func (s *Store) expiresUnder(ctx context.Context, ps []RetentionPolicy, e *Entry, now time.Time) (RetentionPolicy, bool, error) {
	var labels map[string]string
	labelsRead := false
	var best RetentionPolicy
	found := false
	for _, p := range ps {
		if !p.matchesBase(e.Header) {
			continue
		}
		if p.LabelKey != "" {
			if !labelsRead {
				full, err := s.readEntry(ctx, e.Index, true)
				if err != nil {
					return best, false, err
				}
				ev, err := full.Event()
				if err != nil {
					return best, false, err
				}
				labels, labelsRead = ev.GetLabels(), true
			}
			if !p.matchesLabels(labels) {
				continue
			}
		}
		if !found || p.KeepFor > best.KeepFor {
			best, found = p, true
		}
	}
	return best, found && e.ReceivedAt.Before(now.Add(-best.KeepFor)), nil
}

// receivedBefore returns an index below which every event was received
// before t, by binary search on the received-at times in the headers.
func (s *Store) receivedBefore(ctx context.Context, t time.Time) (uint64, error) {
	size, _ := s.Size()
	var searchErr error
	n := sort.Search(int(size), func(i int) bool {
		if searchErr != nil {
			return true
		}
		var e *Entry
		searchErr = s.reading(ctx, func() error {
			var err error
			e, err = s.readEntry(ctx, uint64(i), false)
			return err
		})
		return searchErr != nil || !e.ReceivedAt.Before(t)
	})
	return uint64(n), searchErr
}

// expire logs and carries out one policy's expiry of events.
func (s *Store) expire(ctx context.Context, version uint64, p RetentionPolicy, cutoff time.Time, rs []IndexRange) (RetentionRun, error) {
	run := RetentionRun{Policy: p.Name, Cutoff: cutoff, Count: countRanges(rs), Ranges: rs}
	in := intent{eventKeys: rs}
	if TestHookErasure != nil {
		TestHookErasure("logging", 0)
	}
	op := &lifecycleOp{build: func(q *sequencer, next uint64) (opPlan, error) {
		ev := s.lifecycleEvent(&agenttrailv1.Event_Retention{Retention: &agenttrailv1.Retention{
			Policy: p.Name, Cutoff: timestamppb.New(cutoff), FromIndex: rs[0].First, ToIndex: rs[len(rs)-1].Last,
			EventsAffected: run.Count, Ranges: rangeMessages(rs), PolicyVersion: version,
		}})
		return opPlan{
			event:     ev,
			records:   []LifecycleRecord{{Name: lifecycleName(lifecycleIntent, next), Value: encodeIntent(in)}},
			committed: func(index uint64) { s.cov.add(index, rs); s.claims.add(index, rs) },
		}, nil
	}}
	r, err := s.runOp(ctx, op)
	if err != nil {
		return run, err
	}
	run.Index = r.Index
	if TestHookErasure != nil {
		TestHookErasure("destroying", r.Index)
	}
	err = s.reading(ctx, func() error { return s.destroy(context.WithoutCancel(ctx), r.Index, in) })
	if err != nil {
		return run, fmt.Errorf("the expiry is logged at index %d and will finish when the store next opens: %w", r.Index, err)
	}
	s.log.InfoContext(ctx, "retention expired content", slog.String("policy", p.Name), slog.Uint64("events", run.Count), slog.Uint64("event_index", r.Index))
	return run, nil
}

// retentionJob runs ApplyRetention on a timer until the store closes.
type retentionJob struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (s *Store) startRetention() {
	if s.cfg.retentionInterval == 0 || s.keys == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.retention.cancel, s.retention.done = cancel, make(chan struct{})
	go func() {
		defer close(s.retention.done)
		t := time.NewTicker(s.cfg.retentionInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.ApplyRetention(ctx); err != nil && ctx.Err() == nil {
					s.log.ErrorContext(ctx, "retention run failed", slog.Any("error", err))
				}
			}
		}
	}()
}

func (s *Store) stopRetention() {
	s.retention.once.Do(func() {
		if s.retention.cancel != nil {
			s.retention.cancel()
			<-s.retention.done
		}
	})
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
