package storetest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrail/agenttrail/store"
)

// spaceDriver wraps a driver to report as much free space as a test says.
type spaceDriver struct {
	store.Driver
	free atomic.Int64
}

const spaceNeeded = 100 << 20

func (d *spaceDriver) Space(ctx context.Context) (store.Space, error) {
	return store.Space{Free: d.free.Load(), Needed: spaceNeeded}, nil
}

// wantNoSpace checks that every event of an append was refused for want of
// space, with the figures.
func wantNoSpace(t *testing.T, res []store.Result, err error, needed int64) {
	t.Helper()
	if err != nil {
		t.Fatalf("Append on a full disk: %v; want each event refused", err)
	}
	for i, r := range res {
		var se *store.SpaceError
		if !errors.Is(r.Err, store.ErrNoSpace) || !errors.As(r.Err, &se) || se.Needed != needed {
			t.Fatalf("event %d on a full disk: %v; want a SpaceError needing %d bytes", i, r.Err, needed)
		}
	}
}

// The engine asks a driver that reports its space before every batch:
// while too little is free, events are refused with ErrNoSpace and nothing
// is written; reads go on; once space is freed, appends resume by
// themselves.
func testAppendsWaitForSpace(t *testing.T, h Harness) {
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	sd := &spaceDriver{Driver: d}
	sd.free.Store(1 << 40)
	s, err := store.New(context.Background(), sd, l.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	AppendOK(t, s, numbered("before", 3)...)

	sd.free.Store(spaceNeeded - 1)
	res, err := s.Append(context.Background(), "agent-1", numbered("full", 2))
	wantNoSpace(t, res, err, spaceNeeded)
	if size, _ := s.Size(); size != 3 {
		t.Fatalf("size %d after refused appends; want 3", size)
	}
	if _, err := s.GetByID(context.Background(), "before-001", store.HeaderAndContent); err != nil {
		t.Fatalf("reading on a full disk: %v", err)
	}
	if rep, err := s.Verify(context.Background(), 0, 0); err != nil || !rep.OK() {
		t.Fatalf("verifying on a full disk: %+v, %v", rep, err)
	}
	// The server's own records (reads, key changes) are still written
	// while a quarter of the space needed is free, and not below.
	if _, err := s.AppendRecords(context.Background(), "agenttrail", numbered("record", 1)); err != nil {
		t.Fatal(err)
	}
	if res, err := s.AppendRecords(context.Background(), "agenttrail", numbered("record", 2)[1:]); err != nil || res[0].Err != nil {
		t.Fatalf("a server record with appends refused for want of space: %v, %v; want it written", res, err)
	}
	sd.free.Store(spaceNeeded/4 - 1)
	res, err = s.AppendRecords(context.Background(), "agenttrail", numbered("late", 1))
	wantNoSpace(t, res, err, spaceNeeded)
	sd.free.Store(spaceNeeded - 1)

	sd.free.Store(spaceNeeded)
	rs := AppendOK(t, s, numbered("full", 2)...)
	if rs[0].Index != 5 || rs[1].Index != 6 {
		t.Fatalf("appends after space was freed went to %d and %d; want 5 and 6", rs[0].Index, rs[1].Index)
	}
}

// A driver that measures its storage's free space refuses appends while
// less than WithMinFreeSpace is free, even when it opens on such a disk,
// and holds nothing it refused.
func testMinFreeSpace(t *testing.T, h Harness) {
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	sr, ok := d.(store.SpaceReporter)
	if !ok {
		d.Close()
		t.Skip("the driver does not measure its free space")
	}
	sp, err := sr.Space(context.Background())
	d.Close()
	if err != nil || sp.Free <= 0 || sp.Needed <= 0 {
		t.Fatalf("Space = %+v, %v; want what is free and what is needed", sp, err)
	}
	s, err := store.Open(context.Background(), l.URL, l.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	AppendOK(t, s, numbered("before", 3)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	const huge = 1 << 60 // more than any disk has free
	s, err = store.Open(context.Background(), l.URL, l.Options(store.WithMinFreeSpace(huge))...)
	if err != nil {
		t.Fatalf("opening with more free space needed than there is: %v; want it open for reading", err)
	}
	res, err := s.Append(context.Background(), "agent-1", numbered("full", 2))
	wantNoSpace(t, res, err, huge)
	if _, err := s.GetByID(context.Background(), "before-002", store.HeaderAndContent); err != nil {
		t.Fatalf("reading on a full disk: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = l.Open(t)
	if size, _ := s.Size(); size != 3 {
		t.Fatalf("size %d; want the 3 events appended before the disk was full", size)
	}
	AppendOK(t, s, numbered("full", 2)...)
}

// The checkpoint record holds the newest acknowledged tree too: a storage
// that opens smaller than it, or with another tree at its size, lost
// acknowledged events (more than crash recovery may drop) and is refused,
// even when no checkpoint covers them yet.
func testRecordHoldsAcknowledgedTree(t *testing.T, h Harness) {
	ctx := context.Background()
	l := NewLog(t, h)
	record := l.KeyFile + ".checkpoints.json"
	opts := []store.Option{store.WithCheckpointRecord(record), store.WithBatchLimits(4, 1<<20, 0)}
	s := l.Open(t, opts...)
	appendIn(t, s, 4, numbered("a", 12))
	size, root := s.Size()
	s.Close()

	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	ack, _ := rec["acknowledged"].(map[string]any)
	if ack == nil || ack["size"] != float64(size) || ack["root"] != hex.EncodeToString(root[:]) {
		t.Fatalf("the record holds acknowledged %v; want size %d and root %x", rec["acknowledged"], size, root)
	}
	// Acknowledged events that no checkpoint covers: the signed checkpoint
	// is dropped from the record, the acknowledged tree moved ahead.
	edit := func(t *testing.T, size float64, root string) {
		t.Helper()
		r := map[string]any{"origin": rec["origin"], "acknowledged": map[string]any{"size": size, "root": root}}
		b, _ := json.Marshal(r)
		if err := os.WriteFile(record, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit(t, float64(size+5), hex.EncodeToString(root[:]))
	_, err = store.Open(ctx, l.URL, l.Options(opts...)...)
	if !errors.Is(err, store.ErrRolledBack) || !strings.Contains(err.Error(), "17 were acknowledged") {
		t.Fatalf("Open behind the acknowledged tree = %v, want ErrRolledBack naming 17 acknowledged", err)
	}
	edit(t, float64(size), strings.Repeat("00", store.HashSize))
	_, err = store.Open(ctx, l.URL, l.Options(opts...)...)
	if !errors.Is(err, store.ErrRolledBack) || !strings.Contains(err.Error(), "differs from the one acknowledged") {
		t.Fatalf("Open with another tree than the acknowledged one = %v, want ErrRolledBack", err)
	}
	edit(t, float64(size), hex.EncodeToString(root[:]))
	s = l.Open(t, opts...)
	AppendOK(t, s, numbered("b", 1)...)
}
