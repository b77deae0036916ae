package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/console"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	web   *httptest.Server
	st    *store.Store
	keys  map[string]string
	ids   map[string]string
	clock *clock
}

// start runs a real server over a fresh store, its browser API and the
// console behind an httptest server, with a key per role.
func start(t *testing.T, secure bool) *env {
	t.Helper()
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	var a *auth.Authenticator
	ts := servertest.New(t, servertest.Config{ServerOptions: []server.Option{
		server.WithAccessControlFunc(func(st *store.Store) (*auth.Authenticator, server.EventRedactor, error) {
			var err error
			a, err = auth.New(st, nil, nil)
			return a, red, err
		}),
	}})
	api, err := ts.Server.BrowserHandler()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: ts.Store, keys: map[string]string{}, ids: map[string]string{}, clock: &clock{now: time.Now()}}
	c, err := console.New(console.Options{API: api, Services: server.BrowserServices, Keys: a, Secure: secure, SessionTTL: time.Hour, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	e.web = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.web.Close()
		c.Close()
	})
	st := ts.Store
	for _, k := range []auth.KeySpec{
		{Principal: "bot", Role: auth.Agent},
		{Principal: "dana", Role: auth.Developer},
		{Principal: "ann", Role: auth.Compliance},
		{Principal: "al", Role: auth.Admin},
	} {
		cred, secret, err := auth.CreateKey(context.Background(), st, k, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.keys[string(k.Role)] = secret
		e.ids[string(k.Role)] = cred.ID
	}
	return e
}

type result struct {
	code    int
	body    string
	cookies []*http.Cookie
	header  http.Header
}

func (e *env) do(t *testing.T, method, path, body string, headers map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, e.web.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), resp.Cookies(), resp.Header}
}

// signIn returns the session cookie and CSRF token of a role's key.
func (e *env) signIn(t *testing.T, role string) (string, string) {
	t.Helper()
	r := e.do(t, "POST", "/console/signin", `{"key":"`+e.keys[role]+`"}`, map[string]string{"Content-Type": "application/json"})
	if r.code != 200 || len(r.cookies) != 1 {
		t.Fatalf("sign-in as %s: %d %s", role, r.code, r.body)
	}
	var info struct{ CSRFToken, Role, Principal string }
	if err := json.Unmarshal([]byte(r.body), &info); err != nil || info.Role != role {
		t.Fatalf("sign-in answer %s: %v", r.body, err)
	}
	return r.cookies[0].Name + "=" + r.cookies[0].Value, info.CSRFToken
}

func (e *env) call(t *testing.T, cookie, csrf, method, body string, extra map[string]string) result {
	h := map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"}
	if cookie != "" {
		h["Cookie"] = cookie
	}
	if csrf != "" {
		h["X-CSRF-Token"] = csrf
	}
	for k, v := range extra {
		h[k] = v
	}
	return e.do(t, "POST", method, body, h)
}

const checkpoint = "/agenttrail.v1.LogService/GetVerifierKey" // answers on an empty log too
const listSessions = "/agenttrail.v1.QueryService/ListSessions"

func TestSignInSetsAStrictHttpOnlyCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := start(t, secure)
		r := e.do(t, "POST", "/console/signin", `{"key":"`+e.keys["developer"]+`"}`, map[string]string{"Content-Type": "application/json"})
		if r.code != 200 || len(r.cookies) != 1 {
			t.Fatalf("sign-in: %d %s", r.code, r.body)
		}
		c := r.cookies[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != secure {
			t.Errorf("secure=%v: cookie %+v, want HttpOnly, SameSite=Strict, Path=/, Secure=%v", secure, c, secure)
		}
		if secure != strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("secure=%v: cookie name %q", secure, c.Name)
		}
		if strings.Contains(r.body, e.keys["developer"]) || strings.Contains(c.Value, e.keys["developer"]) {
			t.Error("the sign-in answer carries the key")
		}
		if secure && r.header.Get("Strict-Transport-Security") == "" {
			t.Error("no Strict-Transport-Security over TLS")
		}
	}
}

func TestSignInRefusesAgentsAndBadKeys(t *testing.T) {
	e := start(t, false)
	for _, tc := range []struct {
		body, ctype string
		code        int
		says        string
	}{
		{`{"key":"` + e.keys["agent"] + `"}`, "application/json", 403, "agent key"},
		{`{"key":"at_0000000000000000_nope"}`, "application/json", 401, "not valid"},
		{`{"key":""}`, "application/json", 400, "key"},
		{`key=x`, "application/x-www-form-urlencoded", 415, "application/json"},
	} {
		r := e.do(t, "POST", "/console/signin", tc.body, map[string]string{"Content-Type": tc.ctype})
		if r.code != tc.code || !strings.Contains(r.body, tc.says) || len(r.cookies) != 0 {
			t.Errorf("sign-in with %s: %d %s (cookies %v), want %d saying %q", tc.body, r.code, r.body, r.cookies, tc.code, tc.says)
		}
	}
}

func TestCallsWithTheCookieNeedTheCSRFTokenAndTheOwnOrigin(t *testing.T) {
	e := start(t, false)
	cookie, csrf := e.signIn(t, "compliance")
	for _, tc := range []struct {
		name  string
		csrf  string
		extra map[string]string
		code  int
	}{
		{"token", csrf, nil, 200},
		{"no token", "", nil, 403},
		{"wrong token", csrf + "x", nil, 403},
		{"cross-site", csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"other origin", csrf, map[string]string{"Origin": "https://evil.example"}, 403},
		{"cookie and bearer", csrf, map[string]string{"Authorization": "Bearer " + e.keys["compliance"]}, 400},
	} {
		if r := e.call(t, cookie, tc.csrf, listSessions, `{}`, tc.extra); r.code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, r.code, r.body, tc.code)
		}
	}
	// Sign-out is protected too.
	if r := e.do(t, "POST", "/console/signout", "", map[string]string{"Cookie": cookie}); r.code != 403 {
		t.Errorf("sign-out without the token: %d, want 403", r.code)
	}
	// A script with a bearer key and no cookie needs no token.
	if r := e.call(t, "", "", checkpoint, `{}`, map[string]string{"Authorization": "Bearer " + e.keys["developer"]}); r.code != 200 {
		t.Errorf("bearer call: %d %s", r.code, r.body)
	}
}

func TestSessionsCarryTheRoleOfTheirKey(t *testing.T) {
	e := start(t, false)
	for _, role := range []string{"developer", "compliance", "admin"} {
		cookie, csrf := e.signIn(t, role)
		if r := e.call(t, cookie, csrf, listSessions, `{}`, nil); r.code != 200 {
			t.Errorf("%s ListSessions: %d %s", role, r.code, r.body)
		}
		// Admin-only key listing: only the admin's session may.
		r := e.call(t, cookie, csrf, "/agenttrail.v1.AdminService/ListKeys", `{}`, nil)
		if (r.code == 200) != (role == "admin") {
			t.Errorf("%s ListKeys: %d, want allowed only for admin", role, r.code)
		}
	}
}

func TestSignOutExpiryAndRevocationEndTheSession(t *testing.T) {
	e := start(t, false)
	cookie, csrf := e.signIn(t, "developer")
	if r := e.do(t, "POST", "/console/signout", "", map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf}); r.code != 204 || len(r.cookies) != 1 || r.cookies[0].MaxAge >= 0 {
		t.Fatalf("sign-out: %d, cookies %v; want 204 clearing the cookie", r.code, r.cookies)
	}
	if r := e.call(t, cookie, csrf, checkpoint, `{}`, nil); r.code != 401 {
		t.Errorf("a call after sign-out: %d, want 401", r.code)
	}
	if r := e.do(t, "GET", "/console/session", "", map[string]string{"Cookie": cookie}); r.code != 401 {
		t.Errorf("session after sign-out: %d, want 401", r.code)
	}

	cookie, csrf = e.signIn(t, "developer")
	e.clock.add(59 * time.Minute)
	if r := e.call(t, cookie, csrf, checkpoint, `{}`, nil); r.code != 200 {
		t.Errorf("a call before expiry: %d %s", r.code, r.body)
	}
	e.clock.add(2 * time.Minute)
	if r := e.call(t, cookie, csrf, checkpoint, `{}`, nil); r.code != 401 {
		t.Errorf("a call after expiry: %d, want 401", r.code)
	}

	cookie, csrf = e.signIn(t, "compliance")
	if _, err := auth.RevokeKey(context.Background(), e.st, e.ids["compliance"], "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.call(t, cookie, csrf, checkpoint, `{}`, nil); r.code != 401 {
		t.Errorf("a call after the key was revoked: %d %s, want 401", r.code, r.body)
	}
}

func TestSignOutEndsAnOpenTail(t *testing.T) {
	e := start(t, false)
	cookie, csrf := e.signIn(t, "compliance")
	body := "\x00\x00\x00\x00\x0f{\"follow\":true}"
	req, _ := http.NewRequest("POST", e.web.URL+"/agenttrail.v1.QueryService/Query", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/connect+json")
	req.Header.Set("Cookie", cookie)
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	select {
	case <-ended:
		t.Fatal("the tail ended before sign-out")
	case <-time.After(200 * time.Millisecond):
	}
	e.do(t, "POST", "/console/signout", "", map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf})
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the tail went on after sign-out")
	}
}

func TestPagesCarrySecurityHeaders(t *testing.T) {
	e := start(t, false)
	r := e.do(t, "GET", "/", "", nil)
	if r.code != 200 || !strings.Contains(r.body, `<script type="module" src="/assets/`) {
		t.Fatalf("index: %d %s", r.code, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows something unsafe", csp)
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	asset := r.body[strings.Index(r.body, `src="/assets/`)+5:]
	asset = asset[:strings.Index(asset, `"`)]
	a := e.do(t, "GET", asset, "", nil)
	if a.code != 200 || !strings.Contains(a.header.Get("Content-Type"), "javascript") || !strings.Contains(a.header.Get("Cache-Control"), "immutable") {
		t.Errorf("%s: %d %q %q", asset, a.code, a.header.Get("Content-Type"), a.header.Get("Cache-Control"))
	}
	for _, missing := range []string{"/assets/nope.js", "/assets/", "/assets/../console.go"} {
		if r := e.do(t, "GET", missing, "", nil); r.code != 404 && r.code != 301 {
			t.Errorf("%s: %d, want 404", missing, r.code)
		}
	}
}
