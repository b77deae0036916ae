package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/store"
)

func init() {
	register(command{name: "keys", summary: "create, list and revoke API keys (offline with --data, online with --addr)", setup: keysCommand})
}

// keyTarget is where keys commands act: a stopped server's data directory
// (offline, --data) or a running server through AdminService (online, the
// connection flags every client command has, with an admin --key).
type keyTarget struct {
	loc    storeLocation
	conn   *connFlags
	errOut io.Writer
}

func (k *keyTarget) flags(fs *flag.FlagSet) {
	k.loc.addFlags(fs, "", "data `directory` of a stopped server: manage keys offline (without it, keys are\nmanaged online on --addr with an admin --key)", true)
	k.conn = addConnFlags(fs)
}
func keysCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	t := keyTarget{errOut: errOut}
	t.flags(fs)
	principal := fs.String("principal", "", "create: who the key authenticates")
	role := fs.String("role", "", "create: agent, developer, compliance or admin")
	agentID := fs.String("agent-id", "", "create: the only agent_id an agent key may append for")
	expires := fs.String("expires", "", "create: when the key stops working: a duration from now (720h) or an RFC 3339 time")
	id := fs.String("id", "", "revoke: the key id")
	output := fs.String("output", "table", "list: table or json")
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: agenttrail keys create|list|revoke|rotate-master [flags]")
		fmt.Fprintln(errOut, "\nrotate-master (offline only, --data DIR with the server stopped) replaces the master key of\nencryption at rest: it rewraps the subject keys and the storage key, never the content.")
		fmt.Fprintln(errOut, "\nOffline (--data DIR, server stopped) or online (--addr ADDR --key ADMIN_KEY).")
		fmt.Fprintln(errOut, "create prints the new secret key alone on standard output, once; only its hash is stored.")
		fs.PrintDefaults()
	}
	return func(ctx context.Context, args []string) error {
		// The action comes first ("keys create --data ..."): parse the
		// flags that follow it too.
		if len(args) > 1 {
			if err := fs.Parse(args[1:]); err != nil {
				return usageError{err.Error()}
			}
			args = append(args[:1], fs.Args()...)
		}
		if len(args) != 1 {
			return usageError{"want one action: create, list, revoke or rotate-master, then its flags"}
		}
		// --data means offline; otherwise the connection flags (and
		// AGENTTRAIL_ADDR, AGENTTRAIL_KEY) say which server to ask.
		switch args[0] {
		case "create":
			spec := auth.KeySpec{Principal: *principal, Role: auth.Role(*role), AgentID: *agentID}
			if *expires != "" {
				at, err := parseExpiry(*expires, time.Now())
				if err != nil {
					return usageError{err.Error()}
				}
				spec.ExpiresAt = at
			}
			if err := spec.Check(time.Now()); err != nil {
				return usageError{strings.TrimPrefix(err.Error(), auth.ErrInvalidKeySpec.Error()+": ")}
			}
			return t.create(ctx, out, errOut, spec)
		case "list":
			if *output != "table" && *output != "json" {
				return usageError{"--output: want table or json"}
			}
			return t.list(ctx, out, *output)
		case "revoke":
			if len(*id) != 16 {
				return usageError{"--id: want a key id (16 hex digits)"}
			}
			return t.revoke(ctx, errOut, *id)
		case "rotate-master":
			return rotateMaster(ctx, t.loc, out)
		}
		return usageError{fmt.Sprintf("unknown action %q: want create, list, revoke or rotate-master", args[0])}
	}
}

func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, errors.New("--expires: the duration must be positive")
		}
		return now.Add(d), nil
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("--expires: want a duration such as 720h or an RFC 3339 time such as 2027-01-31T00:00:00Z")
	}
	return at, nil
}

// localActor names whoever manages keys offline, for the key change record.
func localActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return "local:" + name + "@" + host
}

// openOffline opens a stopped server's store.
func (t *keyTarget) openOffline(ctx context.Context, errOut io.Writer) (*store.Store, error) {
	storeURL, dir, err := t.loc.storeURL()
	if err != nil {
		return nil, err
	}
	opts, err := t.loc.options(errOut)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, storeURL, opts...)
	if err != nil && dir != "" && strings.Contains(err.Error(), "directory lock") {
		return nil, fmt.Errorf("the data directory %s is in use: is the server running? Stop it, or use --addr with an admin key", dir)
	}
	if err == nil && st.MasterKeyCreated() != "" && t.errOut != nil {
		fmt.Fprintf(t.errOut, "created the master key of encryption at rest at %s: back it up, apart from the data directory; without it the data cannot be read\n", st.MasterKeyCreated())
	}
	return st, err
}

// admin dials the server's AdminService with the connection flags.
func (t *keyTarget) admin(ctx context.Context) (agenttrailv1.AdminServiceClient, context.Context, func(), error) {
	if t.conn.key == "" {
		return nil, nil, nil, usageError{"--key: an admin API key is needed online"}
	}
	cl, err := t.conn.dial()
	if err != nil {
		return nil, nil, nil, err
	}
	return agenttrailv1.NewAdminServiceClient(cl.Conn()), ctx, func() { cl.Close() }, nil
}

func (t *keyTarget) create(ctx context.Context, out, errOut io.Writer, spec auth.KeySpec) error {
	var k *agenttrailv1.ApiKey
	var secret string
	if t.loc.given() {
		st, err := t.openOffline(ctx, errOut)
		if err != nil {
			return err
		}
		c, s, err := auth.CreateKey(ctx, st, spec, localActor(), time.Now())
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		k, secret = auth.KeyMessage(c), s
	} else {
		client, ctx, done, err := t.admin(ctx)
		if err != nil {
			return err
		}
		defer done()
		req := &agenttrailv1.CreateKeyRequest{Principal: spec.Principal, Role: auth.RoleMessage(spec.Role), AgentId: spec.AgentID}
		if !spec.ExpiresAt.IsZero() {
			req.ExpiresAt = timestamppb.New(spec.ExpiresAt)
		}
		resp, err := client.CreateKey(ctx, req)
		if err != nil {
			return err
		}
		k, secret = resp.GetKey(), resp.GetSecret()
	}
	fmt.Fprintln(out, secret)
	fmt.Fprintf(errOut, "created key %s for %s (role %s%s). The key above is shown only once: store it now; only its hash is kept.\n",
		k.GetKeyId(), k.GetPrincipal(), auth.RoleFromMessage(k.GetRole()), scopeNote(k.GetAgentId()))
	return nil
}

func scopeNote(agentID string) string {
	if agentID == "" {
		return ""
	}
	return ", agent " + agentID
}

func (t *keyTarget) list(ctx context.Context, out io.Writer, output string) error {
	var keys []*agenttrailv1.ApiKey
	if t.loc.given() {
		st, err := t.openOffline(ctx, io.Discard)
		if err != nil {
			return err
		}
		cs, err := st.Credentials(ctx)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		for _, c := range cs {
			keys = append(keys, auth.KeyMessage(c))
		}
	} else {
		client, ctx, done, err := t.admin(ctx)
		if err != nil {
			return err
		}
		defer done()
		resp, err := client.ListKeys(ctx, &agenttrailv1.ListKeysRequest{})
		if err != nil {
			return err
		}
		keys = resp.GetKeys()
	}
	if output == "json" {
		enc := json.NewEncoder(out)
		for _, k := range keys {
			if err := enc.Encode(keyJSON(k)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tPRINCIPAL\tROLE\tAGENT\tCREATED\tEXPIRES\tSTATUS")
	now := time.Now()
	for _, k := range keys {
		j := keyJSON(k)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Principal, j.Role, orDash(j.AgentID), j.Created, orDash(j.Expires), keyStatus(k, now))
	}
	return tw.Flush()
}

type keyListing struct {
	ID        string `json:"key_id"`
	Principal string `json:"principal"`
	Role      string `json:"role"`
	AgentID   string `json:"agent_id,omitempty"`
	Created   string `json:"created_at"`
	Expires   string `json:"expires_at,omitempty"`
	Revoked   string `json:"revoked_at,omitempty"`
	CreatedBy string `json:"created_by"`
}

func keyJSON(k *agenttrailv1.ApiKey) keyListing {
	ts := func(t *timestamppb.Timestamp) string {
		if t == nil {
			return ""
		}
		return t.AsTime().Format(time.RFC3339)
	}
	return keyListing{ID: k.GetKeyId(), Principal: k.GetPrincipal(), Role: string(auth.RoleFromMessage(k.GetRole())), AgentID: k.GetAgentId(),
		Created: ts(k.GetCreatedAt()), Expires: ts(k.GetExpiresAt()), Revoked: ts(k.GetRevokedAt()), CreatedBy: k.GetCreatedBy()}
}

func keyStatus(k *agenttrailv1.ApiKey, now time.Time) string {
	switch {
	case k.GetRevokedAt() != nil:
		return "revoked"
	case k.GetExpiresAt() != nil && !now.Before(k.GetExpiresAt().AsTime()):
		return "expired"
	}
	return "active"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (t *keyTarget) revoke(ctx context.Context, errOut io.Writer, id string) error {
	if t.loc.given() {
		st, err := t.openOffline(ctx, errOut)
		if err != nil {
			return err
		}
		_, err = auth.RevokeKey(ctx, st, id, localActor(), time.Now())
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no key with id %s", id)
		}
		if err != nil {
			return err
		}
	} else {
		client, ctx, done, err := t.admin(ctx)
		if err != nil {
			return err
		}
		defer done()
		if _, err := client.RevokeKey(ctx, &agenttrailv1.RevokeKeyRequest{KeyId: id}); err != nil {
			return err
		}
	}
	fmt.Fprintf(errOut, "revoked key %s\n", id)
	return nil
}
