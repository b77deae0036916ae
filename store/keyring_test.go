package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

// keysDriver is a Driver whose keyring is a map; nothing else is called.
type keysDriver struct {
	Driver
	keys map[string][]byte
}

func (d keysDriver) Keys(_ context.Context, names [][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, n := range names {
		if v, ok := d.keys[string(n)]; ok {
			out[string(n)] = v
		}
	}
	return out, nil
}

// A contentOpener keeps the subject key of the event before, from one
// subject to the next, until the keyring forgets a key: then it looks the
// key up again, so that content whose key was destroyed (by erasure or
// retention) is not opened with a key it kept.
func TestContentOpenerForgetsDestroyedKeys(t *testing.T) {
	ctx := context.Background()
	mk, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	d := keysDriver{keys: map[string][]byte{}}
	k, err := newKeyring(d, mk, nil)
	if err != nil {
		t.Fatal(err)
	}
	random := func(n int) []byte { return bytes.Repeat([]byte{byte(n)}, 100) }
	subjects := []subject{{subjectUser, "u1"}, {subjectSession, "s1"}}
	keys := make([]*subjectKey, len(subjects))
	for i, s := range subjects {
		sk, rec, err := k.newSubjectKey(s, 0, random(i+1))
		if err != nil {
			t.Fatal(err)
		}
		d.keys[string(rec.Name)] = rec.Value
		keys[i] = sk
	}
	type sealed struct{ record, keyRecord []byte }
	events := map[uint64]sealed{}
	seal := func(index uint64, s int) {
		rec, kr, err := encryptContent(index, keys[s], make([]byte, 32), []byte(fmt.Sprint("content ", index)), random(int(index) + 10)[:encryptRandom])
		if err != nil {
			t.Fatal(err)
		}
		events[index] = sealed{rec, kr}
	}
	for i := uint64(0); i < 6; i++ {
		seal(i, int(i)%2)
	}
	op := &contentOpener{k: k}
	open := func(index uint64) error {
		_, content, err := op.decrypt(ctx, index, subjects[index%2], events[index].record, events[index].keyRecord)
		if err == nil && string(content) != fmt.Sprint("content ", index) {
			t.Fatalf("event %d opens as %q", index, content)
		}
		return err
	}
	for i := uint64(0); i < 4; i++ { // each subject in turn
		if err := open(i); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if err := open(2); err != nil { // u1's key, kept
		t.Fatalf("event 2 again: %v", err)
	}
	// u1's key is destroyed: gone from the driver, then forgotten.
	delete(d.keys, string(keys[0].name))
	k.forget([][]byte{keys[0].name})
	if err := open(4); !errors.Is(err, errKeyMissing) {
		t.Errorf("event 4, whose subject key was destroyed: %v, want errKeyMissing", err)
	}
	if err := open(5); err != nil {
		t.Errorf("event 5, of a subject whose key is kept: %v", err)
	}
	// The opener keeps a key while the keyring forgets nothing: the same
	// subject twice in a row is not looked up again.
	clear(d.keys)
	k.mu.Lock()
	clear(k.cache)
	k.mu.Unlock()
	if err := open(5); err != nil {
		t.Errorf("event 5 again, its key kept by the opener: %v", err)
	}
}
