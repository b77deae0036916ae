// Package badger is the store driver that keeps a log in one Badger database
// (github.com/dgraph-io/badger/v4) in a data directory, with SyncWrites on.
// Importing it registers the "badger" URL scheme with package store:
// badger:///var/lib/agenttrail, or badger:relative/dir; the query parameter
// gc_interval sets how often the value log is garbage collected (0: never).
//
// The key layout is in keys.go and docs/architecture.md: one key per event
// record, per content record and per event id, one per batch for its tree
// hashes, its root and each of its posting lists, all written once. No
// Badger type leaves this package.
//
// Tamperer edits a closed data directory's raw records, for tamper
// campaigns; the driver itself never uses it.
package badger
