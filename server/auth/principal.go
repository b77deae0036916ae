package auth

import (
	"context"
	"fmt"
	"time"
)

// Role is what a principal may do. Every principal has exactly one.
type Role string

// The roles (see docs/architecture.md, "Roles and views").
const (
	// Agent appends events, within its scope, and reads nothing.
	Agent Role = "agent"
	// Developer queries and tails the trail in the redacted view.
	Developer Role = "developer"
	// Compliance reads everything, verifies proofs and exports evidence.
	Compliance Role = "compliance"
	// Admin manages keys, retention and erasure, and reads only metadata.
	Admin Role = "admin"
)

// Roles lists every role.
var Roles = []Role{Agent, Developer, Compliance, Admin}

// ParseRole returns the role with a name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("auth: unknown role %q (want agent, developer, compliance or admin)", s)
}

// Human reports whether a role belongs to a person reading the trail, whose
// reads are recorded.
func (r Role) Human() bool { return r == Developer || r == Compliance || r == Admin }

// Principal is an authenticated caller.
type Principal struct {
	// Name is who the caller is, as committed in the events it appends.
	Name string
	// Role is what the caller may do.
	Role Role
	// AgentID, when set, is the only agent_id an agent may append for.
	AgentID string
	// KeyID is the public id of the API key used, when one was.
	KeyID string
	// Method is how the caller authenticated: "api_key" or "mtls".
	Method string
	// Expires is when the credential stops working (zero: never).
	Expires time.Time
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of an authenticated call.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
