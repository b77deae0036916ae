package badger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"

	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/y"
	"golang.org/x/sys/unix"
)

// Badger's log files, read here without Badger so that the driver can see
// what Badger's recovery would drop before Badger runs it. Two kinds share
// one entry format (Badger v4's logFile, value.go and memtable.go):
//
//   - the write-ahead log of a memtable (NNNNN.mem): every write, key and
//     value or value pointer, grouped in transactions that end with a
//     finish entry. Badger replays it on open up to the end of the last
//     complete transaction and truncates the file there.
//   - a value log (NNNNNN.vlog): values of 1 KiB and more, pointed to by
//     the keys in the LSM tree. Badger truncates the newest one after its
//     last entry whose checksum holds, on every read-write open.
//
// A file starts with a 20-byte header (the data key id, 8 bytes, and the
// base IV, 12 bytes), then entries: meta, user meta, uvarint key length,
// uvarint value length, uvarint expiry, key, value, CRC-32C (Castagnoli) of
// all that (over the ciphertext when the file is encrypted). Keys carry an
// 8-byte version suffix. The region a file was preallocated with is zeros.

const (
	logHeaderSize  = 20 // vlogHeaderSize
	maxEntryHeader = 22 // maxHeaderSize

	// Badger's meta bits (value.go).
	bitValuePointer byte = 1 << 1
	bitTxn          byte = 1 << 6
	bitFinTxn       byte = 1 << 7
	// knownMetaBits are every bit Badger sets in an entry's meta.
	knownMetaBits byte = 1<<0 | 1<<1 | 1<<2 | 1<<3 | bitTxn | bitFinTxn

	// vptrSize is the size of an encoded value pointer: file id, length
	// and offset, uint32 each, in the machine's byte order (little-endian
	// on every platform this builds for).
	vptrSize = 12
)

// logEntry is one entry of a log file.
type logEntry struct {
	off, end int // where the entry starts and ends in the file
	meta     byte
	key      []byte // with its version suffix
	value    []byte
}

// stop says why reading a log file stopped at an offset.
type stop int

const (
	stopEnd  stop = iota // the end of the file
	stopZero             // a zero entry header: the unwritten rest of the file
	stopBad              // an entry that does not decode or whose checksum fails
)

// logFile is a log file mapped read-only.
type logFile struct {
	path    string
	name    string // the file's name in the events directory
	fid     uint64
	data    []byte
	dataKey *pb.DataKey
	baseIV  []byte
}

// openLogFile maps a log file read-only. keys resolves the data key of an
// encrypted file.
func openLogFile(path, name string, fid uint64, keys func(id uint64) (*pb.DataKey, error)) (*logFile, error) {
	data, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	lf := &logFile{path: path, name: name, fid: fid, data: data}
	if len(data) >= logHeaderSize {
		if id := binary.BigEndian.Uint64(data[:8]); id != 0 {
			if lf.dataKey, err = keys(id); err != nil {
				lf.close()
				return nil, fmt.Errorf("%s is encrypted with data key %d: %w", name, id, err)
			}
		}
		lf.baseIV = data[8:logHeaderSize]
	}
	return lf, nil
}

func (lf *logFile) close() {
	if lf.data != nil {
		unix.Munmap(lf.data)
		lf.data = nil
	}
}

// entryAt reads the entry at off. It returns stopEnd at the end of the
// file, stopZero at a zero header, and stopBad, with the extent the header
// claims when it decodes (else 0), for anything else Badger would stop at.
func (lf *logFile) entryAt(off int) (logEntry, stop, int) {
	d := lf.data
	if off >= len(d) {
		return logEntry{}, stopEnd, 0
	}
	rest := d[off:]
	if len(rest) >= 5 && rest[0] == 0 && rest[1] == 0 && rest[2] == 0 && rest[3] == 0 && rest[4] == 0 {
		return logEntry{}, stopZero, 0
	}
	if len(rest) < 2 {
		return logEntry{}, stopBad, 0
	}
	meta := rest[0]
	n := 2
	klen, k := binary.Uvarint(rest[n:])
	if k <= 0 {
		return logEntry{}, stopBad, 0
	}
	n += k
	vlen, k := binary.Uvarint(rest[n:])
	if k <= 0 {
		return logEntry{}, stopBad, 0
	}
	n += k
	_, k = binary.Uvarint(rest[n:])
	if k <= 0 {
		return logEntry{}, stopBad, 0
	}
	n += k
	if klen > 1<<16 || vlen > 1<<32-1 {
		return logEntry{}, stopBad, 0
	}
	extent := n + int(klen) + int(vlen) + crc32.Size
	if klen == 0 && vlen == 0 {
		// Badger reads this as the end of the log.
		return logEntry{}, stopZero, 0
	}
	if extent > len(rest) {
		return logEntry{}, stopBad, extent
	}
	body := rest[:extent-crc32.Size]
	if crc32.Checksum(body, y.CastagnoliCrcTable) != binary.BigEndian.Uint32(rest[extent-crc32.Size:extent]) {
		return logEntry{}, stopBad, extent
	}
	kv := body[n:]
	if lf.dataKey != nil {
		iv := make([]byte, 16)
		copy(iv, lf.baseIV)
		binary.BigEndian.PutUint32(iv[12:], uint32(off))
		plain, err := y.XORBlockAllocate(kv, lf.dataKey.Data, iv)
		if err != nil {
			return logEntry{}, stopBad, extent
		}
		kv = plain
	}
	if klen == 0 {
		return logEntry{}, stopZero, 0
	}
	return logEntry{off: off, end: off + extent, meta: meta, key: kv[:klen], value: kv[klen:]}, 0, 0
}

// plausibleAt reports whether an entry could start at off: a header of the
// kind this driver's writes produce (known meta bits, no user meta, no
// expiry, a key with its version). It only narrows the offsets whose
// checksum is worth computing when looking for entries after damage.
func (lf *logFile) plausibleAt(off int) bool {
	d := lf.data
	if off+5 > len(d) || d[off]&^knownMetaBits != 0 || d[off+1] != 0 {
		return false
	}
	klen, k := binary.Uvarint(d[off+2:])
	if k <= 0 || klen < 9 || klen > 1<<16 {
		return false
	}
	_, k2 := binary.Uvarint(d[off+2+k:])
	if k2 <= 0 || off+2+k+k2 >= len(d) {
		return false
	}
	return d[off+2+k+k2] == 0 // no expiry
}

// vptr is a value pointer: where a value lives in a value log.
type vptr struct {
	fid      uint32
	len, off uint32
}

func decodeVptr(b []byte) (vptr, bool) {
	if len(b) < vptrSize {
		return vptr{}, false
	}
	return vptr{
		fid: binary.LittleEndian.Uint32(b[0:4]),
		len: binary.LittleEndian.Uint32(b[4:8]),
		off: binary.LittleEndian.Uint32(b[8:12]),
	}, true
}

// walReplay is what Badger's replay of a write-ahead log would keep.
type walReplay struct {
	// validEnd is the end of the last complete transaction: Badger keeps
	// the file up to here and truncates the rest.
	validEnd int
	// committed are the entries of complete transactions, in order.
	committed []logEntry
}

// replayWAL reads a memtable's write-ahead log as Badger replays it
// (logFile.iterate): transactions up to the first entry that does not read,
// whose version differs from its transaction's, or whose finish entry does
// not match. from is the offset to start at (the first entry after the file
// header, or a resynchronization point); the entries of transactions that
// complete are passed to each, and commits are called at the end of each
// transaction.
func (lf *logFile) replayWAL(from int, each func(logEntry), commits ...func()) (validEnd, stoppedAt int, why stop, extent int) {
	validEnd = from
	var pending []logEntry
	var txnTs uint64
	off := from
	for {
		e, st, ext := lf.entryAt(off)
		if st != 0 || e.key == nil {
			return validEnd, off, st, ext
		}
		switch {
		case e.meta&bitTxn != 0:
			ts := y.ParseTs(e.key)
			if txnTs == 0 {
				txnTs = ts
			}
			if ts != txnTs {
				return validEnd, off, stopBad, e.end - e.off
			}
			pending = append(pending, e)
		case e.meta&bitFinTxn != 0:
			ts, err := strconv.ParseUint(string(e.value), 10, 64)
			if err != nil || ts != txnTs {
				return validEnd, off, stopBad, e.end - e.off
			}
			for _, p := range pending {
				each(p)
			}
			for _, c := range commits {
				c()
			}
			pending, txnTs = pending[:0], 0
			validEnd = e.end
		default:
			if txnTs != 0 {
				return validEnd, off, stopBad, e.end - e.off
			}
			each(e)
			validEnd = e.end
		}
		off = e.end
	}
}

// scanValueLog reads a value log's entries (which carry no transaction
// marks) from the header on, as Badger does when it decides where to
// truncate the newest one, and returns where the readable entries end.
func (lf *logFile) scanValueLog() (validEnd int, why stop, extent int) {
	off := logHeaderSize
	for {
		e, st, ext := lf.entryAt(off)
		if st != 0 || e.key == nil {
			return off, st, ext
		}
		off = e.end
	}
}

// lastNonZero returns the offset of the last byte of the file that is not
// zero, or -1. It skips the holes of a sparse file, which is what Badger's
// preallocated log files mostly are.
func (lf *logFile) lastNonZero() int {
	return lastNonZero(lf.path, lf.data)
}

func lastNonZero(path string, data []byte) int {
	type extent struct{ lo, hi int }
	var extents []extent
	if f, err := os.Open(path); err == nil {
		fd := int(f.Fd())
		var off int64
		for off < int64(len(data)) {
			lo, err := unix.Seek(fd, off, unix.SEEK_DATA)
			if err != nil || lo >= int64(len(data)) {
				break
			}
			hi, err := unix.Seek(fd, lo, unix.SEEK_HOLE)
			if err != nil || hi > int64(len(data)) {
				hi = int64(len(data))
			}
			extents = append(extents, extent{int(lo), int(hi)})
			off = hi
		}
		f.Close()
	}
	if extents == nil {
		extents = []extent{{0, len(data)}} // no hole information: read it all
	}
	for i := len(extents) - 1; i >= 0; i-- {
		for j := extents[i].hi - 1; j >= extents[i].lo; j-- {
			if data[j] != 0 {
				return j
			}
		}
	}
	return -1
}

// mapFile maps a whole file read-only; an empty file maps to an empty
// slice.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return []byte{}, nil
	}
	if fi.Size() > 1<<40 {
		return nil, errors.New("larger than any file Badger writes")
	}
	return unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
}

func unmap(data []byte) {
	if len(data) > 0 {
		unix.Munmap(data)
	}
}
