// Package console serves agenttrail's web console on the HTTP listener: the
// page and its assets (built from ui/ into assets/, committed and embedded),
// sign-in and sign-out, and the browser API (server.BrowserHandler) behind
// session cookies.
//
// Signing in exchanges an API key for a session: the key is checked once,
// never stored, and the browser holds only an HttpOnly, SameSite=Strict
// cookie (Secure, and named with the __Host- prefix, when served over TLS)
// whose token the server keeps as a SHA-256 hash. Each API call with the
// cookie is handed to the gRPC handlers as the key's principal
// (auth.WithFrontEndPrincipal), so roles, views and access records are
// exactly those of gRPC; revoking the key, signing out or the session's
// expiry end the session's calls, open tails included. Calls with the
// cookie must carry the session's CSRF token in X-CSRF-Token and come from
// the console's own origin (net/http's CrossOriginProtection). Calls with an
// "authorization: Bearer" header and no cookie pass through unchanged, for
// scripts.
//
// Every response carries a strict Content-Security-Policy (scripts, styles
// and connections to the console's own origin only; no inline script) and
// the other headers listed in securityHeaders.
//
// Shutdown order: stop the HTTP server, then Close the console (which ends
// every session), then the gRPC server.
package console
