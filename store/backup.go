package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// Backups hold the log as the engine reads it through any Driver, not a
// storage engine's files: the header, the signed checkpoints, every event's
// leaf data and content record, the API key credentials, and a trailer with
// the SHA-256 of everything before it (proto/agenttrail/v1/backup.proto).
// So a backup verifies without the store that wrote it (every leaf, content
// digest, tree root and checkpoint signature), and restores into any
// driver. A backup is taken at a signed checkpoint, from records that never
// change below its size, so it is consistent while appends go on; an
// incremental one holds the events after an earlier backup's checkpoint,
// with the frontier of that tree so that it verifies on its own too.

// BackupFormat is the format of the backups this build writes and reads,
// the first line of every backup file.
const BackupFormat = "agenttrail-backup-v1"

var backupMagic = []byte(BackupFormat + "\n")

// BackupSummary says what a backup holds.
type BackupSummary struct {
	// Origin is the log's origin.
	Origin string
	// Base and Checkpoint.Size bound the events the backup holds:
	// [Base, Checkpoint.Size). Base is 0 for a full backup.
	Base       uint64
	Checkpoint Checkpoint
	// Events, Checkpoints, Credentials and KeyringRecords count the
	// records.
	Events, Checkpoints, Credentials, KeyringRecords int
}

// Backup emits the records of a backup of the log at its latest signed
// checkpoint, in file order: the whole log when base is nil, else the events
// after the checkpoint base (the signed note of an earlier backup's
// checkpoint, which must be of this log's tree). The trailer's sha256 is
// left for the writer of the file (BackupWriter). It reads through the
// driver while appends go on; the records it emits never change.
func (s *Store) Backup(ctx context.Context, base []byte, emit func(*agenttrailv1.BackupRecord) error) (BackupSummary, error) {
	var sum BackupSummary
	err := s.reading(ctx, func() error {
		var err error
		sum, err = backupLog(ctx, s.d, s.verifier, s.hashes, s.LatestCheckpoint(), base, s.cfg.now(), s.content, emit)
		return err
	})
	return sum, err
}

// BackupStorage writes a backup of the log in a storage URL, opened
// read-only (a Badger data directory must not be in use by a running
// server), at its latest stored checkpoint. verifierKey is the log's note
// verifier key; base is as for Store.Backup. An encrypted store needs its
// master key (VerifyWithMasterKey or VerifyWithMasterKeyFile): the backup
// carries the content encrypted, with its keys wrapped, but the master key
// tells which content an erasure destroyed.
func BackupStorage(ctx context.Context, storeURL, verifierKey string, base []byte, w io.Writer, opts ...VerifyOption) (BackupSummary, error) {
	d, cr, err := openForReading(ctx, storeURL, opts)
	if err != nil {
		return BackupSummary{}, err
	}
	defer d.Close()
	st, err := d.Load(ctx)
	if err != nil {
		return BackupSummary{}, err
	}
	if st.Origin == "" {
		return BackupSummary{}, fmt.Errorf("%w: no log is stored there", ErrNotFound)
	}
	v, err := commitment.NewCheckpointVerifier(verifierKey, st.Origin)
	if err != nil {
		return BackupSummary{}, fmt.Errorf("%w: verifier key: %v", ErrInvalidArgument, err)
	}
	_, note, err := d.LatestCheckpoint(ctx)
	if err != nil {
		return BackupSummary{}, fmt.Errorf("store: the log has no signed checkpoint to back up at: %w", err)
	}
	cp, err := openCheckpoint(v, note)
	if err != nil {
		return BackupSummary{}, err
	}
	bw, err := NewBackupWriter(w)
	if err != nil {
		return BackupSummary{}, err
	}
	sum, err := backupLog(ctx, d, v, newHashReader(d), cp, base, time.Now(), cr, bw.Write)
	if err != nil {
		return sum, err
	}
	return sum, bw.Flush()
}

// backupLog emits a backup of the log in d at the checkpoint cp. cr reads
// the content: with a keyring for an encrypted store, whose content is
// backed up encrypted, with its content keys, unless cr finds it erased.
func backupLog(ctx context.Context, d Driver, v *commitment.CheckpointVerifier, hashes tlog.HashReader, cp Checkpoint, baseNote []byte, now time.Time, cr contentReader, emit func(*agenttrailv1.BackupRecord) error) (BackupSummary, error) {
	sum := BackupSummary{Origin: cp.Origin, Checkpoint: cp}
	if cp.Note == nil {
		return sum, fmt.Errorf("%w: the log has no signed checkpoint to back up at yet", ErrNotFound)
	}
	format := FormatPlaintext
	if cr.keys != nil {
		format = FormatVersion
	}
	hdr := &agenttrailv1.BackupHeader{
		Format:      BackupFormat,
		Origin:      cp.Origin,
		StoreFormat: format,
		Checkpoint:  cp.Note,
		VerifierKey: v.Key().String(),
		CreatedAt:   timestamppb.New(now),
	}
	if baseNote != nil {
		base, err := openCheckpoint(v, baseNote)
		if err != nil {
			return sum, fmt.Errorf("%w: the earlier backup's checkpoint is not one of this log (%v)", ErrInvalidArgument, err)
		}
		if base.Size > cp.Size {
			return sum, fmt.Errorf("%w: the earlier backup covers %d events, more than the log's latest checkpoint (%d)", ErrInvalidArgument, base.Size, cp.Size)
		}
		if base.Size > 0 {
			root, err := tlog.TreeHash(int64(base.Size), hashes)
			if err != nil {
				return sum, err
			}
			if root != base.Root {
				return sum, fmt.Errorf("%w: the earlier backup's checkpoint of size %d is not of this log's tree", ErrInvalidArgument, base.Size)
			}
			fr, err := loadFrontier(hashes, base.Size)
			if err != nil {
				return sum, err
			}
			for _, n := range fr.nodes {
				hdr.BaseFrontier = append(hdr.BaseFrontier, bytes.Clone(n.hash[:]))
			}
		}
		hdr.BaseCheckpoint = base.Note
		sum.Base = base.Size
	}
	if err := emit(&agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_Header{Header: hdr}}); err != nil {
		return sum, err
	}
	for c, err := range d.Checkpoints(ctx, sum.Base) {
		if err != nil {
			return sum, err
		}
		if c.Size > cp.Size {
			break
		}
		rec := &agenttrailv1.BackupCheckpoint{TreeSize: c.Size, SignedNote: c.Note}
		if err := emit(&agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_Checkpoint{Checkpoint: rec}}); err != nil {
			return sum, err
		}
		sum.Checkpoints++
	}
	// The keyring before the events: a key an erasure destroys while the
	// backup runs is then either here with content that is not erased yet
	// at the backup's checkpoint, or gone with content the reader below
	// finds erased.
	if cr.keys != nil {
		for _, kind := range []byte{keyKindMaster, keyKindSubject} {
			for rec, err := range d.KeysWithPrefix(ctx, []byte{kind}) {
				if err != nil {
					return sum, fmt.Errorf("store: reading the keyring for the backup: %w", err)
				}
				kr := &agenttrailv1.BackupKeyringRecord{Name: rec.Name, Value: rec.Value}
				if err := emit(&agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_KeyringRecord{KeyringRecord: kr}}); err != nil {
					return sum, err
				}
				sum.KeyringRecords++
			}
		}
	}
	next := sum.Base
	for raw, err := range d.Scan(ctx, ScanRequest{Filter: &Filter{}, Lo: sum.Base, Hi: cp.Size, Content: true}) {
		if err != nil {
			return sum, fmt.Errorf("store: reading event %d for the backup: %w", next, err)
		}
		switch {
		case raw.Index != next:
			return sum, fmt.Errorf("%w: event %d is missing from the store", ErrCorrupt, next)
		case raw.Content == nil && !raw.Erased:
			return sum, fmt.Errorf("%w: the content of event %d is missing and was not erased", ErrCorrupt, raw.Index)
		}
		ev := &agenttrailv1.BackupEvent{LogIndex: raw.Index, LeafData: raw.LeafData, ContentRecord: raw.Content, ContentErased: raw.Erased}
		if raw.Content != nil {
			erased, err := backupContent(ctx, cr, raw)
			if err != nil {
				return sum, err
			}
			if erased {
				ev.ContentRecord, ev.ContentErased = nil, true
			} else if cr.keys != nil {
				ev.ContentKey = raw.ContentKey
			}
		}
		if err := emit(&agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_Event{Event: ev}}); err != nil {
			return sum, err
		}
		sum.Events++
		next++
	}
	if next != cp.Size {
		return sum, fmt.Errorf("%w: the store holds events up to %d, but its checkpoint covers %d", ErrCorrupt, next, cp.Size)
	}
	for c, err := range d.Credentials(ctx) {
		if err != nil {
			return sum, err
		}
		if err := emit(&agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_Credential{Credential: credentialRecord(c)}}); err != nil {
			return sum, err
		}
		sum.Credentials++
	}
	tr := &agenttrailv1.BackupTrailer{Events: uint64(sum.Events), Checkpoints: uint64(sum.Checkpoints), Credentials: uint64(sum.Credentials), KeyringRecords: uint64(sum.KeyringRecords)}
	return sum, emit(&agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_Trailer{Trailer: tr}})
}

// backupContent checks that a stored content record is of the store's
// format and reports whether its content is erased: in an encrypted store,
// content whose keys an erasure or retention destroyed (or will destroy:
// its intent is logged) is backed up as erased, never with keys.
func backupContent(ctx context.Context, cr contentReader, raw RawEntry) (erased bool, err error) {
	if len(raw.Content) == 0 {
		return false, fmt.Errorf("%w: the content record of event %d is empty", ErrCorrupt, raw.Index)
	}
	if cr.keys == nil {
		if raw.Content[0] != contentRecordVersion {
			return false, fmt.Errorf("%w: the content record of event %d is not of version %d, the format of this store", ErrCorrupt, raw.Index, contentRecordVersion)
		}
		return false, nil
	}
	if raw.Content[0] != contentRecordVersionEncrypted {
		return false, fmt.Errorf("%w: the content record of event %d is not of version %d, the format of this store", ErrCorrupt, raw.Index, contentRecordVersionEncrypted)
	}
	e, err := decodeHeader(raw)
	if err != nil {
		return false, err
	}
	err = cr.open(ctx, e, raw)
	switch {
	case errors.Is(err, errKeyMissing):
		// Offline, without the log's claims: a restore checks that a
		// logged erasure names it.
		return true, nil
	case err != nil:
		return false, fmt.Errorf("store: backing up event %d: %w", raw.Index, err)
	}
	return e.ContentState == ContentErased, nil
}

func credentialRecord(c Credential) *agenttrailv1.BackupCredential {
	r := &agenttrailv1.BackupCredential{
		KeyId: c.ID, Principal: c.Principal, Role: c.Role, AgentId: c.AgentID, CreatedBy: c.CreatedBy,
		CreatedAt: timestamppb.New(c.CreatedAt), SecretHash: c.Hash,
	}
	if !c.ExpiresAt.IsZero() {
		r.ExpiresAt = timestamppb.New(c.ExpiresAt)
	}
	if !c.RevokedAt.IsZero() {
		r.RevokedAt = timestamppb.New(c.RevokedAt)
	}
	return r
}

func credentialOf(r *agenttrailv1.BackupCredential) Credential {
	c := Credential{ID: r.GetKeyId(), Principal: r.GetPrincipal(), Role: r.GetRole(), AgentID: r.GetAgentId(),
		CreatedBy: r.GetCreatedBy(), CreatedAt: r.GetCreatedAt().AsTime(), Hash: r.GetSecretHash()}
	if r.ExpiresAt != nil {
		c.ExpiresAt = r.GetExpiresAt().AsTime()
	}
	if r.RevokedAt != nil {
		c.RevokedAt = r.GetRevokedAt().AsTime()
	}
	return c
}

// BackupWriter writes backup records to a file: the first line, then each
// record length-delimited, filling in the trailer's SHA-256 of everything
// written before it.
type BackupWriter struct {
	w       *bufio.Writer
	h       hash.Hash
	n       int64
	trailer bool
}

// NewBackupWriter starts a backup file on w.
func NewBackupWriter(w io.Writer) (*BackupWriter, error) {
	bw := &BackupWriter{w: bufio.NewWriterSize(w, 1<<20), h: sha256.New()}
	if _, err := bw.write(backupMagic); err != nil {
		return nil, err
	}
	return bw, nil
}

func (bw *BackupWriter) write(b []byte) (int, error) {
	bw.h.Write(b)
	bw.n += int64(len(b))
	return bw.w.Write(b)
}

// Write writes one record. The trailer must come last.
func (bw *BackupWriter) Write(rec *agenttrailv1.BackupRecord) error {
	if bw.trailer {
		return fmt.Errorf("%w: a backup record after the trailer", ErrInvalidArgument)
	}
	if tr := rec.GetTrailer(); tr != nil {
		tr = proto.CloneOf(tr)
		tr.Sha256 = bw.h.Sum(nil)
		rec = &agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_Trailer{Trailer: tr}}
		bw.trailer = true
	}
	_, err := protodelim.MarshalOptions{MarshalOptions: deterministic}.MarshalTo(writerFunc(bw.write), rec)
	return err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Flush writes what is buffered; it fails unless the trailer was written.
func (bw *BackupWriter) Flush() error {
	if err := bw.w.Flush(); err != nil {
		return err
	}
	if !bw.trailer {
		return fmt.Errorf("%w: the backup ended before its trailer", ErrFailed)
	}
	return nil
}

// Size returns the number of bytes written.
func (bw *BackupWriter) Size() int64 { return bw.n }

// backupReader reads the records of a backup file, checking its first line
// and, at the trailer, the SHA-256 of everything before it.
type backupReader struct {
	r       *bufio.Reader
	h       hash.Hash
	name    string
	records int
	done    bool
}

// maxBackupRecord bounds one record: an event is at most a few MiB.
const maxBackupRecord = 64 << 20

func newBackupReader(r io.Reader, name string) (*backupReader, error) {
	br := &backupReader{r: bufio.NewReaderSize(r, 1<<20), h: sha256.New(), name: name}
	magic := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(br.r, magic); err != nil || !bytes.Equal(magic, backupMagic) {
		return nil, fmt.Errorf("%w: %s is not an agenttrail backup (it does not start with %q)", ErrCorrupt, name, BackupFormat)
	}
	br.h.Write(magic)
	return br, nil
}

// next returns the next record, or io.EOF after the trailer.
func (br *backupReader) next() (*agenttrailv1.BackupRecord, error) {
	if br.done {
		if _, err := br.r.ReadByte(); err != io.EOF {
			return nil, fmt.Errorf("%w: %s has bytes after its trailer", ErrCorrupt, br.name)
		}
		return nil, io.EOF
	}
	sum := br.h.Sum(nil)
	rec := &agenttrailv1.BackupRecord{}
	err := protodelim.UnmarshalOptions{MaxSize: maxBackupRecord}.UnmarshalFrom(hashingReader{br.r, br.h}, rec)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%w: %s ends after %d records, without its trailer: it was cut short", ErrCorrupt, br.name, br.records)
	case err != nil:
		return nil, fmt.Errorf("%w: record %d of %s does not decode: %v", ErrCorrupt, br.records+1, br.name, err)
	}
	br.records++
	if tr := rec.GetTrailer(); tr != nil {
		if !bytes.Equal(tr.GetSha256(), sum) {
			return nil, &hashMismatch{br.name}
		}
		br.done = true
	}
	return rec, nil
}

// hashMismatch is a backup file that does not match its trailer's SHA-256.
type hashMismatch struct{ name string }

func (e *hashMismatch) Error() string {
	return fmt.Sprintf("%v: %s does not match the SHA-256 in its trailer: it was damaged or altered", ErrCorrupt, e.name)
}

func (e *hashMismatch) Unwrap() error { return ErrCorrupt }

// drain reads the rest of the file, to check its trailer.
func (br *backupReader) drain() error {
	for !br.done {
		if _, err := br.next(); err != nil {
			return err
		}
	}
	return nil
}

// hashingReader hashes what is read through it.
type hashingReader struct {
	r *bufio.Reader
	h hash.Hash
}

func (hr hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

func (hr hashingReader) ReadByte() (byte, error) {
	b, err := hr.r.ReadByte()
	if err == nil {
		hr.h.Write([]byte{b})
	}
	return b, err
}
