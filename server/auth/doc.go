// Package auth authenticates the callers of agenttrail's gRPC API and
// carries who they are through the context.
//
// A caller proves who it is with an API key, sent as gRPC metadata
// "authorization: Bearer <key>", or with a client certificate from a
// configured CA, mapped to a principal by its subject or SAN (CertRule).
// Either way it becomes a Principal with exactly one Role and an optional
// agent scope, which FromContext returns to handlers and to the
// authorization table (package authz).
//
// The interceptors leave health checking and server reflection open;
// everything else without valid credentials fails with UNAUTHENTICATED, and
// the message never says which part was wrong.
package auth
