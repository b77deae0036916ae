package store

import (
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
	// logged erasure or retention) count what was verified.
	Events, Checkpoints, ContentChecked, Erased int
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
	rep, err := VerifyBackups(ctx, files, o.VerifierKey)
	if err != nil {
		return rep, err
	}
	if rep.Base != 0 {
		return rep, fmt.Errorf("%w: %s is an incremental backup: restore starts with the full backup it follows", ErrInvalidArgument, files[0].Name)
	}
	d, err := OpenDriver(ctx, storeURL, DriverConfig{})
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
	if err := d.Init(ctx, LogMeta{Format: FormatVersion, Origin: rep.Origin}); err != nil {
		return rep, errors.Join(err, d.Close())
	}
	w := &restoreWriter{ctx: ctx, d: d}
	c := &backupChain{key: rep.VerifierKey, sink: w}
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
	vr, err := VerifyStorage(ctx, storeURL, rep.VerifierKey)
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
	case hdr.GetStoreFormat() != FormatVersion:
		return fmt.Errorf("%w: %s holds a log of the format %q, this build writes %q", ErrInvalidArgument, name, hdr.GetStoreFormat(), FormatVersion)
	}
	if first {
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
	var events, checkpoints, credentials uint64
	phase := 0 // 0 checkpoints, 1 events, 2 credentials, 3 trailer
	c.creds = nil
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
		case *agenttrailv1.BackupRecord_Event:
			if phase > 1 {
				return fmt.Errorf("%w: %s has an event after its credentials", ErrCorrupt, name)
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
			if t.GetEvents() != events || t.GetCheckpoints() != checkpoints || t.GetCredentials() != credentials {
				return fmt.Errorf("%w: %s: its trailer counts %d events, %d checkpoints and %d credentials; it holds %d, %d and %d", ErrCorrupt, name,
					t.GetEvents(), t.GetCheckpoints(), t.GetCredentials(), events, checkpoints, credentials)
			}
		default:
			return fmt.Errorf("%w: %s holds a record this build does not know (a newer format?)", ErrInvalidArgument, name)
		}
	}
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
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: event %d does not verify: %s", ErrCorrupt, name, i, fmt.Sprintf(format, a...))
	}
	e, err := decodeEntry(raw, true)
	if err != nil {
		return bad("%v", err)
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
	w.batch.Events = append(w.batch.Events, BatchEvent{
		EventID:       e.EventID(),
		LeafData:      raw.LeafData,
		Content:       raw.Content,
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
