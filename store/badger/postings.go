package badger

import (
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"strconv"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
)

// Postings implements store.Driver: it walks the posting lists of every
// secondary index ('X' keys) and of the time index ('T' keys) in one read
// transaction, and yields one store.Posting per index entry.
func (d *Driver) Postings(ctx context.Context) iter.Seq2[store.Posting, error] {
	return func(yield func(store.Posting, error) bool) {
		h, err := d.acquire()
		if err != nil {
			yield(store.Posting{}, err)
			return
		}
		defer h.release()
		yield = guard(yield)
		if err := d.postings(ctx, h, yield); err != nil {
			yield(store.Posting{}, err)
		}
	}
}

// postings walks the posting lists on a handle, turning Badger's panics
// into an error.
func (d *Driver) postings(ctx context.Context, h *handle, yield func(store.Posting, error) bool) (err error) {
	defer d.recoverBadger(&err)
	txn := h.db.NewTransaction(false)
	defer txn.Discard()
	for _, prefix := range []byte{prefixPostings, prefixTime} {
		if !walkPostings(ctx, txn, prefix, yield) {
			return nil
		}
	}
	return nil
}

// walkPostings yields the entries of the posting lists under one prefix;
// it returns false when the consumer stopped or an error was yielded.
func walkPostings(ctx context.Context, txn *badgerdb.Txn, prefix byte, yield func(store.Posting, error) bool) bool {
	opts := badgerdb.DefaultIteratorOptions
	opts.Prefix = []byte{prefix}
	opts.PrefetchSize = 64
	it := txn.NewIterator(opts)
	defer it.Close()
	var buf []uint64
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		if n++; n%256 == 0 && ctx.Err() != nil {
			yield(store.Posting{}, ctx.Err())
			return false
		}
		item := it.Item()
		field, value, first, err := parsePostingKey(item.Key())
		if err == nil {
			err = item.Value(func(v []byte) error {
				var err error
				buf, err = decodePostings(first, v, buf)
				return err
			})
		}
		if err != nil {
			yield(store.Posting{}, fmt.Errorf("%w: index key %x: %v", store.ErrCorrupt, item.Key(), err))
			return false
		}
		for _, idx := range buf {
			if !yield(store.Posting{Field: field, Value: value, Index: idx}, nil) {
				return false
			}
		}
	}
	return true
}

// parsePostingKey reads the index, canonical value and first log index of a
// posting list's key.
func parsePostingKey(key []byte) (store.IndexField, string, uint64, error) {
	switch {
	case len(key) == 17 && key[0] == prefixTime:
		hour := int64(binary.BigEndian.Uint64(key[1:9]) - 1<<62)
		return store.IndexHour, strconv.FormatInt(hour, 10), binary.BigEndian.Uint64(key[9:]), nil
	case len(key) >= 12 && key[0] == prefixPostings:
		n := int(binary.BigEndian.Uint16(key[2:4]))
		if len(key) != 4+n+8 {
			return 0, "", 0, fmt.Errorf("posting key of %d bytes holds a value of %d", len(key), n)
		}
		value, first := string(key[4:4+n]), binary.BigEndian.Uint64(key[4+n:])
		switch key[1] {
		case fieldSession:
			return store.IndexSession, value, first, nil
		case fieldAgent:
			return store.IndexAgent, value, first, nil
		case fieldUser:
			return store.IndexUser, value, first, nil
		case fieldTool:
			return store.IndexTool, value, first, nil
		case fieldFailure:
			return store.IndexFailure, value, first, nil
		case fieldKind:
			if n != 2 {
				return 0, "", 0, fmt.Errorf("kind value of %d bytes", n)
			}
			return store.IndexKind, strconv.Itoa(int(binary.BigEndian.Uint16(key[4:6]))), first, nil
		}
		return 0, "", 0, fmt.Errorf("unknown index field %q", key[1])
	}
	return 0, "", 0, fmt.Errorf("malformed posting key")
}
