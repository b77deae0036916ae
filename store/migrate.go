package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// MigrateReport is what Migrate copied.
type MigrateReport struct {
	Origin      string
	Events      uint64
	Checkpoints int
	Credentials int
	// MasterKeyCreated is the master key file Migrate created for the new
	// storage, if it did.
	MasterKeyCreated string
}

// Migrate copies a log from plaintext storage written by an older build
// (format agenttrail-store-v1) into new, empty storage in the encrypted
// format this build writes, and verifies the copy against the original's
// signed checkpoints. The leaves, tree hashes, batch roots, checkpoints and
// credentials are copied byte for byte, so the log and every proof of it
// stay the same; content records are encrypted as they are copied (format
// v2: a key per event, wrapped by its subject's key, see masterkey.go).
//
// Nothing in the old storage is changed: nothing stored is ever rewritten.
// Serve from the new storage, and destroy the old one (its content is in
// the clear: on disk, deleting it leaves what the medium keeps).
//
// The options give the new storage's master key (WithMasterKey, or
// WithMasterKeyFile, which creates the key when the file does not exist)
// and verifierKey the log's checkpoint verifier key.
func Migrate(ctx context.Context, fromURL, toURL, verifierKey string, opts ...Option) (MigrateReport, error) {
	var rep MigrateReport
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o.apply(&cfg); err != nil {
			return rep, err
		}
	}
	if cfg.masterKey.IsZero() && cfg.masterKeyFile == "" {
		return rep, fmt.Errorf("%w: the new storage needs a master key: give WithMasterKey or WithMasterKeyFile", ErrInvalidArgument)
	}
	src, err := OpenDriver(ctx, fromURL, DriverConfig{ReadOnly: true, Logger: cfg.logger})
	if err != nil {
		return rep, fmt.Errorf("store: opening %s read-only: %w", redactURL(fromURL), err)
	}
	defer src.Close()
	st, err := src.Load(ctx)
	if err != nil {
		return rep, err
	}
	switch st.Format {
	case FormatPlaintext:
	case "":
		return rep, fmt.Errorf("%w: no log is stored in %s", ErrNotFound, redactURL(fromURL))
	default:
		return rep, fmt.Errorf("%w: %s holds format %q; only %q needs migrating", ErrInvalidArgument, redactURL(fromURL), st.Format, FormatPlaintext)
	}
	rep.Origin = st.Origin
	// The original must verify before anything is copied.
	v, err := commitment.NewCheckpointVerifier(verifierKey, st.Origin)
	if err != nil {
		return rep, fmt.Errorf("%w: verifier key: %v", ErrInvalidArgument, err)
	}
	if r, err := verifyLog(ctx, src, v, contentReader{}, 0, 0); err != nil {
		return rep, err
	} else if !r.OK() {
		return rep, fmt.Errorf("%w: the old storage does not verify, so it is not migrated: %v", ErrCorrupt, r.Problem)
	}

	mk, created, err := cfg.resolveMasterKey()
	if err != nil {
		return rep, err
	}
	rep.MasterKeyCreated = created
	dst, err := OpenDriver(ctx, toURL, DriverConfig{CacheBytes: cfg.cacheBytes, Logger: cfg.logger, EncryptionKey: mk.StorageKey()})
	if err != nil {
		return rep, cfg.openFailed(fmt.Errorf("store: opening %s: %w", redactURL(toURL), err), created)
	}
	defer dst.Close()
	if got, err := dst.Load(ctx); err != nil {
		return rep, err
	} else if got.Format != "" || got.Size != 0 {
		return rep, cfg.openFailed(fmt.Errorf("%w: %s is not empty: migrate into new storage", ErrAlreadyExists, redactURL(toURL)), created)
	}
	kr, err := newKeyring(dst, mk, cfg.keyHook)
	if err != nil {
		return rep, err
	}
	if err := dst.Init(ctx, LogMeta{Format: FormatVersion, Origin: st.Origin}); err != nil {
		return rep, err
	}
	if err := kr.checkMaster(ctx, true); err != nil {
		return rep, err
	}

	// One batch per original batch, so that the batch roots stay where
	// they were.
	subjects := map[subject]*subjectKey{}
	var prev uint64
	for root, err := range src.Roots(ctx, 0) {
		if err != nil {
			return rep, err
		}
		b, err := migrateBatch(ctx, src, kr, subjects, prev, root)
		if err != nil {
			return rep, err
		}
		if cp, err := src.Checkpoint(ctx, root.Size); err == nil {
			b.Checkpoint = cp
		} else if !errors.Is(err, ErrNotFound) {
			return rep, err
		}
		if err := dst.Commit(ctx, b); err != nil {
			return rep, fmt.Errorf("store: copying events [%d, %d): %w", prev, root.Size, err)
		}
		prev = root.Size
	}
	rep.Events = prev
	for cp, err := range src.Checkpoints(ctx, 0) {
		if err != nil {
			return rep, err
		}
		if err := dst.PutCheckpoint(ctx, cp.Size, cp.Note); err != nil {
			return rep, err
		}
		rep.Checkpoints++
	}
	for c, err := range src.Credentials(ctx) {
		if err != nil {
			return rep, err
		}
		revoked := c.RevokedAt
		c.RevokedAt = time.Time{}
		if err := dst.AddCredential(ctx, c); err != nil {
			return rep, err
		}
		if !revoked.IsZero() {
			if _, err := dst.RevokeCredential(ctx, c.ID, revoked); err != nil {
				return rep, err
			}
		}
		rep.Credentials++
	}
	r, err := verifyLog(ctx, dst, v, contentReader{keys: kr}, 0, 0)
	if err != nil {
		return rep, err
	}
	if !r.OK() || r.TreeSize != st.Size || r.Checkpoints != rep.Checkpoints {
		return rep, fmt.Errorf("%w: the copy does not verify as the original does: %+v", ErrCorrupt, r)
	}
	return rep, nil
}

// migrateBatch reads the original batch that ended at root and builds its
// encrypted copy.
func migrateBatch(ctx context.Context, src Driver, kr *keyring, subjects map[subject]*subjectKey, first uint64, root TreeRoot) (*Batch, error) {
	b := &Batch{First: first, Size: root.Size, Root: root.Root}
	indexes := make([]uint64, 0, root.Size-first)
	for i := first; i < root.Size; i++ {
		indexes = append(indexes, i)
	}
	raws, err := src.ReadEntries(ctx, indexes, true)
	if err != nil {
		return nil, err
	}
	random := make([]byte, encryptRandom*len(raws))
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	for k, raw := range raws {
		e, err := decodeHeader(raw)
		if err != nil {
			return nil, err
		}
		if raw.Content == nil {
			return nil, fmt.Errorf("%w: event %d has no content record", ErrCorrupt, raw.Index)
		}
		salt, content, err := decodeContentRecord(raw.Content)
		if err != nil {
			return nil, err
		}
		subj := subjectOf(e.Header)
		sk, ok := subjects[subj]
		if !ok {
			rnd := make([]byte, newSubjectKeyRandom)
			if _, err := rand.Read(rnd); err != nil {
				return nil, err
			}
			var rec KeyRecord
			if sk, rec, err = kr.newSubjectKey(subj, raw.Index, rnd); err != nil {
				return nil, err
			}
			b.Keys = append(b.Keys, rec)
			subjects[subj] = sk
		}
		crec, krec, err := encryptContent(raw.Index, sk, salt, content, random[k*encryptRandom:(k+1)*encryptRandom])
		if err != nil {
			return nil, err
		}
		b.Events = append(b.Events, BatchEvent{
			EventID: e.EventID(), LeafData: raw.LeafData, Content: crec, ContentKey: krec,
			Index: indexValues(e.Header),
		})
	}
	lo, hi := tlog.StoredHashIndex(0, int64(first)), tlog.StoredHashIndex(0, int64(root.Size))
	idx := make([]int64, 0, hi-lo)
	for i := lo; i < hi; i++ {
		idx = append(idx, i)
	}
	if b.Hashes, err = src.ReadHashes(ctx, idx); err != nil {
		return nil, err
	}
	return b, nil
}
