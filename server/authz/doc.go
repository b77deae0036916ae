// Package authz decides which role may call which RPC, from one declarative
// table (Table). A method missing from the table is denied to everyone.
//
// Its interceptors run after authentication (package auth) and fail a call
// with PERMISSION_DENIED when the caller's role is not allowed; health
// checks and reflection stay open.
package authz
