package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

// KeyWriter is what managing keys needs of a store. *store.Store is one.
type KeyWriter interface {
	AddCredential(ctx context.Context, c store.Credential) error
	RevokeCredential(ctx context.Context, id string, at time.Time) (store.Credential, error)
	Append(ctx context.Context, principal string, events []*agenttrailv1.Event) ([]store.Result, error)
}

// recordWriter is a KeyWriter that writes the server's own records apart
// from other appends (store.Store.AppendRecords).
type recordWriter interface {
	AppendRecords(ctx context.Context, principal string, events []*agenttrailv1.Event) ([]store.Result, error)
}

// ServerPrincipal is the principal of the events agenttrail writes itself
// (key changes, access records).
const ServerPrincipal = "agenttrail"

// KeySpec describes a key to create.
type KeySpec struct {
	Principal string
	Role      Role
	AgentID   string
	ExpiresAt time.Time // zero: never
}

// ErrInvalidKeySpec wraps every problem with a KeySpec.
var ErrInvalidKeySpec = errors.New("auth: invalid key")

// Check validates a key spec and returns the first problem, naming the field.
func (k KeySpec) Check(now time.Time) error {
	if !validPrincipal(k.Principal) {
		return fmt.Errorf("%w: principal must be 1 to 128 characters from [A-Za-z0-9._:@-], starting with a letter or digit", ErrInvalidKeySpec)
	}
	if _, err := ParseRole(string(k.Role)); err != nil {
		return fmt.Errorf("%w: role: want agent, developer, compliance or admin", ErrInvalidKeySpec)
	}
	if k.AgentID != "" && k.Role != Agent {
		return fmt.Errorf("%w: agent_id: only an agent key is scoped to an agent", ErrInvalidKeySpec)
	}
	if k.AgentID != "" && !event.IsID(k.AgentID) {
		return fmt.Errorf("%w: agent_id must be an id: 1 to 128 characters from [A-Za-z0-9._:-]", ErrInvalidKeySpec)
	}
	if !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now) {
		return fmt.Errorf("%w: expires_at must be in the future", ErrInvalidKeySpec)
	}
	return nil
}

func validPrincipal(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != ':' && c != '@' && c != '-') {
			return false
		}
	}
	return true
}

// CreateKey creates an API key, stores its credential (never the secret)
// and records a KeyChange event in the trail. It returns the credential
// and the secret key, which exists nowhere else.
func CreateKey(ctx context.Context, w KeyWriter, spec KeySpec, by string, now time.Time) (store.Credential, string, error) {
	if err := spec.Check(now); err != nil {
		return store.Credential{}, "", err
	}
	c := store.Credential{
		Principal: spec.Principal, Role: string(spec.Role), AgentID: spec.AgentID,
		CreatedAt: now.UTC(), ExpiresAt: spec.ExpiresAt.UTC(), CreatedBy: by,
	}
	if spec.ExpiresAt.IsZero() {
		c.ExpiresAt = time.Time{}
	}
	secret, err := newAPIKey(&c)
	if err != nil {
		return store.Credential{}, "", err
	}
	if err := w.AddCredential(ctx, c); err != nil {
		return store.Credential{}, "", err
	}
	if err := recordKeyChange(ctx, w, c, agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_CREATED, by, now); err != nil {
		return store.Credential{}, "", err
	}
	return c, secret, nil
}

// RevokeKey revokes a key and records a KeyChange event.
func RevokeKey(ctx context.Context, w KeyWriter, id, by string, now time.Time) (store.Credential, error) {
	c, err := w.RevokeCredential(ctx, id, now)
	if err != nil {
		return store.Credential{}, err
	}
	if err := recordKeyChange(ctx, w, c, agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_REVOKED, by, now); err != nil {
		return store.Credential{}, err
	}
	return c, nil
}

func recordKeyChange(ctx context.Context, w KeyWriter, c store.Credential, action agenttrailv1.KeyChangeAction, by string, now time.Time) error {
	ev := &agenttrailv1.Event{
		EventId:    event.NewID(),
		AgentId:    ServerPrincipal,
		OccurredAt: timestamppb.New(now),
		Payload: &agenttrailv1.Event_KeyChange{KeyChange: &agenttrailv1.KeyChange{
			Action: action, KeyId: c.ID, KeyPrincipal: c.Principal, KeyRole: c.Role, ChangedBy: by,
		}},
	}
	appendFn := w.Append
	if r, ok := w.(recordWriter); ok {
		appendFn = r.AppendRecords // written while appends wait for disk space
	}
	res, err := appendFn(ctx, ServerPrincipal, []*agenttrailv1.Event{ev})
	if err != nil {
		return fmt.Errorf("auth: recording the key change: %w", err)
	}
	if res[0].Err != nil {
		return fmt.Errorf("auth: recording the key change: %w", res[0].Err)
	}
	return nil
}

// KeyMessage describes a credential in the API's terms.
func KeyMessage(c store.Credential) *agenttrailv1.ApiKey {
	k := &agenttrailv1.ApiKey{
		KeyId: c.ID, Principal: c.Principal, Role: RoleMessage(Role(c.Role)), AgentId: c.AgentID,
		CreatedAt: timestamppb.New(c.CreatedAt), CreatedBy: c.CreatedBy,
	}
	if !c.ExpiresAt.IsZero() {
		k.ExpiresAt = timestamppb.New(c.ExpiresAt)
	}
	if !c.RevokedAt.IsZero() {
		k.RevokedAt = timestamppb.New(c.RevokedAt)
	}
	return k
}

// RoleMessage and RoleFromMessage convert between Role and the API's enum.
func RoleMessage(r Role) agenttrailv1.PrincipalRole {
	switch r {
	case Agent:
		return agenttrailv1.PrincipalRole_PRINCIPAL_ROLE_AGENT
	case Developer:
		return agenttrailv1.PrincipalRole_PRINCIPAL_ROLE_DEVELOPER
	case Compliance:
		return agenttrailv1.PrincipalRole_PRINCIPAL_ROLE_COMPLIANCE
	case Admin:
		return agenttrailv1.PrincipalRole_PRINCIPAL_ROLE_ADMIN
	}
	return agenttrailv1.PrincipalRole_PRINCIPAL_ROLE_UNSPECIFIED
}

// RoleFromMessage is the inverse of RoleMessage; "" for UNSPECIFIED or an
// unknown value.
func RoleFromMessage(r agenttrailv1.PrincipalRole) Role {
	for _, role := range Roles {
		if RoleMessage(role) == r {
			return role
		}
	}
	return ""
}
