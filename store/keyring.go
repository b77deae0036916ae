package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// Keyring record names (opaque to drivers):
//
//	'm'                                   the master key check
//	's' kind len16 subject-id key-id16    a subject key
//	'e' index64                           an event's content key (EventKeyName)
//
// kind is 'u' (a user_id), 's' (a session without user_id) or 'l' (the log:
// server records with neither). Subject key records hold
//
//	version 1 || master key id (8) || created-at index (8) || nonce (12) || AES-256-GCM(wrapping key, subject key, aad: name)
//
// and content key records
//
//	version 1 || subject key id (16) || nonce (12) || AES-256-GCM(subject key, content key, aad: name)
const (
	keyKindMaster  = 'm'
	keyKindSubject = 's'
	keyKindEvent   = 'e'

	subjectUser    = 'u'
	subjectSession = 's'
	subjectLog     = 'l'

	keyRecordVersion = 1
	keyIDSize        = 16
	nonceSize        = 12
	aeadOverhead     = 16
	wrappedKeySize   = nonceSize + 32 + aeadOverhead
)

var masterCheckName = []byte{keyKindMaster}

// subject is whose key encrypts an event's content key: its user_id, or its
// session when it has none, or the log itself.
type subject struct {
	kind byte
	id   string
}

func (s subject) String() string {
	switch s.kind {
	case subjectUser:
		return "user_id " + s.id
	case subjectSession:
		return "session " + s.id
	}
	return "the log"
}

// subjectOf returns the subject of an event from its METADATA fields, so it
// is the same for the event and its header.
func subjectOf(ev *agenttrailv1.Event) subject {
	switch {
	case ev.GetUserId() != "":
		return subject{subjectUser, ev.GetUserId()}
	case ev.GetSessionId() != "":
		return subject{subjectSession, ev.GetSessionId()}
	}
	return subject{kind: subjectLog}
}

// subjectOfIDs is subjectOf of an event with these ids.
func subjectOfIDs(ids event.IDs) subject {
	switch {
	case len(ids.UserID) > 0:
		return subject{subjectUser, string(ids.UserID)}
	case len(ids.SessionID) > 0:
		return subject{subjectSession, string(ids.SessionID)}
	}
	return subject{kind: subjectLog}
}

// prefix is the start of the names of the subject's keys.
func (s subject) prefix() []byte {
	return s.appendPrefix(make([]byte, 0, 4+len(s.id)+keyIDSize))
}

// appendPrefix appends prefix() to b.
func (s subject) appendPrefix(b []byte) []byte {
	b = append(b, keyKindSubject, s.kind)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.id)))
	return append(b, s.id...)
}

func subjectKeyName(s subject, id [keyIDSize]byte) []byte { return append(s.prefix(), id[:]...) }

// parseSubjectKeyName splits a subject key name into subject and key id.
func parseSubjectKeyName(name []byte) (subject, [keyIDSize]byte, bool) {
	var id [keyIDSize]byte
	if len(name) < 4+keyIDSize || name[0] != keyKindSubject {
		return subject{}, id, false
	}
	n := int(binary.BigEndian.Uint16(name[2:4]))
	if len(name) != 4+n+keyIDSize {
		return subject{}, id, false
	}
	copy(id[:], name[4+n:])
	return subject{name[1], string(name[4 : 4+n])}, id, true
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// subjectKeyRecord is a decoded subject key record.
type subjectKeyRecord struct {
	masterID [8]byte
	created  uint64 // the log index of the first event it encrypted
	wrapped  []byte // nonce || ciphertext
}

func encodeSubjectKeyRecord(r subjectKeyRecord) []byte {
	b := make([]byte, 0, 1+8+8+len(r.wrapped))
	b = append(b, keyRecordVersion)
	b = append(b, r.masterID[:]...)
	b = binary.BigEndian.AppendUint64(b, r.created)
	return append(b, r.wrapped...)
}

func decodeSubjectKeyRecord(b []byte) (subjectKeyRecord, error) {
	var r subjectKeyRecord
	if len(b) != 1+8+8+wrappedKeySize || b[0] != keyRecordVersion {
		return r, fmt.Errorf("%w: subject key record of %d bytes", ErrCorrupt, len(b))
	}
	copy(r.masterID[:], b[1:9])
	r.created = binary.BigEndian.Uint64(b[9:17])
	r.wrapped = b[17:]
	return r, nil
}

// contentKeyRecord is a decoded content key record.
type contentKeyRecord struct {
	subjectKeyID [keyIDSize]byte
	wrapped      []byte
}

func encodeContentKeyRecord(r contentKeyRecord) []byte {
	b := make([]byte, 0, 1+keyIDSize+len(r.wrapped))
	b = append(b, keyRecordVersion)
	b = append(b, r.subjectKeyID[:]...)
	return append(b, r.wrapped...)
}

func decodeContentKeyRecord(b []byte) (contentKeyRecord, error) {
	var r contentKeyRecord
	if len(b) != 1+keyIDSize+wrappedKeySize || b[0] != keyRecordVersion {
		return r, fmt.Errorf("%w: content key record of %d bytes", ErrCorrupt, len(b))
	}
	copy(r.subjectKeyID[:], b[1:1+keyIDSize])
	r.wrapped = b[1+keyIDSize:]
	return r, nil
}

// seal encrypts with a nonce taken from the front of dst's spare random
// bytes: out = nonce || ciphertext.
func sealAEAD(a cipher.AEAD, nonce, plaintext, aad []byte) []byte {
	out := make([]byte, 0, nonceSize+len(plaintext)+aeadOverhead)
	out = append(out, nonce...)
	return a.Seal(out, nonce, plaintext, aad)
}

func openAEAD(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+aeadOverhead {
		return nil, errors.New("sealed value too short")
	}
	return a.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
}

// keyring reads and writes the keys of an encrypted store. It is safe for
// concurrent use.
type keyring struct {
	d      Driver
	master MasterKey
	wrap   cipher.AEAD
	hook   func(name, key []byte)

	mu    sync.RWMutex
	cache map[string]cipher.AEAD // subject key name -> its AEAD
	// gen counts the calls of forget: a contentOpener keeps a key only
	// while it stays the same.
	gen atomic.Uint64
}

// maxCachedKeys bounds the subject keys kept unwrapped in memory.
const maxCachedKeys = 1 << 16

func newKeyring(d Driver, master MasterKey, hook func(name, key []byte)) (*keyring, error) {
	w, err := newAEAD(master.wrappingKey())
	if err != nil {
		return nil, err
	}
	return &keyring{d: d, master: master, wrap: w, hook: hook, cache: map[string]cipher.AEAD{}}, nil
}

const masterCheckText = "agenttrail master key check"

// checkMaster checks the master key against the store's check record, or
// writes one when there is none and create is set.
func (k *keyring) checkMaster(ctx context.Context, create bool) error {
	got, err := k.d.Keys(ctx, [][]byte{masterCheckName})
	if err != nil {
		return fmt.Errorf("store: reading the master key check: %w", err)
	}
	rec, ok := got[string(masterCheckName)]
	if !ok {
		if !create {
			return fmt.Errorf("%w: the keyring has no master key check record", ErrCorrupt)
		}
		return k.d.PutKeys(ctx, []KeyRecord{k.masterCheckRecord()})
	}
	if len(rec) < 9 || rec[0] != keyRecordVersion {
		return fmt.Errorf("%w: master key check record of %d bytes", ErrCorrupt, len(rec))
	}
	if !bytes.Equal(rec[1:9], k.master.id[:]) {
		return fmt.Errorf("%w: the store is encrypted under master key %x, not under the key given (%s)", ErrWrongKey, rec[1:9], k.master.ID())
	}
	if pt, err := openAEAD(k.wrap, rec[9:], masterCheckName); err != nil || string(pt) != masterCheckText {
		return fmt.Errorf("%w: the master key check does not open with the key given (%s)", ErrWrongKey, k.master.ID())
	}
	return nil
}

func (k *keyring) masterCheckRecord() KeyRecord {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	v := append([]byte{keyRecordVersion}, k.master.id[:]...)
	v = append(v, sealAEAD(k.wrap, nonce, []byte(masterCheckText), masterCheckName)...)
	return KeyRecord{Name: bytes.Clone(masterCheckName), Value: v}
}

// newSubjectKey makes a new subject key, first used by the event at index
// created, and its keyring record.
func (k *keyring) newSubjectKey(s subject, created uint64, random []byte) (*subjectKey, KeyRecord, error) {
	// random: key id (16), key (32), nonce (12)
	var id [keyIDSize]byte
	copy(id[:], random[:keyIDSize])
	key := random[keyIDSize : keyIDSize+32]
	nonce := random[keyIDSize+32 : keyIDSize+32+nonceSize]
	name := subjectKeyName(s, id)
	a, err := newAEAD(key)
	if err != nil {
		return nil, KeyRecord{}, err
	}
	if k.hook != nil {
		k.hook(name, key)
	}
	rec := subjectKeyRecord{masterID: k.master.id, created: created, wrapped: sealAEAD(k.wrap, nonce, key, name)}
	k.remember(name, a)
	value := encodeSubjectKeyRecord(rec)
	return &subjectKey{name: name, id: id, aead: a, record: value}, KeyRecord{Name: name, Value: value}, nil
}

// newSubjectKeyRandom is the random bytes newSubjectKey takes.
const newSubjectKeyRandom = keyIDSize + 32 + nonceSize

// unwrapSubjectKey returns the AEAD of a stored subject key record.
func (k *keyring) unwrapSubjectKey(name, value []byte) (cipher.AEAD, subjectKeyRecord, error) {
	r, err := decodeSubjectKeyRecord(value)
	if err != nil {
		return nil, r, err
	}
	if r.masterID != k.master.id {
		return nil, r, fmt.Errorf("%w: a subject key is wrapped by master key %x, not by the key given (%s): finish the rotation with `agenttrail keys rotate-master`", ErrWrongKey, r.masterID, k.master.ID())
	}
	key, err := openAEAD(k.wrap, r.wrapped, name)
	if err != nil {
		return nil, r, fmt.Errorf("%w: a subject key record does not unwrap", ErrCorrupt)
	}
	if k.hook != nil {
		k.hook(name, key)
	}
	a, err := newAEAD(key)
	return a, r, err
}

func (k *keyring) remember(name []byte, a cipher.AEAD) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= maxCachedKeys {
		for n := range k.cache { // evict an arbitrary eighth
			delete(k.cache, n)
			if len(k.cache) < maxCachedKeys*7/8 {
				break
			}
		}
	}
	k.cache[string(name)] = a
}

// forget drops keys from the cache, once they are destroyed.
func (k *keyring) forget(names [][]byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range names {
		delete(k.cache, string(n))
	}
	k.gen.Add(1)
}

// errKeyMissing is a content key or subject key that is not in the keyring.
var errKeyMissing = errors.New("store: key missing from the keyring")

// subjectAEAD returns the AEAD of a subject key by name, from the cache or
// the keyring.
func (k *keyring) subjectAEAD(ctx context.Context, name []byte) (cipher.AEAD, error) {
	k.mu.RLock()
	a, ok := k.cache[string(name)]
	k.mu.RUnlock()
	if ok {
		return a, nil
	}
	got, err := k.d.Keys(ctx, [][]byte{name})
	if err != nil {
		return nil, err
	}
	v, ok := got[string(name)]
	if !ok || isRetiredRecord(v) {
		return nil, errKeyMissing
	}
	a, _, err = k.unwrapSubjectKey(name, v)
	if err != nil {
		return nil, err
	}
	k.remember(name, a)
	return a, nil
}

// subjectKey is a subject key ready to encrypt.
type subjectKey struct {
	name   []byte
	id     [keyIDSize]byte
	aead   cipher.AEAD
	record []byte // its keyring record, as read or written
}

// retiredRecord is the value an erasure replaces a subject key's record
// with, in the batch of its Erasure event: no event is encrypted under the
// key again, and readers find no key there; the record then goes with the
// rest of the erasure's keys.
var retiredRecord = []byte{0}

func isRetiredRecord(v []byte) bool { return len(v) == 1 && v[0] == 0 }

// contentAAD is the associated data of an event's encrypted content.
func contentAAD(index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(contentAADPrefix), index)
}

const contentAADPrefix = "agenttrail/v2 content"

// encryptContent seals an event's salt and content under a new content key
// and wraps that key under the subject key. random holds 32 + 2*12 bytes.
func encryptContent(index uint64, sk *subjectKey, salt, content, random []byte) (record, keyRecord []byte, err error) {
	ck := random[:32]
	ca, err := newAEAD(ck)
	if err != nil {
		return nil, nil, err
	}
	// The plaintext is laid out where its ciphertext goes, and sealed in
	// place: one allocation per record.
	head := 1 + nonceSize
	record = make([]byte, 0, head+len(salt)+len(content)+aeadOverhead)
	record = append(record, contentRecordVersionEncrypted)
	record = append(record, random[32:32+nonceSize]...)
	record = append(append(record, salt...), content...)
	record = ca.Seal(record[:head], random[32:32+nonceSize], record[head:], contentAAD(index))
	name := EventKeyName(index)
	keyRecord = encodeContentKeyRecord(contentKeyRecord{subjectKeyID: sk.id, wrapped: sealAEAD(sk.aead, random[32+nonceSize:32+2*nonceSize], ck, name)})
	return record, keyRecord, nil
}

// encryptRandom is the random bytes encryptContent takes.
const encryptRandom = 32 + 2*nonceSize

// contentOpener opens the content of the events of one scan, from one
// goroutine: it keeps the AEAD of the subject key the last event was
// encrypted under, for as long as the keyring forgets no key (erasure and
// retention make it forget the keys they destroy), and the scratch space
// each event needs, so that opening an event of the same subject as the one
// before it neither looks its key up nor allocates more than its
// plaintext. It never keeps a content key beyond the call that unwraps it.
type contentOpener struct {
	k *keyring

	gen  uint64      // the keyring's generation when aead was looked up
	name []byte      // the subject key name aead is of
	aead cipher.AEAD // nil: none yet
	subj subject     // the subject of the last event whose ids were read

	nameBuf, keyName, aad []byte
	ck                    [32 + aeadOverhead]byte
	// plain is the block the plaintexts are carved from (len: the bytes
	// handed out), so that opening an event does not allocate on its own;
	// a block lives on while any plaintext carved from it does.
	plain []byte
}

// plainBlock is the size of contentOpener.plain's blocks: a size class of
// its own. A plaintext over a quarter of it is allocated alone.
const plainBlock = 16 << 10

// plainBuf returns an empty slice with room for n bytes, from the block
// when it fits.
func (o *contentOpener) plainBuf(n int) []byte {
	if n > plainBlock/4 {
		return nil
	}
	if cap(o.plain)-len(o.plain) < n {
		o.plain = make([]byte, 0, plainBlock)
	}
	l := len(o.plain)
	o.plain = o.plain[:l+n]
	return o.plain[l : l : l+n]
}

// subjectOfIDs is subjectOfIDs(ids), without a new string when the subject
// is the last one's.
func (o *contentOpener) subjectOfIDs(ids event.IDs) subject {
	switch {
	case len(ids.UserID) > 0:
		if o.subj.kind != subjectUser || o.subj.id != string(ids.UserID) {
			o.subj = subject{subjectUser, string(ids.UserID)}
		}
	case len(ids.SessionID) > 0:
		if o.subj.kind != subjectSession || o.subj.id != string(ids.SessionID) {
			o.subj = subject{subjectSession, string(ids.SessionID)}
		}
	default:
		o.subj = subject{kind: subjectLog}
	}
	return o.subj
}

// subjectAEAD is keyring.subjectAEAD of the subject key s's id names,
// kept while the keyring forgets nothing.
func (o *contentOpener) subjectAEAD(ctx context.Context, s subject, id [keyIDSize]byte) (cipher.AEAD, error) {
	b := append(s.appendPrefix(o.nameBuf[:0]), id[:]...)
	o.nameBuf = b
	gen := o.k.gen.Load() // before the lookup: a key forgotten after it is looked up again
	if o.aead != nil && gen == o.gen && bytes.Equal(o.name, b) {
		return o.aead, nil
	}
	a, err := o.k.subjectAEAD(ctx, b)
	if err != nil {
		return nil, err
	}
	o.gen, o.name, o.aead = gen, append(o.name[:0], b...), a
	return a, nil
}

// decrypt opens an event's encrypted content record with its content key
// record, given the subject the event's header names.
func (o *contentOpener) decrypt(ctx context.Context, index uint64, s subject, record, keyRecord []byte) (salt, content []byte, err error) {
	if keyRecord == nil {
		return nil, nil, errKeyMissing
	}
	kr, err := decodeContentKeyRecord(keyRecord)
	if err != nil {
		return nil, nil, err
	}
	sa, err := o.subjectAEAD(ctx, s, kr.subjectKeyID)
	if err != nil {
		return nil, nil, err
	}
	o.keyName = binary.BigEndian.AppendUint64(append(o.keyName[:0], keyKindEvent), index)
	ck, err := sa.Open(o.ck[:0], kr.wrapped[:nonceSize], kr.wrapped[nonceSize:], o.keyName)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the content key of event %d does not unwrap", ErrCorrupt, index)
	}
	ca, err := newAEAD(ck)
	clear(o.ck[:]) // the cipher holds what it needs
	if err != nil {
		return nil, nil, err
	}
	if len(record) < 1+nonceSize+aeadOverhead {
		return nil, nil, fmt.Errorf("%w: encrypted content record of %d bytes", ErrCorrupt, len(record))
	}
	o.aad = binary.BigEndian.AppendUint64(append(o.aad[:0], contentAADPrefix...), index)
	pt, err := ca.Open(o.plainBuf(len(record)-1-nonceSize-aeadOverhead), record[1:1+nonceSize], record[1+nonceSize:], o.aad)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the content record of event %d does not decrypt: it was altered", ErrCorrupt, index)
	}
	if len(pt) < 32 {
		return nil, nil, fmt.Errorf("%w: decrypted content of event %d is shorter than its salt", ErrCorrupt, index)
	}
	return pt[:32], pt[32:], nil
}
