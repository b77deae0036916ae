package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

// memKeys is a CredentialStore and KeyWriter in memory that counts lookups.
type memKeys struct {
	mu      sync.Mutex
	creds   map[string]store.Credential
	lookups int
}

func (m *memKeys) Credential(_ context.Context, id string) (store.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	c, ok := m.creds[id]
	if !ok {
		return c, store.ErrNotFound
	}
	return c, nil
}

func (m *memKeys) AddCredential(_ context.Context, c store.Credential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creds[c.ID] = c
	return nil
}

func (m *memKeys) RevokeCredential(_ context.Context, id string, at time.Time) (store.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.creds[id]
	c.RevokedAt = at
	m.creds[id] = c
	return c, nil
}

func (m *memKeys) Append(context.Context, string, []*agenttrailv1.Event) ([]store.Result, error) {
	return []store.Result{{}}, nil
}

// TestStillValidLooksUpOnceASecond: a stream that checks its key for every
// event looks the key up at most once per RecheckInterval, and a revoked
// key stops working within that interval.
func TestStillValidLooksUpOnceASecond(t *testing.T) {
	keys := &memKeys{creds: map[string]store.Credential{}}
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	a, err := New(keys, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return now }
	c, secret, err := CreateKey(context.Background(), keys, KeySpec{Principal: "bot", Role: Agent}, "admin", now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+secret))
	ctx, err = a.Authenticate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys.lookups = 0
	for range 1000 {
		if err := a.StillValid(ctx); err != nil {
			t.Fatalf("StillValid: %v", err)
		}
	}
	if keys.lookups != 0 {
		t.Errorf("%d lookups within the interval after authentication, want 0", keys.lookups)
	}
	if _, err := keys.RevokeCredential(context.Background(), c.ID, now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(RecheckInterval)
	if err := a.StillValid(ctx); status.Code(err) != codes.Unauthenticated {
		t.Errorf("StillValid %v after the key was revoked, want Unauthenticated", err)
	}
	// Another call of the same key is refused at once.
	other := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+secret))
	if _, err := a.Authenticate(other); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Authenticate with a revoked key: %v, want Unauthenticated", err)
	}
}

// TestStillValidClockStepsBack: a clock that steps back does not make a
// check look fresh for longer than the interval.
func TestStillValidClockStepsBack(t *testing.T) {
	keys := &memKeys{creds: map[string]store.Credential{}}
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	a, _ := New(keys, nil, nil)
	a.now = func() time.Time { return now }
	_, secret, err := CreateKey(context.Background(), keys, KeySpec{Principal: "bot", Role: Agent}, "admin", now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+secret)))
	if err != nil {
		t.Fatal(err)
	}
	keys.lookups = 0
	now = now.Add(-time.Hour)
	if err := a.StillValid(ctx); err != nil || keys.lookups != 1 {
		t.Errorf("StillValid after the clock stepped back: %v, %d lookups, want nil and 1", err, keys.lookups)
	}
}
