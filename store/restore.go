package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// BackupReport says what a verified chain of backups holds.
type BackupReport struct {
	// Origin is the log's origin; VerifierKey the key its checkpoints
	// verified with, which is the one stated by the first backup itself
	// when SelfKeyed is set (then verification shows only that the backups
	// are consistent with themselves).
	Origin      string
	VerifierKey string
	SelfKeyed   bool
	// Files is the number of backups in the chain; Base the first event
	// index they hold (0 when the chain starts with a full backup); and
	// Checkpoint the last backup's checkpoint, whose tree the chain's events
	// make.
	Files      int
	Base       uint64
	Checkpoint Checkpoint
	// Events, Checkpoints, ContentChecked (events whose content matched
	// its digest) and Erased (events whose content was destroyed by a
	// logged erasure or retention) count what was verified. Sealed counts
	// the events of an encrypted store whose content the backups hold
	// encrypted: their digests are checked when Restore verifies the
	// restored store with the master key.
	Events, Checkpoints, ContentChecked, Erased, Sealed int
	// StoreFormat is the format of the store the backups were taken of:
	// FormatPlaintext, or FormatVersion (encrypted: restoring needs its
	// master key).
	StoreFormat string
	// KeyringRecords counts the keyring records of the last backup.
	KeyringRecords int
	// claims are the indexes the chain's Erasure and Retention events name.
	claims *coverage
	// Credentials are the API key credentials of the last backup whose
	// creation the log records, with the revocations it records; Skipped
	// says which others there were and why they are left out.
	Credentials []Credential
	Skipped     []string
}

// BackupFile is one backup of a chain, opened when it is read (a restore
// reads each backup twice: to verify it, then to write it).
type BackupFile struct {
	Name string
	Open func() (io.ReadCloser, error)
}

// BackupPath is a BackupFile of a file on disk.
func BackupPath(path string) BackupFile {
	return BackupFile{Name: path, Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// VerifyBackups verifies a chain of backups without any store: the first
// one full or incremental, each next one following the one before. It
// checks each file's trailer, every checkpoint's signature with
// verifierKey (or, when it is empty, with the key the first backup states,
// reported as SelfKeyed), every event's leaf and content digest, the
// recomputed tree against every checkpoint, that content is missing only
// where a logged erasure or retention names it, and the credentials against
// the key changes the log records. The error names the file, and the first
// log index, that does not verify.
//
// The content of a backup of an encrypted store is checked too when
// Restore verifies it with the master key; VerifyBackups, without it,
// counts it as Sealed.
func VerifyBackups(ctx context.Context, files []BackupFile, verifierKey string) (BackupReport, error) {
	c := &backupChain{key: verifierKey}
	return c.run(ctx, files, false)
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// VerifierKey is the log's note verifier key. Empty means the key the
	// first backup states (see BackupReport.SelfKeyed).
	VerifierKey string
	// WithoutKeys leaves the API key credentials out.
	WithoutKeys bool
	// MasterKey is the master key of the store the backups were taken of,
	// needed to restore an encrypted store's backups: the keys they carry
	// are wrapped by it, and the restored storage is encrypted under it.
	MasterKey MasterKey
}

// Restore writes a chain of backups, a full one then the incremental ones
// that follow it, into the empty storage at a URL, after verifying all of
// it (VerifyBackups) without writing a byte. It then writes the log through
// the driver in batches that end at every checkpoint, verifying each record
// again as it goes, and finally verifies the restored storage from its raw
// bytes (VerifyStorage). Storage that holds a log is refused. When the
// writing fails, the storage holds part of the log: use new storage (the
// command line restores into a temporary directory and renames it).
func Restore(ctx context.Context, storeURL string, files []BackupFile, o RestoreOptions) (BackupReport, error) {
	vc := &backupChain{key: o.VerifierKey, master: o.MasterKey}
	rep, err := vc.run(ctx, files, false)
	if err != nil {
		return rep, err
	}
	if rep.Base != 0 {
		return rep, fmt.Errorf("%w: %s is an incremental backup: restore starts with the full backup it follows", ErrInvalidArgument, files[0].Name)
	}
	var cfg DriverConfig
	var verifyOpts []VerifyOption
	if rep.StoreFormat == FormatVersion {
		if o.MasterKey.IsZero() {
			return rep, fmt.Errorf("%w: the backups are of an encrypted store: give its master key", ErrWrongKey)
		}
		cfg.EncryptionKey = o.MasterKey.StorageKey()
		verifyOpts = append(verifyOpts, VerifyWithMasterKey(o.MasterKey))
	}
	d, err := OpenDriver(ctx, storeURL, cfg)
	if err != nil {
		return rep, err
	}
	st, err := d.Load(ctx)
	if err != nil {
		return rep, errors.Join(err, d.Close())
	}
	if st.Format != "" || st.Size > 0 {
		return rep, errors.Join(fmt.Errorf("%w: %s holds a log already: restore only into new storage", ErrAlreadyExists, redactURL(storeURL)), d.Close())
	}
	// The restored log is of the format of the store backed up.
	if err := d.Init(ctx, LogMeta{Format: rep.StoreFormat, Origin: rep.Origin}); err != nil {
		return rep, errors.Join(err, d.Close())
	}
	w := &restoreWriter{ctx: ctx, d: d, master: o.MasterKey, claims: rep.claims}
	c := &backupChain{key: rep.VerifierKey, sink: w, master: o.MasterKey}
	if _, err := c.run(ctx, files, true); err != nil {
		return rep, errors.Join(fmt.Errorf("store: restoring: %w", err), d.Close())
	}
	if !o.WithoutKeys {
		for _, cred := range rep.Credentials {
			if err := d.AddCredential(ctx, cred); err != nil {
				return rep, errors.Join(err, d.Close())
			}
			if !cred.RevokedAt.IsZero() {
				if _, err := d.RevokeCredential(ctx, cred.ID, cred.RevokedAt); err != nil {
					return rep, errors.Join(err, d.Close())
				}
			}
		}
	}
	if err := d.Close(); err != nil {
		return rep, err
	}
	vr, err := VerifyStorage(ctx, storeURL, rep.VerifierKey, verifyOpts...)
	if err != nil {
		return rep, fmt.Errorf("store: verifying the restored log: %w", err)
	}
	if vr.Problem != nil || vr.TreeSize != rep.Checkpoint.Size {
		return rep, fmt.Errorf("%w: the restored log does not verify: %d events, problem: %v", ErrCorrupt, vr.TreeSize, vr.Problem)
	}
	return rep, nil
}

// restoreSink receives a verified chain, record by record.
type restoreSink interface {
	// event is called for every event, with the tree hashes it adds; it
	// returns whether its batch is full.
	event(e *Entry, raw RawEntry, hashes []tlog.Hash) (full bool, err error)
	// boundary is called where a batch must end: when it is full, after
	// the event that completes the tree of a checkpoint (note is then that
	// checkpoint), and at the end of each file.
	boundary(size uint64, root tlog.Hash, note []byte) error
	// keys is called with the keyring records of a backup, before its
	// events.
	keys(recs []KeyRecord) error
}

// backupChain verifies a chain of backups.
type backupChain struct {
	key    string
	v      *commitment.CheckpointVerifier
	rep    BackupReport
	fr     *frontier
	next   uint64
	last   Checkpoint
	ledger commitment.ErasureLedger
	keys   map[string]*loggedKey
	creds  []Credential
	sink   restoreSink
	// master, when set, opens the content of an encrypted store's backups
	// with the keyring records they carry (ring), so that its digests are
	// checked too.
	master MasterKey
	ring   *keyring
	mem    *memKeyring
}

// loggedKey is what the log's key change events say of one API key.
type loggedKey struct {
	principal, role  string
	created, revoked bool
	revokedAt        time.Time
}

func (c *backupChain) run(ctx context.Context, files []BackupFile, fullFirst bool) (BackupReport, error) {
	if len(files) == 0 {
		return c.rep, fmt.Errorf("%w: no backup to read", ErrInvalidArgument)
	}
	c.keys = map[string]*loggedKey{}
	for i, f := range files {
		r, err := f.Open()
		if err != nil {
			return c.rep, err
		}
		br, err := newBackupReader(r, f.Name)
		if err == nil {
			err = c.file(ctx, br, f.Name, i == 0)
			if err != nil && !br.done && c.sink == nil {
				// A file that fails to verify may just be damaged: read
				// on to its trailer, and say so when its SHA-256 differs.
				var hm *hashMismatch
				if derr := br.drain(); errors.As(derr, &hm) {
					err = fmt.Errorf("%w (the first problem found: %v)", derr, err)
				}
			}
		}
		r.Close()
		if err != nil {
			return c.rep, err
		}
		c.rep.Files++
	}
	if u := c.ledger.Unproven(); len(u) > 0 {
		return c.rep, fmt.Errorf("%w: the content of event %d is missing, and no later erasure or retention event names it", ErrCorrupt, u[0])
	}
	c.rep.Checkpoint = c.last
	for _, cred := range c.creds {
		k := c.keys[cred.ID]
		switch {
		case k == nil || !k.created:
			c.rep.Skipped = append(c.rep.Skipped, fmt.Sprintf("API key %s (%s): the log does not record its creation", cred.ID, cred.Principal))
		case k.principal != cred.Principal || k.role != cred.Role:
			c.rep.Skipped = append(c.rep.Skipped, fmt.Sprintf("API key %s: the log records it for %s as %s, the backup for %s as %s", cred.ID, k.principal, k.role, cred.Principal, cred.Role))
		default:
			if k.revoked && cred.RevokedAt.IsZero() {
				// The log wins: the key was revoked.
				cred.RevokedAt = k.revokedAt
			}
			c.rep.Credentials = append(c.rep.Credentials, cred)
		}
	}
	return c.rep, nil
}

// file verifies one backup of the chain.
func (c *backupChain) file(ctx context.Context, br *backupReader, name string, first bool) error {
	rec, err := br.next()
	if err != nil {
		return err
	}
	hdr := rec.GetHeader()
	switch {
	case hdr == nil:
		return fmt.Errorf("%w: %s does not start with a header", ErrCorrupt, name)
	case hdr.GetFormat() != BackupFormat:
		return fmt.Errorf("%w: %s is in the format %q, this build reads %q", ErrInvalidArgument, name, hdr.GetFormat(), BackupFormat)
	case hdr.GetStoreFormat() != FormatVersion && hdr.GetStoreFormat() != FormatPlaintext:
		return fmt.Errorf("%w: %s holds a log of the format %q, this build reads %q and %q", ErrInvalidArgument, name, hdr.GetStoreFormat(), FormatVersion, FormatPlaintext)
	case !first && hdr.GetStoreFormat() != c.rep.StoreFormat:
		return fmt.Errorf("%w: %s holds a log of the format %q, the backups before it of %q", ErrInvalidArgument, name, hdr.GetStoreFormat(), c.rep.StoreFormat)
	}
	if first {
		c.rep.StoreFormat = hdr.GetStoreFormat()
		c.rep.claims = &coverage{}
		c.rep.Origin = hdr.GetOrigin()
		if c.key == "" {
			c.key, c.rep.SelfKeyed = hdr.GetVerifierKey(), true
		}
		if c.v, err = commitment.NewCheckpointVerifier(c.key, c.rep.Origin); err != nil {
			return fmt.Errorf("%w: verifier key: %v", ErrInvalidArgument, err)
		}
		c.rep.VerifierKey = c.key
	} else if hdr.GetOrigin() != c.rep.Origin {
		return fmt.Errorf("%w: %s is a backup of the log %q, the backups before it of %q", ErrInvalidArgument, name, hdr.GetOrigin(), c.rep.Origin)
	}
	cp, err := openCheckpoint(c.v, hdr.GetCheckpoint())
	if err != nil {
		return fmt.Errorf("%s: its checkpoint does not verify with the key %s: %w", name, c.key, err)
	}
	if err := c.base(hdr, name, first); err != nil {
		return err
	}
	if cp.Size < c.next {
		return fmt.Errorf("%w: %s ends at %d events, before its base at %d", ErrCorrupt, name, cp.Size, c.next)
	}

	var pending []Checkpoint // checkpoints not reached yet, by size
	var stored uint64        // the largest size a checkpoint is stored for
	var events, checkpoints, credentials, keyrings uint64
	phase := 0 // 0 checkpoints and keyring records, 1 events, 2 credentials, 3 trailer
	c.creds = nil
	var ring []KeyRecord
	flushRing := func() error {
		if c.sink == nil || ring == nil {
			return nil
		}
		err := c.sink.keys(ring)
		ring = ring[:0]
		return err
	}
	for {
		rec, err := br.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if events%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch r := rec.GetRecord().(type) {
		case *agenttrailv1.BackupRecord_Checkpoint:
			if phase > 0 {
				return fmt.Errorf("%w: %s has a checkpoint after its events", ErrCorrupt, name)
			}
			k, err := openCheckpoint(c.v, r.Checkpoint.GetSignedNote())
			if err != nil {
				return fmt.Errorf("%s: the checkpoint stored for size %d does not verify: %w", name, r.Checkpoint.GetTreeSize(), err)
			}
			if k.Size != r.Checkpoint.GetTreeSize() || k.Size <= c.next || k.Size > cp.Size || (len(pending) > 0 && k.Size <= pending[len(pending)-1].Size) {
				return fmt.Errorf("%w: %s holds a checkpoint of size %d out of place (stored for %d, events [%d, %d))", ErrCorrupt, name, k.Size, r.Checkpoint.GetTreeSize(), c.next, cp.Size)
			}
			pending = append(pending, k)
			stored = k.Size
			checkpoints++
		case *agenttrailv1.BackupRecord_KeyringRecord:
			switch {
			case phase > 0:
				return fmt.Errorf("%w: %s has a keyring record after its events", ErrCorrupt, name)
			case c.rep.StoreFormat != FormatVersion:
				return fmt.Errorf("%w: %s, a backup of a store in the clear, holds a keyring record", ErrCorrupt, name)
			case len(r.KeyringRecord.GetName()) == 0 || r.KeyringRecord.GetName()[0] == keyKindEvent:
				return fmt.Errorf("%w: %s holds a keyring record named %x, which is not one a backup carries apart from its event", ErrCorrupt, name, r.KeyringRecord.GetName())
			}
			ring = append(ring, KeyRecord{Name: r.KeyringRecord.GetName(), Value: r.KeyringRecord.GetValue()})
			if err := c.noteKey(r.KeyringRecord.GetName(), r.KeyringRecord.GetValue()); err != nil {
				return err
			}
			keyrings++
		case *agenttrailv1.BackupRecord_Event:
			if phase > 1 {
				return fmt.Errorf("%w: %s has an event after its credentials", ErrCorrupt, name)
			}
			if phase == 0 {
				if err := flushRing(); err != nil {
					return err
				}
			}
			phase = 1
			if err := c.event(r.Event, name); err != nil {
				return err
			}
			events++
			for len(pending) > 0 && pending[0].Size == c.next {
				if err := c.reached(pending[0], name); err != nil {
					return err
				}
				pending = pending[1:]
			}
		case *agenttrailv1.BackupRecord_Credential:
			if phase > 2 {
				return fmt.Errorf("%w: %s has a credential after its trailer", ErrCorrupt, name)
			}
			phase = 2
			c.creds = append(c.creds, credentialOf(r.Credential))
			credentials++
		case *agenttrailv1.BackupRecord_Trailer:
			phase = 3
			t := r.Trailer
			if t.GetEvents() != events || t.GetCheckpoints() != checkpoints || t.GetCredentials() != credentials || t.GetKeyringRecords() != keyrings {
				return fmt.Errorf("%w: %s: its trailer counts %d events, %d checkpoints, %d credentials and %d keyring records; it holds %d, %d, %d and %d", ErrCorrupt, name,
					t.GetEvents(), t.GetCheckpoints(), t.GetCredentials(), t.GetKeyringRecords(), events, checkpoints, credentials, keyrings)
			}
		default:
			return fmt.Errorf("%w: %s holds a record this build does not know (a newer format?)", ErrInvalidArgument, name)
		}
	}
	if err := flushRing(); err != nil {
		return err
	}
	c.rep.KeyringRecords = int(keyrings)
	if c.next != cp.Size {
		return fmt.Errorf("%w: %s holds the events up to %d, but its checkpoint covers %d", ErrCorrupt, name, c.next, cp.Size)
	}
	if len(pending) > 0 {
		return fmt.Errorf("%w: %s holds a checkpoint of size %d beyond its events", ErrCorrupt, name, pending[0].Size)
	}
	end := cp
	if stored > 0 && stored == cp.Size {
		end.Note = nil // the checkpoint stored at that size was written with its batch
	}
	if err := c.reached(end, name); err != nil {
		return err
	}
	c.last = cp
	c.rep.Checkpoints += int(checkpoints)
	return nil
}

// base sets the chain up for a file's base: the empty tree for a full
// backup; the frontier the header states for an incremental one that
// starts a chain; and for one that follows another, the tree so far, whose
// checkpoint must be its base.
func (c *backupChain) base(hdr *agenttrailv1.BackupHeader, name string, first bool) error {
	if len(hdr.GetBaseCheckpoint()) == 0 {
		if !first {
			return fmt.Errorf("%w: %s is a full backup: it cannot follow another in a chain", ErrInvalidArgument, name)
		}
		c.fr, c.next = &frontier{}, 0
		return nil
	}
	base, err := openCheckpoint(c.v, hdr.GetBaseCheckpoint())
	if err != nil {
		return fmt.Errorf("%s: the checkpoint it follows does not verify: %w", name, err)
	}
	if !first {
		if base.Size != c.last.Size || base.Root != c.last.Root {
			return fmt.Errorf("%w: %s follows the checkpoint of size %d, but the backup before it ends at the checkpoint of size %d: give the backups in the order they were taken, none missing", ErrInvalidArgument, name, base.Size, c.last.Size)
		}
		return nil
	}
	fr := &frontier{size: base.Size}
	for level, h := range hdr.GetBaseFrontier() {
		if len(h) != HashSize || base.Size>>level == 0 {
			return fmt.Errorf("%w: %s: its base frontier is malformed", ErrCorrupt, name)
		}
		fr.nodes = append(fr.nodes, frontierNode{n: int64(base.Size>>level) - 1, hash: tlog.Hash(h), ok: true})
	}
	root, err := fr.root()
	if err != nil || root != base.Root {
		return fmt.Errorf("%w: %s: its base frontier does not hash to the checkpoint it follows", ErrCorrupt, name)
	}
	c.fr, c.next, c.rep.Base = fr, base.Size, base.Size
	return nil
}

// event verifies one event and extends the tree with it.
func (c *backupChain) event(ev *agenttrailv1.BackupEvent, name string) error {
	i := ev.GetLogIndex()
	if i != c.next {
		return fmt.Errorf("%w: %s: event %d is out of place (expected %d)", ErrCorrupt, name, i, c.next)
	}
	raw := RawEntry{Index: i, LeafData: ev.GetLeafData(), Erased: ev.GetContentErased()}
	if !raw.Erased {
		raw.Content = ev.GetContentRecord()
		if raw.Content == nil {
			raw.Content = []byte{}
		}
		raw.ContentKey = ev.GetContentKey()
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: event %d does not verify: %s", ErrCorrupt, name, i, fmt.Sprintf(format, a...))
	}
	e, err := decodeHeader(raw)
	if err != nil {
		return bad("%v", err)
	}
	switch {
	case raw.Erased && (len(ev.GetContentRecord()) > 0 || len(ev.GetContentKey()) > 0):
		return bad("it is marked erased, yet holds content or a key")
	case raw.Erased:
		e.ContentState = ContentErased
	case c.rep.StoreFormat == FormatVersion:
		if len(raw.Content) == 0 || raw.Content[0] != contentRecordVersionEncrypted {
			return bad("its content record is not of version %d, the format of an encrypted store", contentRecordVersionEncrypted)
		}
		if len(raw.ContentKey) == 0 {
			return bad("its encrypted content comes without its key, and it is not marked erased")
		}
		if c.ring == nil {
			// Without the master key its digest is checked once
			// restored, with the keys.
			c.rep.Sealed++
			break
		}
		if err := (contentReader{keys: c.ring}).open(context.Background(), e, raw); err != nil {
			return bad("its content does not open with the keys the backup carries (%v)", err)
		}
	default:
		// In the clear: read without a keyring.
		if len(raw.ContentKey) > 0 {
			return bad("a backup of a store in the clear holds a content key")
		}
		if err := (contentReader{}).open(context.Background(), e, raw); err != nil {
			return bad("%v", err)
		}
	}
	if rs, ok := erasedIndexes(e.Header); ok && c.rep.claims != nil {
		c.rep.claims.add(i, rs)
	}
	switch e.ContentState {
	case ContentPresent:
		if commitment.ContentDigest(e.Salt, e.Content) != e.ContentDigest {
			return bad("its content does not match its committed digest")
		}
		c.rep.ContentChecked++
	case ContentErased:
		c.rep.Erased++
	}
	c.ledger.Note(i, e.Header, e.ContentState == ContentErased)
	if k := e.Header.GetKeyChange(); k != nil {
		lk := c.keys[k.GetKeyId()]
		if lk == nil {
			lk = &loggedKey{}
			c.keys[k.GetKeyId()] = lk
		}
		switch k.GetAction() {
		case agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_CREATED:
			lk.principal, lk.role, lk.created = k.GetKeyPrincipal(), k.GetKeyRole(), true
		case agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_REVOKED:
			lk.revoked, lk.revokedAt = true, e.Header.GetOccurredAt().AsTime()
		}
	}
	hashes, err := c.fr.add(e.LeafHash)
	if err != nil {
		return err
	}
	c.next++
	c.rep.Events++
	if c.sink == nil {
		return nil
	}
	full, err := c.sink.event(e, raw, hashes)
	if err != nil || !full {
		return err
	}
	root, err := c.fr.root()
	if err != nil {
		return err
	}
	return c.sink.boundary(c.next, root, nil)
}

// reached checks the tree against a checkpoint of its size.
func (c *backupChain) reached(cp Checkpoint, name string) error {
	root, err := c.fr.root()
	if err != nil {
		return err
	}
	if root != cp.Root {
		return fmt.Errorf("%w: %s: the recomputed tree of %d events does not match the signed checkpoint of that size: an event below it was altered", ErrCorrupt, name, cp.Size)
	}
	if c.sink != nil && cp.Size > 0 {
		return c.sink.boundary(cp.Size, root, cp.Note)
	}
	return nil
}

// restoreWriter commits a verified chain through a driver, in batches that
// end at every checkpoint and are no larger than the engine's own.
type restoreWriter struct {
	ctx   context.Context
	d     Driver
	batch Batch
	bytes int
	// master is the master key of an encrypted store's backups; claims
	// what the chain's Erasure and Retention events name: content they
	// name is restored without its key, so that it reads as erased even
	// when a backup was taken before its keys were destroyed.
	master  MasterKey
	claims  *coverage
	checked bool
}

// A restored batch holds at most restoreBatchEvents events and about
// restoreBatchBytes bytes, like the sequencer's by default.
const (
	restoreBatchEvents = 1024
	restoreBatchBytes  = 8 << 20
)

func (w *restoreWriter) event(e *Entry, raw RawEntry, hashes []tlog.Hash) (bool, error) {
	if len(w.batch.Events) == 0 {
		w.batch, w.bytes = Batch{First: e.Index}, 0
	}
	w.bytes += len(raw.LeafData) + len(raw.Content)
	key := raw.ContentKey
	if w.claims != nil {
		if _, ok := w.claims.erasedBy(e.Index); ok {
			key = nil
		}
	}
	w.batch.Events = append(w.batch.Events, BatchEvent{
		EventID:       e.EventID(),
		LeafData:      raw.LeafData,
		Content:       raw.Content,
		ContentKey:    key,
		ContentErased: raw.Erased,
		Index:         indexValues(e.Header),
	})
	for _, h := range hashes {
		w.batch.Hashes = append(w.batch.Hashes, h)
	}
	return len(w.batch.Events) >= restoreBatchEvents || w.bytes >= restoreBatchBytes, nil
}

func (w *restoreWriter) boundary(size uint64, root tlog.Hash, note []byte) error {
	if len(w.batch.Events) == 0 {
		if note != nil {
			return w.d.PutCheckpoint(w.ctx, size, note)
		}
		return nil
	}
	w.batch.Size, w.batch.Root, w.batch.Checkpoint = size, root, note
	err := w.d.Commit(w.ctx, &w.batch)
	w.batch = Batch{}
	return err
}

// keys stores keyring records, and checks once that the master key given
// opens them.
func (w *restoreWriter) keys(recs []KeyRecord) error {
	if err := w.d.PutKeys(w.ctx, recs); err != nil {
		return err
	}
	if w.checked {
		return nil
	}
	k, err := newKeyring(w.d, w.master, nil)
	if err != nil {
		return err
	}
	if err := k.checkMaster(w.ctx, false); err != nil {
		return err
	}
	w.checked = true
	return nil
}

// noteKey adds a keyring record of an encrypted store's backup to the
// in-memory keyring that opens its content, when the master key is given;
// the first record that is the master key check is checked.
func (c *backupChain) noteKey(name, value []byte) error {
	if c.master.IsZero() {
		return nil
	}
	if c.ring == nil {
		c.mem = &memKeyring{recs: map[string][]byte{}}
		k, err := newKeyring(c.mem, c.master, nil)
		if err != nil {
			return err
		}
		c.ring = k
	}
	c.mem.recs[string(name)] = bytes.Clone(value)
	if bytes.Equal(name, masterCheckName) {
		return c.ring.checkMaster(context.Background(), false)
	}
	return nil
}

// memKeyring holds the keyring records of backups in memory: the one
// Driver method a keyring reads content keys with.
type memKeyring struct {
	Driver // nil: no other method is called
	recs   map[string][]byte
}

func (m *memKeyring) Keys(ctx context.Context, names [][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, n := range names {
		if v, ok := m.recs[string(n)]; ok {
			out[string(n)] = v
		}
	}
	return out, nil
}
