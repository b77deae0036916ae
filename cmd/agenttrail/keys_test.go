package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// keys create, list and revoke, offline, through run: the secret is printed
// once and never listed; revocation shows in the list.
func TestKeysOffline(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	var out, errOut strings.Builder
	if code := run(ctx, []string{"keys", "create", "--data", data, "--principal", "support-bot", "--role", "agent", "--agent-id", "support-agent", "--expires", "720h"}, &out, &errOut); code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, errOut.String())
	}
	secret := strings.TrimSpace(out.String())
	if !strings.HasPrefix(secret, "at_") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("keys create printed %q, want the key alone on one line", out.String())
	}
	id := strings.SplitN(secret, "_", 3)[1]

	list := func() []keyListing {
		t.Helper()
		var out, errOut strings.Builder
		if code := run(ctx, []string{"keys", "list", "--data", data, "--output", "json"}, &out, &errOut); code != 0 {
			t.Fatalf("keys list: exit %d: %s", code, errOut.String())
		}
		if strings.Contains(out.String(), secret[len("at_")+17:]) {
			t.Fatalf("keys list shows the secret")
		}
		var keys []keyListing
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var k keyListing
			if err := json.Unmarshal([]byte(line), &k); err != nil {
				t.Fatalf("keys list line %q: %v", line, err)
			}
			keys = append(keys, k)
		}
		return keys
	}
	keys := list()
	if len(keys) != 1 || keys[0].ID != id || keys[0].Principal != "support-bot" || keys[0].Role != "agent" ||
		keys[0].AgentID != "support-agent" || keys[0].Expires == "" || keys[0].Revoked != "" {
		t.Fatalf("keys list = %+v", keys)
	}
	errOut.Reset()
	if code := run(ctx, []string{"keys", "revoke", "--data", data, "--id", id}, &out, &errOut); code != 0 {
		t.Fatalf("keys revoke: exit %d: %s", code, errOut.String())
	}
	if keys := list(); keys[0].Revoked == "" {
		t.Errorf("after revoke, list shows %+v", keys[0])
	}
	for _, bad := range [][]string{
		{"keys", "create", "--data", data, "--principal", "x", "--role", "root"},
		{"keys", "create", "--data", data, "--principal", "x", "--role", "developer", "--agent-id", "a"},
		{"keys", "revoke", "--data", data, "--id", "nope"},
		{"keys", "frobnicate", "--data", data},
	} {
		errOut.Reset()
		if code := run(ctx, bad, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d (%s), want 2", bad, code, errOut.String())
		}
	}
}
