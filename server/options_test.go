package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
)

// Options add up: every append check given runs, in order, none replacing
// another.
func TestAppendChecksCompose(t *testing.T) {
	refuse := func(agent string) func(context.Context, *agenttrailv1.Event) error {
		return func(_ context.Context, ev *agenttrailv1.Event) error {
			if ev.GetAgentId() == agent {
				return status.Error(codes.PermissionDenied, "refused "+agent)
			}
			return nil
		}
	}
	h := start(t, nil, server.WithAppendCheck(refuse("agent-a")), server.WithAppendCheck(refuse("agent-b")))
	evs := agentEvents()[:3]
	for i, agent := range []string{"agent-a", "agent-b", "agent-c"} {
		evs[i].AgentId = agent
	}
	resps := appendAll(t, h.append, requests(evs))
	for i, want := range []codes.Code{codes.PermissionDenied, codes.PermissionDenied, codes.OK} {
		got := codes.OK
		if rj := resps[i].GetRejection(); rj != nil {
			got = codes.Code(rj.GetCode())
		}
		if got != want {
			t.Errorf("event of %s: got %v, want %v", evs[i].GetAgentId(), got, want)
		}
	}
}

// Access control given twice is an error, not a silent replacement.
func TestAccessControlGivenTwice(t *testing.T) {
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	st := start(t, nil).st
	a, err := auth.New(st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fn := func(*store.Store) (*auth.Authenticator, server.EventRedactor, error) { return a, red, nil }
	for _, opts := range [][]server.Option{
		{server.WithAccessControl(a, red), server.WithAccessControl(a, red)},
		{server.WithAccessControl(a, red), server.WithAccessControlFunc(fn)},
		{server.WithAccessControlFunc(fn), server.WithAccessControl(a, red)},
	} {
		if _, err := server.New(st, opts...); err == nil {
			t.Errorf("server.New with access control twice: no error")
		}
	}
}
