// Package storetest is the conformance suite of store drivers: one set of
// tests that every store.Driver must pass, run by each driver's own tests
// against real storage (see store/badger and store/postgres).
//
// A driver's test calls Run with a Harness that makes fresh storage and,
// where the driver can, opens its raw records for tampering and checks that
// nothing was written twice. The suite runs the real engine (package store)
// over the driver, so it holds the driver to everything the engine relies
// on: write-once records, idempotent appends, one winner among concurrent
// writers of an id, gap-free indexes, survival of failed commits,
// verification that names tampered records, scans that use the indexes and
// resume, and follow.
package storetest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// Harness is what the suite needs of a driver.
type Harness struct {
	// New returns the URL of new, empty storage for one test, which the
	// harness removes when the test ends.
	New func(t testing.TB) string
	// Tamper opens the raw records behind a URL, whose store is closed, as
	// an attacker with access to the storage and its storage key
	// (MasterKey.StorageKey) would. Nil skips the tamper tests.
	Tamper func(url string, storageKey []byte) (Tamperer, error)
	// WrittenOnce checks, on storage whose store is closed, that no record
	// was ever overwritten or deleted. Nil skips that check.
	// The keyring, where records are replaced and deleted, is exempt. The
	// storage key opens encrypted storage.
	WrittenOnce func(t testing.TB, url string, storageKey []byte)
	// Shared says that several stores may open one URL at once and write
	// to it (the driver is a store.SharedDriver): several servers, one
	// log. It runs the tests of that.
	Shared bool
}

// Tamperer edits a driver's raw records by log position, as an attacker
// with access to the storage would. Close makes the edits durable.
type Tamperer interface {
	LeafData(index uint64) ([]byte, error)
	SetLeafData(index uint64, data []byte) error
	// Content returns the content record of an event.
	Content(index uint64) ([]byte, error)
	SetContent(index uint64, record []byte) error
	// DeleteEvent deletes the record of an event's leaf data.
	DeleteEvent(index uint64) error
	// DeleteContent deletes the content record of an event, leaving no
	// erasure mark.
	DeleteContent(index uint64) error
	// DeleteEventID deletes the id index entry of an event id.
	DeleteEventID(id string) error
	// DeleteKey deletes a keyring record (such as an event's content key,
	// store.EventKeyName), as if content were erased without a logged
	// erasure.
	DeleteKey(name []byte) error
	// TreeHash and SetTreeHash read and replace the stored tree hash at a
	// stored-hash index (golang.org/x/mod/sumdb/tlog numbering).
	TreeHash(storedIndex int64) ([store.HashSize]byte, error)
	SetTreeHash(storedIndex int64, h [store.HashSize]byte) error
	// AggregateRecords returns every stored aggregate record (deltas with
	// First, rollups with Upto); SetAggregateRecord replaces the cells of
	// the one with r's identity.
	AggregateRecords() ([]store.AggregateRecord, error)
	SetAggregateRecord(r store.AggregateRecord) error
	// MarkErased destroys an event's content record and leaves the mark a
	// logged erasure leaves, without logging an erasure.
	MarkErased(index uint64) error
	// DropFromIndexes removes an event from every secondary index.
	DropFromIndexes(index uint64) error
	// Truncate removes every event at and above size, a size some batch
	// ended at, and every record that goes with them (aggregate records
	// included: the deltas of the removed batches and the rollups they wrote).
	Truncate(size uint64) error
	Close() error
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"AppendThenGet", testAppendThenGet},
		{"AppendIsIdempotent", testAppendIsIdempotent},
		{"AppendRejectsBadEventsOneByOne", testAppendRejectsBadEventsOneByOne},
		{"HeaderBytesAreTheEventHeaderEncoding", testHeaderBytesAreTheEventHeaderEncoding},
		{"SubmitReceivedCommitsTheEventsEncoding", testSubmitReceivedCommitsTheEventsEncoding},
		{"ClosedStore", testClosedStore},
		{"CheckpointsAndProofs", testCheckpointsAndProofs},
		{"ProverMatchesInclusionProof", testProverMatchesInclusionProof},
		{"CheckpointIntervalCoversIdleTail", testCheckpointIntervalCoversIdleTail},
		{"ReopenKeepsTreeAndKey", testReopenKeepsTreeAndKey},
		{"VerifyCleanStore", testVerifyCleanStore},
		{"ConcurrentWritersOneWinnerPerID", testConcurrentWritersOneWinnerPerID},
		{"DuplicateOutcomesAgreeWithWinner", testDuplicateOutcomesAgreeWithWinner},
		{"CommitFailureStopsAppendsAndLosesNothing", testCommitFailureStopsAppends},
		{"CommitDurableButUnacknowledged", testCommitDurableButUnacknowledged},
		{"BatchesGrowWhileCommitting", testBatchesGrowWhileCommitting},
		{"BatchBudget", testBatchBudget},
		{"SealedWhileCommitting", testSealedWhileCommitting},
		{"StatsMatchBruteForce", testStatsMatchBruteForce},
		{"StatsOfAnOlderLog", testStatsOfAnOlderLog},
		{"VerifyFindsTamperedStats", testVerifyFindsTamperedStats},
		{"DriverFencesBatches", testDriverFencesBatches},
		{"DriverChecksIDsSinceLookup", testDriverChecksIDsSinceLookup},
		{"LookupSeesCommittedBatches", testLookupSeesCommittedBatches},
		{"LookupFindsIDsInAnyOrder", testLookupFindsIDsInAnyOrder},
		{"CredentialsAreWrittenOnce", testCredentials},
		{"ScanMatchesBruteForce", testScanMatchesBruteForce},
		{"ScanReadsContentOnlyWhenAsked", testScanReadsContentOnlyWhenAsked},
		{"ScanRecordsMatchPointReads", testScanRecordsMatchPointReads},
		{"LeanScanSameAsDecoded", testLeanScanSameAsDecoded},
		{"FollowStreamsNewEvents", testFollowStreamsNewEvents},
		{"VerifyNamesTheFirstTamperedEvent", testVerifyNamesTheFirstTamperedEvent},
		{"AppendsWaitForSpace", testAppendsWaitForSpace},
		{"MinFreeSpace", testMinFreeSpace},
		{"RecordHoldsAcknowledgedTree", testRecordHoldsAcknowledgedTree},
		{"BackupRestoreRoundTrip", testBackupRestoreRoundTrip},
		{"TamperedBackupIsRefused", testTamperedBackupIsRefused},
		{"BackupCredentialsFollowTheLog", testBackupCredentialsFollowTheLog},
		{"BackupKeepsErasures", testBackupKeepsErasures},
		{"ReadOnlyStore", testReadOnlyStore},
		{"SeveralStoresOneLog", testSeveralStoresOneLog},
		{"SharedCommitFailuresAreResolved", testSharedCommitFailuresAreResolved},
		{"SharedBatchAfterDroppedBatch", testSharedBatchAfterDroppedBatch},
		{"VerifyDemandsLoggedErasures", testVerifyDemandsLoggedErasures},
		{"PostingsMatchHeaders", testPostingsMatchHeaders},
		{"VerifyAgainstTrustedCheckpoint", testVerifyAgainstTrustedCheckpoint},
		{"VerifyEmptyLog", testVerifyEmptyLog},
		{"VerifyReportsUnsignedTail", testVerifyReportsUnsignedTail},
		{"CheckpointRecordRefusesRollback", testCheckpointRecordRefusesRollback},
	}
	tests = append(tests, lifecycleTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h) })
	}
}

// Now is the fixed clock of most tests: an hour after the samples' session.
var Now = eventtest.T0.Add(time.Hour)

// Origin is the origin of the logs the suite creates.
const Origin = "test.agenttrail/log"

// Log is one test's storage and the files of its signing key and master
// key.
type Log struct {
	URL     string
	KeyFile string
	// MasterKeyFile is the master key's file; empty means master.key
	// beside KeyFile.
	MasterKeyFile string
}

// NewLog makes new storage with the harness.
func NewLog(t testing.TB, h Harness) Log {
	t.Helper()
	keys := t.TempDir()
	return Log{URL: h.New(t), KeyFile: filepath.Join(keys, "checkpoint-signing.key"), MasterKeyFile: filepath.Join(keys, "master.key")}
}

// MasterKeyPath returns the file of the log's master key.
func (l Log) MasterKeyPath() string {
	if l.MasterKeyFile != "" {
		return l.MasterKeyFile
	}
	return filepath.Join(filepath.Dir(l.KeyFile), "master.key")
}

// MasterKey reads the log's master key, creating its file when it does not
// exist yet.
func (l Log) MasterKey(t testing.TB) store.MasterKey {
	t.Helper()
	k, err := store.ReadMasterKeyFile(l.MasterKeyPath())
	if errors.Is(err, store.ErrNotFound) {
		if k, err = store.GenerateMasterKey(); err == nil {
			err = store.WriteMasterKeyFile(l.MasterKeyPath(), k)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// DriverConfig is the configuration to open the log's driver directly
// with: its storage key.
func (l Log) DriverConfig(t testing.TB) store.DriverConfig {
	return store.DriverConfig{EncryptionKey: l.MasterKey(t).StorageKey()}
}

// Driver opens the log's driver directly (the store must be closed),
// closed when the test ends.
func (l Log) Driver(t testing.TB) store.Driver {
	t.Helper()
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Options are the store options the suite opens a log with: the fixed
// clock, the test origin and the log's key files, then opts.
func (l Log) Options(opts ...store.Option) []store.Option {
	return append([]store.Option{store.WithClock(func() time.Time { return Now }), store.WithOrigin(Origin), store.WithSigningKeyFile(l.KeyFile), store.WithMasterKeyFile(l.MasterKeyPath())}, opts...)
}

// Open opens the log's store, closed when the test ends.
func (l Log) Open(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), l.URL, l.Options(opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Samples returns one event of every kind (eventtest.Samples).
func Samples() []*agenttrailv1.Event {
	var out []*agenttrailv1.Event
	for _, s := range append(eventtest.Samples(), eventtest.LifecycleSamples()...) {
		out = append(out, s.Event)
	}
	return out
}

// AppendOK appends events and fails the test unless every one is accepted.
func AppendOK(t testing.TB, s *store.Store, evs ...*agenttrailv1.Event) []store.Receipt {
	t.Helper()
	res, err := s.Append(context.Background(), "agent-1", evs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	var out []store.Receipt
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("Append event %d: %v", i, r.Err)
		}
		out = append(out, r.Receipt)
	}
	return out
}
