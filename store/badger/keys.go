package badger

import (
	"encoding/binary"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// The key layout. Every key starts with one byte naming what it holds;
// integers are fixed-width big-endian so byte order is log order. Every key
// is written exactly once.
//
//	'M' name                        metadata: format version, origin
//	'B' first last                  the leaf data (header || digest) of the events
//	                                [first, last] of one batch: a record bundle
//	'V' first last                  the content records (version, salt, content) of
//	                                the events [first, last] of one batch, and the
//	                                marks of contents erased before they were
//	                                stored: a record bundle (see bundle.go)
//	'R' index                       the leaf data of one event (stores written
//	                                before record bundles; read, never written)
//	'C' index                       the content of one event (likewise)
//	'D' index                       marks content destroyed (likewise)
//	'I' event id                    index of the event with that id
//	'H' first stored-hash index     the tree hashes of one batch, 32 bytes each
//	'S' tree size                   the root hash of the tree after a batch
//	'K' tree size                   the checkpoint signed at that size
//	'X' field len(value) value idx  postings of a secondary index (see postings)
//	'T' hour first-index            postings of the time index by occurred_at hour
//	'A' key id                      an API key's credential (never its secret)
//	'Z' key id                      the revocation of an API key
//	'G' name                        a keyring record (format v2): the one kind of
//	                                record that is replaced (key rotation) and
//	                                deleted (erasure, retention), see keyring.go
//	'P' name                        a lifecycle record (format v2): an erasure's
//	                                intent, and that it is done; written once
//	'Q' cube hour 'R' upto          aggregate cells of an hour up to a size (rollup)
//	'Q' cube hour 'd' first         aggregate cells a batch added to an hour
//
// Format v2 stores are encrypted at rest by Badger itself (WithEncryptionKey,
// the engine's storage key): every table, value log and write-ahead log
// block. The layout is the same in both formats.
const (
	prefixMeta       = 'M'
	prefixLeaves     = 'B'
	prefixContents   = 'V'
	prefixRecord     = 'R'
	prefixContent    = 'C'
	prefixErased     = 'D'
	prefixID         = 'I'
	prefixHashes     = 'H'
	prefixSize       = 'S'
	prefixCheckpoint = 'K'
	prefixPostings   = 'X'
	prefixTime       = 'T'
	prefixCredential = 'A'
	prefixRevocation = 'Z'
	prefixKeyring    = 'G'
	prefixLifecycle  = 'P'
	prefixAggregate  = 'Q'
)

// aggregateKey is the key of an aggregate record: a delta under the first
// index of its batch, a rollup under its Upto.
func aggregateKey(cube byte, hour uint32, rollup bool, n uint64) []byte {
	k := make([]byte, 0, 15)
	k = append(k, prefixAggregate, cube)
	k = binary.BigEndian.AppendUint32(k, hour)
	if rollup {
		k = append(k, 'R') // before the deltas of the hour
	} else {
		k = append(k, 'd')
	}
	return binary.BigEndian.AppendUint64(k, n)
}

func aggregateHourPrefix(cube byte, hour uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixAggregate, cube}, hour)
}

// Fields of the secondary indexes under prefixPostings.
const (
	fieldSession = 's'
	fieldAgent   = 'a'
	fieldUser    = 'u'
	fieldKind    = 'k'
	fieldTool    = 't'
	fieldFailure = 'f'
)

var (
	metaFormat = metaKey("format")
	metaOrigin = metaKey("origin")
)

func metaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

func u64Key(prefix byte, n uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], n)
	return k
}

func recordKey(index uint64) []byte    { return u64Key(prefixRecord, index) }
func contentKey(index uint64) []byte   { return u64Key(prefixContent, index) }
func hashesKey(first uint64) []byte    { return u64Key(prefixHashes, first) }
func checkpointKey(size uint64) []byte { return u64Key(prefixCheckpoint, size) }
func sizeKey(size uint64) []byte       { return u64Key(prefixSize, size) }
func erasedKey(index uint64) []byte    { return u64Key(prefixErased, index) }
func idKey(eventID string) []byte      { return appendIDKey(nil, eventID) }
func keyIndex(key []byte) uint64       { return binary.BigEndian.Uint64(key[len(key)-8:]) }
func postingsPrefix(field byte, value string) []byte {
	k := make([]byte, 0, 4+len(value)+8)
	k = append(k, prefixPostings, field)
	k = binary.BigEndian.AppendUint16(k, uint16(len(value)))
	return append(k, value...)
}

func credentialKey(id string) []byte { return append([]byte{prefixCredential}, id...) }
func keyringKey(name []byte) []byte  { return append([]byte{prefixKeyring}, name...) }
func lifecycleKey(name []byte) []byte {
	return append([]byte{prefixLifecycle}, name...)
}
func revocationKey(id string) []byte { return append([]byte{prefixRevocation}, id...) }

func postingsKey(field byte, value string, first uint64) []byte {
	return binary.BigEndian.AppendUint64(postingsPrefix(field, value), first)
}

// hourOf is the time index bucket of a time: hours since the Unix epoch,
// offset so that times before 1970 still sort first.
func hourOf(t time.Time) uint64 {
	return uint64(t.Unix()/3600 + 1<<62)
}

func timePrefix(hour uint64) []byte { return u64Key(prefixTime, hour) }

func timeKey(hour, first uint64) []byte {
	return binary.BigEndian.AppendUint64(timePrefix(hour), first)
}

// kindValue is the posting value of an event kind: its number, two bytes.
func kindValue(k agenttrailv1.EventKind) string {
	return string([]byte{byte(k >> 8), byte(k)})
}

// appendIDKey appends the id key of an event id to dst, so that a lookup
// of many ids can build each key in one buffer.
func appendIDKey(dst []byte, eventID string) []byte {
	return append(append(dst, prefixID), eventID...)
}
