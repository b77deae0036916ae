package witness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The witness's store is a directory with one directory per log it
// follows, named by the SHA-256 of the log's origin:
//
//	logs/<hex>/origin                  the origin, for people
//	logs/<hex>/cosigned/<size>.note    each checkpoint cosigned, with the cosignature (written once)
//	logs/<hex>/evidence/<time>-<hash>.txt  conflicting signed checkpoints, with why
//
// A file is written to a temporary name, synced, and linked to its final
// name, which fails if the name exists: nothing is ever overwritten. The
// directory is synced before the witness answers. The latest cosigned
// checkpoint is the largest size.

type logDir struct {
	dir string
}

func openLogDir(root, origin string) (*logDir, error) {
	sum := sha256.Sum256([]byte(origin))
	dir := filepath.Join(root, "logs", hex.EncodeToString(sum[:16]))
	for _, d := range []string{dir, filepath.Join(dir, "cosigned"), filepath.Join(dir, "evidence")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	originFile := filepath.Join(dir, "origin")
	if b, err := os.ReadFile(originFile); err == nil {
		if string(b) != origin+"\n" {
			return nil, fmt.Errorf("witness store %s holds the log %q, not %q", dir, strings.TrimSpace(string(b)), origin)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := writeOnce(dir, "origin", []byte(origin+"\n")); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	return &logDir{dir: dir}, nil
}

// latest returns the note of the largest cosigned checkpoint, or nil.
func (l *logDir) latest() ([]byte, uint64, error) {
	ents, err := os.ReadDir(filepath.Join(l.dir, "cosigned"))
	if err != nil {
		return nil, 0, err
	}
	var best uint64
	var name string
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".note")
		if !ok {
			continue
		}
		size, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			continue
		}
		if name == "" || size > best {
			best, name = size, e.Name()
		}
	}
	if name == "" {
		return nil, 0, nil
	}
	b, err := os.ReadFile(filepath.Join(l.dir, "cosigned", name))
	return b, best, err
}

// saveCosigned records a cosigned checkpoint of a size, once.
func (l *logDir) saveCosigned(size uint64, note []byte) error {
	err := writeOnce(filepath.Join(l.dir, "cosigned"), fmt.Sprintf("%020d.note", size), note)
	if errors.Is(err, fs.ErrExist) {
		return nil // cosigned again at the same size and root
	}
	return err
}

// saveEvidence keeps a conflicting request.
func (l *logDir) saveEvidence(reason string, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	name := fmt.Sprintf("%s-%x.txt", time.Now().UTC().Format("20060102T150405.000000000Z"), sum[:6])
	data := append([]byte("reason: "+reason+"\n\n"), body...)
	if err := writeOnce(filepath.Join(l.dir, "evidence"), name, data); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return filepath.Join(l.dir, "evidence", name), nil
}

// evidence returns the kept evidence files, oldest first.
func (l *logDir) evidence() ([][]byte, error) {
	ents, err := os.ReadDir(filepath.Join(l.dir, "evidence"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".txt") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(l.dir, "evidence", n))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// writeOnce writes a new file durably: a temporary file, synced, linked to
// its name (which fails with fs.ErrExist when the name is taken), and the
// directory synced.
func writeOnce(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
