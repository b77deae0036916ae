package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/server/auth"
)

func TestLoadCertRules(t *testing.T) {
	tests := []struct {
		json    string
		wantErr string
	}{
		{`[{"subject_cn":"a","principal":"p","role":"compliance"}]`, ""},
		{`[{"san_uri":"spiffe://x/y","principal":"p","role":"agent","agent_id":"bot"}]`, ""},
		{`[{"principal":"p","role":"agent"}]`, "matches nothing"},
		{`[{"subject_cn":"a","role":"agent"}]`, "no principal"},
		{`[{"subject_cn":"a","principal":"p","role":"root"}]`, "unknown role"},
		{`[{"subject_cn":"a","principal":"p","role":"agent","color":"blue"}]`, "unknown field"},
		{`{"subject_cn":"a"}`, "JSON array"},
	}
	for _, tt := range tests {
		_, err := auth.LoadCertRules(strings.NewReader(tt.json))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want nil", tt.json, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v, want an error about %q", tt.json, err, tt.wantErr)
		}
	}
}

func TestKeySpecCheck(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		spec auth.KeySpec
		ok   bool
	}{
		{"agent scoped", auth.KeySpec{Principal: "bot-1", Role: auth.Agent, AgentID: "support-agent"}, true},
		{"email principal", auth.KeySpec{Principal: "carol@example.com", Role: auth.Compliance}, true},
		{"empty principal", auth.KeySpec{Role: auth.Admin}, false},
		{"principal with space", auth.KeySpec{Principal: "carol smith", Role: auth.Admin}, false},
		{"unknown role", auth.KeySpec{Principal: "x", Role: "root"}, false},
		{"scope on a developer", auth.KeySpec{Principal: "x", Role: auth.Developer, AgentID: "a"}, false},
		{"expired already", auth.KeySpec{Principal: "x", Role: auth.Admin, ExpiresAt: now.Add(-time.Minute)}, false},
	}
	for _, tt := range tests {
		err := tt.spec.Check(now)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Check = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, auth.ErrInvalidKeySpec) {
			t.Errorf("%s: %v does not wrap ErrInvalidKeySpec", tt.name, err)
		}
	}
}

func TestRolesRoundTripThroughTheAPI(t *testing.T) {
	for _, r := range auth.Roles {
		if got := auth.RoleFromMessage(auth.RoleMessage(r)); got != r {
			t.Errorf("RoleFromMessage(RoleMessage(%s)) = %s", r, got)
		}
	}
	if got := auth.RoleFromMessage(0); got != "" {
		t.Errorf("RoleFromMessage(UNSPECIFIED) = %q, want empty", got)
	}
}
