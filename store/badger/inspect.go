package badger

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/fb"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/dgraph-io/ristretto/v2/z"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store"
)

// Opening a Badger directory can destroy what it holds: Badger v4.9.6, on
// open, creates an empty database when MANIFEST is missing and deletes
// every table the manifest does not list; truncates the newest value log
// after its first entry whose checksum fails, however much follows;
// truncates each memtable's write-ahead log after the last complete
// transaction it can read; panics, in a goroutine no caller can recover,
// on a truncated table; ignores a table whose checksum fails when asked to
// verify tables; recreates a deleted value log under the same number, so
// that reads of it return empty values; and refuses a read-only open after
// any crash ("Log truncate required"). So the driver looks first, with its
// own reading of Badger's files, mapped read-only: inspect says what is
// damaged, naming the file and the first log index affected, and what
// Badger's crash recovery would drop, which must be only bytes that were
// never acknowledged. Open refuses damage; it lets Badger open only a
// directory whose recovery drops nothing committed.

const (
	manifestName = "MANIFEST"
	registryName = "KEYREGISTRY"
)

// inspection is what inspect found in a Badger directory.
type inspection struct {
	dir string // the events directory
	// indexes caches the decrypted indexes of encrypted tables, which
	// Badger's table reader needs (made on first use).
	indexesOnce sync.Once
	indexes     *ristretto.Cache[uint64, *fb.TableIndex]
	indexesErr  error
	// fresh is set when no database is there yet.
	fresh bool

	manifest     badgerdb.Manifest
	manifestTorn int64 // bytes of an incomplete change set at the end of MANIFEST
	tables       map[uint64]string
	orphans      []string // table files MANIFEST does not list
	wals         []*walInfo
	vlogs        []*vlogInfo // by file number
	// recovery says, for the log, what Badger's crash recovery will drop:
	// bytes never acknowledged.
	recovery []string
	// emptyWAL is the path of an empty newest write-ahead log, which a
	// kill left before Badger sized it; "" when there is none.
	emptyWAL string
}

type walInfo struct {
	name     string
	fid      uint64
	size     int
	validEnd int // Badger truncates the file here
}

type vlogInfo struct {
	name     string
	fid      uint64
	size     int
	validEnd int // for the newest one: Badger truncates it here
}

// Damage is an error naming a damaged or missing file of the database:
// opening it as Badger would could lose acknowledged events, so the driver
// refuses. It wraps store.ErrCorrupt.
type Damage struct {
	// File is the file's path.
	File string
	// Problem says what is wrong with it.
	Problem string
	// FirstIndex is the first log index whose records are affected, when
	// it can be known (HasIndex).
	FirstIndex uint64
	HasIndex   bool
	// Affected describes the first record affected, when known.
	Affected string
}

func (d *Damage) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", d.File, d.Problem)
	switch {
	case d.HasIndex:
		fmt.Fprintf(&b, "; the first log index affected is %d (%s)", d.FirstIndex, d.Affected)
	case d.Affected != "":
		fmt.Fprintf(&b, "; the first record affected is %s", d.Affected)
	}
	b.WriteString(". The store refuses to open it, so that nothing acknowledged is lost, and has changed nothing." +
		" Remedy: stop, copy the data directory aside for investigation, and restore the last backup with" +
		" `agenttrail restore --in BACKUP --data NEWDIR` (then append what was acknowledged after it, which clients can resend with the same event ids)")
	return b.String()
}

func (d *Damage) Unwrap() error { return store.ErrCorrupt }

// inspect reads a Badger directory without Badger and without writing a
// byte. It returns a *Damage error for anything that would make Badger
// lose, hide or invent data, and otherwise what Badger's own recovery will
// drop, all of it never acknowledged. key is the storage key that opens
// Badger's key registry, which holds the data keys of encrypted files (nil:
// the database is in the clear); a registry it does not open is refused
// with store.ErrWrongKey or store.ErrPlaintext, as Badger would.
func inspect(dir string, key []byte) (*inspection, error) {
	in := &inspection{dir: dir, tables: map[uint64]string{}}
	defer func() {
		if in.indexes != nil {
			in.indexes.Close()
		}
	}()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		in.fresh = true
		return in, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", store.ErrFailed, dir, err)
	}
	hasManifest, hasRegistry := false, false
	var ssts []uint64
	var mems, vlogs []uint64
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == manifestName:
			hasManifest = true
		case name == registryName:
			hasRegistry = true
		case strings.HasSuffix(name, ".sst"):
			if id, ok := table.ParseFileID(name); ok {
				ssts = append(ssts, id)
			}
		case strings.HasSuffix(name, ".mem"):
			if id, err := strconv.ParseUint(strings.TrimSuffix(name, ".mem"), 10, 64); err == nil {
				mems = append(mems, id)
			}
		case strings.HasSuffix(name, ".vlog"):
			if id, err := strconv.ParseUint(strings.TrimSuffix(name, ".vlog"), 10, 32); err == nil {
				vlogs = append(vlogs, id)
			}
		}
	}
	slices.Sort(ssts)
	slices.Sort(mems)
	slices.Sort(vlogs)
	path := func(name string) string { return filepath.Join(dir, name) }

	if !hasManifest {
		if len(ssts)+len(mems)+len(vlogs) == 0 {
			in.fresh = true
			return in, nil
		}
		return nil, &Damage{File: path(manifestName), Problem: fmt.Sprintf(
			"missing, but the directory holds %d table, %d write-ahead log and %d value log files:"+
				" Badger would start an empty database and delete the tables", len(ssts), len(mems), len(vlogs))}
	}
	keys, closeKeys, err := openKeys(dir, hasRegistry, key)
	if err != nil {
		return nil, err
	}
	defer closeKeys()

	// MANIFEST: which tables make up the tree.
	if err := in.readManifest(path(manifestName)); err != nil {
		return nil, err
	}
	for id := range in.manifest.Tables {
		name := filepath.Base(table.NewFilename(id, dir))
		if !slices.Contains(ssts, id) {
			return nil, &Damage{File: path(name), Problem: fmt.Sprintf("missing: MANIFEST lists it at level %d of the tree", in.manifest.Tables[id].Level)}
		}
		in.tables[id] = name
	}
	for _, id := range ssts {
		if _, ok := in.manifest.Tables[id]; !ok {
			in.orphans = append(in.orphans, filepath.Base(table.NewFilename(id, dir)))
		}
	}

	// Value logs: their sizes, and where Badger would truncate the newest.
	for _, fid := range vlogs {
		name := fmt.Sprintf("%06d.vlog", fid)
		fi, err := os.Stat(path(name))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", store.ErrFailed, path(name), err)
		}
		v := &vlogInfo{name: name, fid: fid, size: int(fi.Size()), validEnd: int(fi.Size())}
		if fid == vlogs[len(vlogs)-1] && fi.Size() >= logHeaderSize {
			lf, err := openLogFile(path(name), name, fid, keys)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", store.ErrFailed, path(name), err)
			}
			v.validEnd, _, _ = lf.scanValueLog()
			lf.close()
		}
		in.vlogs = append(in.vlogs, v)
	}
	refs := newRefChecker(in)

	// Write-ahead logs: what replay keeps, and the value pointers of the
	// committed transactions.
	for i, fid := range mems {
		name := fmt.Sprintf("%05d.mem", fid)
		w, err := in.readWAL(path(name), name, fid, keys, refs, i == len(mems)-1)
		if err != nil {
			return nil, err
		}
		if w != nil {
			in.wals = append(in.wals, w)
		}
	}

	// Tables: every block's checksum, and the value pointers they hold.
	if err := in.readTables(keys, refs); err != nil {
		return nil, err
	}
	if err := refs.damage(); err != nil {
		return nil, err
	}
	if n := len(in.vlogs); n > 0 {
		if v := in.vlogs[n-1]; v.validEnd < v.size {
			in.recovery = append(in.recovery, fmt.Sprintf("%s: %d bytes after offset %d, which no key points to (values of transactions that never committed, or preallocated space)", v.name, v.size-v.validEnd, v.validEnd))
		}
	}
	if in.manifestTorn > 0 {
		in.recovery = append(in.recovery, fmt.Sprintf("MANIFEST: an incomplete change set of %d bytes at its end", in.manifestTorn))
	}
	return in, nil
}

// openKeys opens Badger's key registry read-only, to decrypt encrypted
// files. Without a registry every file must be plaintext.
func openKeys(dir string, hasRegistry bool, key []byte) (func(uint64) (*pb.DataKey, error), func(), error) {
	none := func(id uint64) (*pb.DataKey, error) {
		return nil, fmt.Errorf("no key registry to decrypt it with")
	}
	if !hasRegistry {
		return none, func() {}, nil
	}
	kr, err := badgerdb.OpenKeyRegistry(badgerdb.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: key})
	if errors.Is(err, badgerdb.ErrEncryptionKeyMismatch) {
		return nil, nil, keyMismatch(dir, len(key) > 0)
	}
	if err != nil {
		// Plaintext databases need no key; an encrypted one is reported
		// when a file needs one.
		return func(id uint64) (*pb.DataKey, error) {
			return nil, fmt.Errorf("the key registry does not open: %v", err)
		}, func() {}, nil
	}
	return kr.DataKey, func() { kr.Close() }, nil
}

func (in *inspection) readManifest(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", store.ErrFailed, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", store.ErrFailed, path, err)
	}
	m, end, err := replayManifest(f)
	if err != nil {
		return &Damage{File: path, Problem: fmt.Sprintf("damaged: %v; Badger cannot tell which tables make up the tree", err)}
	}
	in.manifest, in.manifestTorn = m, fi.Size()-end
	return nil
}

// replayManifest runs Badger's own reading of MANIFEST, turning its panics
// into errors.
func replayManifest(f *os.File) (m badgerdb.Manifest, end int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("unreadable (%v)", p)
		}
	}()
	return badgerdb.ReplayManifestFile(f, 0, badgerdb.DefaultOptions("").WithLogger(nil))
}

// readWAL reads a write-ahead log as Badger's replay would, and refuses it
// when replay would drop a committed transaction. newest says that it is
// the newest one; an empty newest log is left out (nil, nil).
func (in *inspection) readWAL(path, name string, fid uint64, keys func(uint64) (*pb.DataKey, error), refs *refChecker, newest bool) (*walInfo, error) {
	lf, err := openLogFile(path, name, fid, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", store.ErrFailed, path, err)
	}
	defer lf.close()
	w := &walInfo{name: name, fid: fid, size: len(lf.data)}
	if len(lf.data) == 0 && newest {
		// Badger creates a write-ahead log, then sizes it: a kill between
		// the two leaves the newest one empty, never written, and Badger
		// opens it as a new log. (An empty log that did hold acknowledged
		// events is a store shorter than the checkpoint record's
		// acknowledged tree, which Open refuses with ErrRolledBack, as it
		// does a deleted one.)
		in.recovery = append(in.recovery, fmt.Sprintf("%s: empty, created just before a crash and never written", name))
		in.emptyWAL = path
		return nil, nil
	}
	if len(lf.data) < logHeaderSize {
		// Badger creates these files at their full preallocated size, so
		// a shorter one was cut: whatever it held is gone.
		return nil, &Damage{File: path, Problem: fmt.Sprintf("truncated to %d bytes: the write-ahead log of the newest writes is lost", len(lf.data))}
	}
	var lastEvent uint64
	hasEvent := false
	validEnd, stoppedAt, why, extent := lf.replayWAL(logHeaderSize, func(e logEntry) {
		refs.logRef(name, e)
		if _, l, ok := leafRange(y.ParseKey(e.key)); ok {
			lastEvent, hasEvent = max(lastEvent, l), true
		}
	})
	w.validEnd = validEnd
	last := lf.lastNonZero()
	if last < validEnd {
		return w, nil // the rest is the preallocated zeros
	}
	// Bytes follow the last complete transaction. After a crash they are a
	// transaction that never finished (its entries, then a partly written
	// one, then zeros): never acknowledged, since a transaction is
	// acknowledged only once its finish entry is synced. Anything that
	// holds a complete transaction after the point where replay stops is
	// damage.
	if txn, ok := lf.committedAfter(stoppedAt, why, extent, last); ok {
		d := &Damage{File: path, Problem: fmt.Sprintf("damaged at offset %d: replay would stop there and drop the committed transactions that follow (the next one at offset %d)", stoppedAt, txn[0].off)}
		// Every event after the last one replay keeps is dropped.
		if hasEvent {
			d.FirstIndex, d.HasIndex = lastEvent+1, true
			d.Affected = fmt.Sprintf("every event after event %d that this log holds", lastEvent)
		} else {
			// Replay may have resynchronized inside the damaged
			// transaction: name the lowest log index any of its
			// records that read is about.
			first := y.ParseKey(txn[0].key)
			for _, e := range txn {
				k := y.ParseKey(e.key)
				if i, ok := keyLogIndex(k); ok {
					if j, has := keyLogIndex(first); !has || i < j {
						first = k
					}
				}
			}
			describeDamage(d, first)
		}
		return nil, d
	}
	in.recovery = append(in.recovery, fmt.Sprintf("%s: %d bytes after offset %d, a transaction that never committed", name, last+1-validEnd, validEnd))
	return w, nil
}

// committedAfter looks for a complete transaction after the point where
// replay stopped, resynchronizing past entries that do not read, and
// returns its entries.
func (lf *logFile) committedAfter(stoppedAt int, why stop, extent, last int) ([]logEntry, bool) {
	off := stoppedAt
	for off <= last {
		var txn []logEntry
		var done bool
		_, at, st, ext := lf.replayWAL(off, func(e logEntry) {
			if !done {
				txn = append(txn, e)
			}
		}, func() { done = done || len(txn) > 0 })
		if len(txn) > 0 {
			return txn, true
		}
		// Skip what does not read: first by the length its header claims,
		// then byte by byte to the next plausible entry whose checksum
		// holds.
		next := at + 1
		if st == stopBad && ext > 0 && at+ext <= last {
			if e, s, _ := lf.entryAt(at + ext); s == 0 && e.key != nil {
				off = at + ext
				continue
			}
		}
		for ; next <= last; next++ {
			if lf.plausibleAt(next) {
				if e, s, _ := lf.entryAt(next); s == 0 && e.key != nil {
					break
				}
			}
		}
		off = next
	}
	return nil, false
}

// readTables checks every table MANIFEST lists, on all cores: its index and
// every block's checksum, through Badger's own table reader; and collects
// the value pointers it holds.
func (in *inspection) readTables(keys func(uint64) (*pb.DataKey, error), refs *refChecker) error {
	ids := make([]uint64, 0, len(in.tables))
	for id := range in.tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	work := make(chan int)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(ids))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				errs[i] = in.readTable(ids[i], keys, refs)
			}
		}()
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err // the table with the smallest number
		}
	}
	return nil
}

func (in *inspection) readTable(id uint64, keys func(uint64) (*pb.DataKey, error), refs *refChecker) (err error) {
	name := in.tables[id]
	path := filepath.Join(in.dir, name)
	tm := in.manifest.Tables[id]
	opts := table.Options{ReadOnly: true, ChkMode: options.NoVerification, Compression: tm.Compression, BlockSize: 4 << 10}
	if tm.KeyID != 0 {
		if opts.DataKey, err = keys(tm.KeyID); err != nil {
			return &Damage{File: path, Problem: fmt.Sprintf("encrypted with data key %d, which cannot be read: %v", tm.KeyID, err)}
		}
		// Badger's reader decrypts an encrypted table's index into a
		// cache, and panics without one.
		in.indexesOnce.Do(func() {
			in.indexes, in.indexesErr = ristretto.NewCache(&ristretto.Config[uint64, *fb.TableIndex]{NumCounters: 1 << 12, MaxCost: 32 << 20, BufferItems: 64})
		})
		if in.indexesErr != nil {
			return fmt.Errorf("%w: %v", store.ErrFailed, in.indexesErr)
		}
		opts.IndexCache = in.indexes
	}
	t, closeTable, err := openTable(path, opts)
	if err != nil {
		return err
	}
	defer closeTable()
	defer func() {
		if p := recover(); p != nil {
			err = tableDamage(path, opts, fmt.Sprintf("unreadable (%s)", firstLine(p)))
		}
	}()
	// With verification off, VerifyChecksum checks each block itself
	// (with it on, Badger v4.9.6 dereferences a nil block on a bad one).
	if err := t.VerifyChecksum(); err != nil {
		msg := strings.TrimPrefix(firstLine(err), "checksum validation failed for table: "+path+", ")
		return tableDamage(path, opts, fmt.Sprintf("a block fails its checksum (%s)", msg))
	}
	it := t.NewIterator(table.NOCACHE)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if vs := it.Value(); vs.Meta&bitValuePointer != 0 {
			refs.ref(name, it.Key(), vs.Value)
		}
	}
	return nil
}

// openTable opens a table file read-only with Badger's table reader,
// turning its panics (a short file panics) into a *Damage.
func openTable(path string, opts table.Options) (t *table.Table, closeTable func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", store.ErrFailed, path, err)
	}
	data, err := mapFile(path)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s: %v", store.ErrFailed, path, err)
	}
	closeTable = func() { unmap(data); f.Close() }
	if len(data) == 0 {
		closeTable()
		return nil, nil, &Damage{File: path, Problem: "empty: the table's records are lost; its key range is unknown"}
	}
	defer func() {
		if p := recover(); p != nil {
			closeTable()
			t, closeTable = nil, nil
			// Badger panics on a table whose footer or index is cut
			// short or overwritten.
			err = &Damage{File: path, Problem: fmt.Sprintf("cut short or overwritten: its index does not decode (%d bytes; Badger panics on it); its key range is unknown", len(data))}
		}
	}()
	t, err = table.OpenTable(&z.MmapFile{Data: data, Fd: f}, opts)
	if err != nil {
		closeTable()
		return nil, nil, &Damage{File: path, Problem: fmt.Sprintf("unreadable (%s); its key range is unknown because its index does not read", firstLine(err))}
	}
	return t, closeTable, nil
}

// tableDamage describes a damaged table whose index reads: from the last
// record before the damage, found by reading the table again in order with
// every block's checksum checked.
func tableDamage(path string, opts table.Options, problem string) error {
	d := &Damage{File: path, Problem: problem}
	opts.ChkMode = options.OnBlockRead
	t, closeTable, err := openTable(path, opts)
	if err != nil {
		return d
	}
	defer closeTable()
	var last []byte
	func() {
		defer func() { recover() }()
		it := t.NewIterator(table.NOCACHE)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			last = append(last[:0], it.Key()...)
		}
	}()
	if last == nil {
		describeDamage(d, y.ParseKey(t.Smallest()))
		return d
	}
	k := y.ParseKey(last)
	d.Affected = "the records after " + describeKey(k)
	if i, ok := keyLogIndex(k); ok {
		d.FirstIndex, d.HasIndex = i+1, true
	}
	return d
}

// firstLine returns the first line of a panic's or an error's text that is
// not empty.
func firstLine(v any) string {
	for _, l := range strings.Split(fmt.Sprint(v), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "no message"
}

// refChecker checks every value pointer of the tree against the value logs
// as Badger will leave them, and remembers the first record whose value
// would be lost.
type refChecker struct {
	dir    string
	limits map[uint32]int // how far each value log reads
	names  map[uint32]string
	mu     sync.Mutex
	bad    map[uint32]*badRef
}

type badRef struct {
	count    int
	index    uint64
	hasIndex bool
	key      []byte
	from     string // the file holding the pointer
	end      int
}

func newRefChecker(in *inspection) *refChecker {
	r := &refChecker{dir: in.dir, limits: map[uint32]int{}, names: map[uint32]string{}, bad: map[uint32]*badRef{}}
	for _, v := range in.vlogs {
		r.limits[uint32(v.fid)] = v.validEnd
		r.names[uint32(v.fid)] = v.name
	}
	return r
}

func (r *refChecker) logRef(file string, e logEntry) {
	if e.meta&bitValuePointer != 0 {
		r.ref(file, e.key, e.value)
	}
}

// ref checks one value pointer held by key (with its version) in file.
func (r *refChecker) ref(file string, key, value []byte) {
	p, ok := decodeVptr(value)
	if !ok {
		r.note(0, file, key, 0)
		return
	}
	end := int(p.off) + int(p.len)
	if limit, ok := r.limits[p.fid]; ok && end <= limit {
		return
	}
	r.note(p.fid, file, key, end)
}

func (r *refChecker) note(fid uint32, file string, key []byte, end int) {
	k := y.ParseKey(key)
	idx, has := keyLogIndex(k)
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bad[fid]
	if b == nil {
		b = &badRef{}
		r.bad[fid] = b
	}
	b.count++
	if b.key == nil || (has && (!b.hasIndex || idx < b.index)) {
		b.index, b.hasIndex, b.key, b.from, b.end = idx, has, bytes.Clone(k), file, end
	}
}

// damage reports the value log with pointers that do not resolve.
func (r *refChecker) damage() error {
	if len(r.bad) == 0 {
		return nil
	}
	fids := make([]uint32, 0, len(r.bad))
	for fid := range r.bad {
		fids = append(fids, fid)
	}
	slices.Sort(fids)
	fid := fids[0]
	b := r.bad[fid]
	name, exists := r.names[fid]
	if !exists {
		name = fmt.Sprintf("%06d.vlog", fid)
	}
	var problem string
	switch limit := r.limits[fid]; {
	case fid == 0:
		problem = fmt.Sprintf("%d records hold a malformed value pointer", b.count)
	case !exists:
		problem = fmt.Sprintf("missing: %d records have their values in it", b.count)
	default:
		problem = fmt.Sprintf("readable only up to offset %d, but %d records have their values beyond it (up to offset %d)", limit, b.count, b.end)
	}
	d := &Damage{File: filepath.Join(r.dir, name), Problem: problem}
	describeDamage(d, b.key)
	return d
}

// leafRange returns the log indexes whose leaf data a key holds: one
// event's, or a record bundle's events'.
func leafRange(k []byte) (first, last uint64, ok bool) {
	switch {
	case len(k) == 9 && k[0] == prefixRecord:
		return keyIndex(k), keyIndex(k), true
	case len(k) == 17 && k[0] == prefixLeaves:
		return bundleRange(k)
	}
	return 0, 0, false
}

// describeDamage fills in the first log index affected from a key of the
// store's layout (keys.go), without its version.
func describeDamage(d *Damage, key []byte) {
	d.Affected = describeKey(key)
	d.FirstIndex, d.HasIndex = keyLogIndex(key)
}

// keyLogIndex returns the first log index a record of the key layout is
// about, when it is about one.
func keyLogIndex(k []byte) (uint64, bool) {
	if len(k) == 0 {
		return 0, false
	}
	switch k[0] {
	case prefixRecord, prefixContent, prefixErased:
		if len(k) == 9 {
			return keyIndex(k), true
		}
	case prefixLeaves, prefixContents:
		if first, _, ok := bundleRange(k); ok {
			return first, true
		}
	case prefixHashes:
		if len(k) == 9 {
			level, n := tlog.SplitStoredHashIndex(int64(keyIndex(k)))
			return uint64(n) << level, true
		}
	case prefixSize, prefixCheckpoint:
		if len(k) == 9 && keyIndex(k) > 0 {
			return keyIndex(k) - 1, true
		}
	case prefixPostings, prefixTime:
		if len(k) >= 9 {
			return keyIndex(k), true
		}
	case prefixAggregate:
		// A delta is filed under its batch's first index, a rollup under
		// the size it counts up to.
		if len(k) == 15 && k[6] == 'd' {
			return keyIndex(k), true
		}
		if len(k) == 15 && k[6] == 'R' && keyIndex(k) > 0 {
			return keyIndex(k) - 1, true
		}
	case prefixKeyring:
		if len(k) == 10 && k[1] == store.EventKeyName(0)[0] {
			return keyIndex(k), true
		}
	}
	return 0, false
}

// describeKey names what a record of the key layout holds, for messages.
// It never includes an event id or a key's value.
func describeKey(k []byte) string {
	if len(k) == 0 {
		return "an empty key"
	}
	i, _ := keyLogIndex(k)
	switch k[0] {
	case prefixRecord:
		return fmt.Sprintf("the leaf data of event %d", i)
	case prefixLeaves, prefixContents:
		what := "leaf data"
		if k[0] == prefixContents {
			what = "content records"
		}
		if first, last, ok := bundleRange(k); ok {
			return fmt.Sprintf("the %s of events %d to %d", what, first, last)
		}
		return fmt.Sprintf("a bundle of %s", what)
	case prefixContent:
		return fmt.Sprintf("the content of event %d", i)
	case prefixErased:
		return fmt.Sprintf("the erasure mark of event %d", i)
	case prefixHashes:
		return fmt.Sprintf("tree hashes from event %d", i)
	case prefixSize:
		return fmt.Sprintf("the root of the tree of size %d", keyIndex(k))
	case prefixCheckpoint:
		return fmt.Sprintf("the checkpoint of size %d", keyIndex(k))
	case prefixPostings, prefixTime:
		return fmt.Sprintf("a secondary index entry from event %d", i)
	case prefixID:
		return "an entry of the event id index"
	case prefixKeyring:
		if _, ok := keyLogIndex(k); ok {
			return fmt.Sprintf("the content key of event %d", i)
		}
		return "a keyring record"
	case prefixAggregate:
		return "statistics aggregate cells"
	case prefixMeta:
		return "the log's metadata"
	case prefixCredential, prefixRevocation:
		return "an API key record"
	case '!':
		return "Badger's own bookkeeping"
	}
	return fmt.Sprintf("a record under prefix %q", k[0])
}
