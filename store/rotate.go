package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"sync"
)

// KeyRotator re-encrypts what a driver encrypted under one storage key
// (DriverConfig.EncryptionKey) under another, on storage no one has open. It
// must be idempotent: storage already under newKey is left as it is.
type KeyRotator func(ctx context.Context, u *url.URL, oldKey, newKey []byte) error

var (
	rotatorsMu sync.RWMutex
	rotators   = map[string]KeyRotator{}
)

// RegisterKeyRotator registers how drivers of a URL scheme rotate their
// storage key. A driver that encrypts nothing itself needs none.
func RegisterKeyRotator(scheme string, r KeyRotator) {
	rotatorsMu.Lock()
	defer rotatorsMu.Unlock()
	rotators[scheme] = r
}

// RotateMasterKey moves a closed store from one master key to another: it
// rewraps every subject key (never the content, whose keys the subject keys
// wrap) and the master key check under the new key, then has the driver
// re-encrypt its own storage key. It is idempotent, so that an interrupted
// rotation is finished by running it again with the same two keys; until it
// is finished, the store opens under neither key.
func RotateMasterKey(ctx context.Context, storeURL string, oldKey, newKey MasterKey) (int, error) {
	if oldKey.IsZero() || newKey.IsZero() || oldKey.Equal(newKey) {
		return 0, fmt.Errorf("%w: rotation needs two different master keys", ErrInvalidArgument)
	}
	d, err := OpenDriver(ctx, storeURL, DriverConfig{EncryptionKey: oldKey.StorageKey()})
	if errors.Is(err, ErrWrongKey) {
		// The driver's own rotation may be done already.
		d, err = OpenDriver(ctx, storeURL, DriverConfig{EncryptionKey: newKey.StorageKey()})
	}
	if err != nil {
		return 0, err
	}
	n, err := rewrapSubjectKeys(ctx, d, oldKey, newKey)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	u, err := url.Parse(storeURL)
	if err != nil {
		return n, fmt.Errorf("%w: store URL", ErrInvalidArgument)
	}
	rotatorsMu.RLock()
	rot := rotators[u.Scheme]
	rotatorsMu.RUnlock()
	if rot != nil {
		if err := rot(ctx, u, oldKey.StorageKey(), newKey.StorageKey()); err != nil {
			return n, err
		}
	}
	return n, nil
}

// rewrapSubjectKeys rewraps every subject key wrapped by oldKey under
// newKey, and the master key check, and returns how many it rewrapped.
func rewrapSubjectKeys(ctx context.Context, d Driver, oldKey, newKey MasterKey) (int, error) {
	st, err := d.Load(ctx)
	if err != nil {
		return 0, err
	}
	if st.Format != FormatVersion {
		return 0, fmt.Errorf("%w: format %q has no master key to rotate", ErrInvalidArgument, st.Format)
	}
	oldRing, err := newKeyring(d, oldKey, nil)
	if err != nil {
		return 0, err
	}
	newRing, err := newKeyring(d, newKey, nil)
	if err != nil {
		return 0, err
	}
	if err := newRing.checkMaster(ctx, false); err == nil {
		return 0, nil // rewrapped already
	} else if !errors.Is(err, ErrWrongKey) {
		return 0, err
	}
	if err := oldRing.checkMaster(ctx, false); err != nil {
		return 0, err
	}
	n := 0
	var batch []KeyRecord
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := d.PutKeys(ctx, batch)
		batch = batch[:0]
		return err
	}
	for rec, err := range d.KeysWithPrefix(ctx, []byte{keyKindSubject}) {
		if err != nil {
			return n, err
		}
		r, err := decodeSubjectKeyRecord(rec.Value)
		if err != nil {
			return n, err
		}
		if r.masterID == newKey.id {
			continue
		}
		key, err := openAEAD(oldRing.wrap, r.wrapped, rec.Name)
		if err != nil {
			return n, fmt.Errorf("%w: a subject key does not unwrap under the old master key", ErrWrongKey)
		}
		nonce := make([]byte, nonceSize)
		if _, err := rand.Read(nonce); err != nil {
			return n, err
		}
		r.masterID, r.wrapped = newKey.id, sealAEAD(newRing.wrap, nonce, key, rec.Name)
		clear(key)
		batch = append(batch, KeyRecord{Name: rec.Name, Value: encodeSubjectKeyRecord(r)})
		n++
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	// The check goes last: it says the rewrapping is done.
	return n, d.PutKeys(ctx, []KeyRecord{newRing.masterCheckRecord()})
}
