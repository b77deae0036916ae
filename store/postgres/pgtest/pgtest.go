// Package pgtest runs private PostgreSQL clusters for tests: initdb in a
// temporary directory, a postgres server on a free loopback port, stopped
// when the tests end. Nothing relies on a server that happens to be running.
//
// The binaries come from $AGENTTRAIL_PG_BIN, or else the newest
// /usr/lib/postgresql/<version>/bin (Debian's packages, which .ci/setup
// installs), or else initdb on the PATH. PostgreSQL refuses to run as root,
// so when the tests run as root (as CI does) the cluster runs as the
// unprivileged OS user "postgres" (created by Debian's package) through
// runuser, or as $AGENTTRAIL_PG_USER.
//
// A test binary shares one cluster (Shared), started on first use and
// stopped by Main; each test takes a fresh database in it (NewDatabase).
// Crash tests start clusters of their own (Start) and stop them with
// "immediate" to lose everything not yet durable.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the database superuser of every cluster this package
// starts; it logs in without a password, on loopback only.
const Superuser = "agenttrail"

// Cluster is a running private PostgreSQL cluster.
type Cluster struct {
	// Dir is the cluster's data directory; its server log is Dir/server.log.
	Dir string
	// Port is the loopback port it listens on.
	Port int

	bin    string
	osUser string   // run the binaries as this user; empty: as ourselves
	reaper *os.File // see startReaper
}

// Options configure Start.
type Options struct {
	// Settings are extra server settings (postgres -c name=value).
	Settings map[string]string
}

// Start initializes a new cluster in a temporary directory and starts it.
// Stop it with Stop, which also removes the directory.
func Start(opts Options) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	sweepStale()
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		c.osUser = os.Getenv("AGENTTRAIL_PG_USER")
		if c.osUser == "" {
			c.osUser = "postgres"
		}
		if _, err := user.Lookup(c.osUser); err != nil {
			return nil, fmt.Errorf("pgtest: running as root, PostgreSQL needs an unprivileged OS user: %q does not exist (install postgresql-15 with .ci/setup, or set AGENTTRAIL_PG_USER)", c.osUser)
		}
	}
	dir, err := os.MkdirTemp("", "agenttrail-pg-")
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, c.cleanup(err)
	}
	if c.osUser != "" {
		if err := exec.Command("chown", "-R", c.osUser, dir).Run(); err != nil {
			return nil, c.cleanup(fmt.Errorf("pgtest: chown %s: %w", dir, err))
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", Superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, c.cleanup(fmt.Errorf("pgtest: initdb: %w\n%s", err, out))
	}
	settings := map[string]string{
		"listen_addresses":                    "127.0.0.1",
		"unix_socket_directories":             dir,
		"max_connections":                     "200",
		"shared_buffers":                      "64MB",
		"synchronous_commit":                  "on",
		"fsync":                               "on",
		"log_min_messages":                    "warning",
		"log_min_error_statement":             "panic",
		"max_wal_size":                        "1GB",
		"checkpoint_timeout":                  "5min",
		"idle_in_transaction_session_timeout": "0",
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conf strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&conf, "%s = '%s'\n", k, settings[k])
	}
	if err := os.WriteFile(filepath.Join(dir, "pgtest.conf"), []byte(conf.String()), 0o644); err != nil {
		return nil, c.cleanup(err)
	}
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, c.cleanup(err)
	}
	_, err = fmt.Fprintf(f, "include = '%s'\n", filepath.Join(dir, "pgtest.conf"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, c.cleanup(err)
	}
	if err := c.startOnFreePort(); err != nil {
		return nil, c.cleanup(err)
	}
	if err := c.startReaper(); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

// startReaper starts a shell that waits for this process to end, however
// it ends (kill -9 and test timeouts included), and then stops the
// cluster and removes it: it reads a pipe whose only writer is this
// process.
func (c *Cluster) startReaper() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	pgctl := shellQuote(filepath.Join(c.bin, "pg_ctl"))
	if c.osUser != "" {
		pgctl = "runuser -u " + shellQuote(c.osUser) + " -- " + pgctl
	}
	script := fmt.Sprintf("cat >/dev/null; %s stop -m immediate -D %s >/dev/null 2>&1; rm -rf %s",
		pgctl, shellQuote(filepath.Join(c.Dir, "data")), shellQuote(c.Dir))
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("pgtest: starting the reaper: %w", err)
	}
	r.Close()
	c.reaper = w // held open until this process ends
	go cmd.Wait()
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// startOnFreePort starts the server on a port that was free a moment ago,
// trying again when another process took it meanwhile.
func (c *Cluster) startOnFreePort() error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			return err
		}
		c.Port = port
		if err = c.Restart(); err == nil {
			return nil
		}
	}
	return err
}

// Restart starts the server again (on its port) after Stop("immediate")
// or Kill, running crash recovery.
func (c *Cluster) Restart() error {
	data := filepath.Join(c.Dir, "data")
	out, err := c.run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(c.Dir, "server.log"),
		"-o", fmt.Sprintf("-p %d", c.Port))
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\n%s", c.Port, err, out, c.tailLog())
	}
	return nil
}

// StopServer stops the server without removing the cluster: mode is
// "smart", "fast" or "immediate" (pg_ctl stop -m; immediate is a crash:
// recovery replays the WAL on the next start).
func (c *Cluster) StopServer(mode string) error {
	out, err := c.run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", filepath.Join(c.Dir, "data"))
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// Stop stops the server and removes the cluster.
func (c *Cluster) Stop() error {
	err := c.StopServer("fast")
	if err != nil {
		if err2 := c.StopServer("immediate"); err2 == nil {
			err = nil
		}
	}
	return c.cleanup(err)
}

func (c *Cluster) cleanup(err error) error {
	if rerr := os.RemoveAll(c.Dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// URL returns the URL of a database of the cluster, as the superuser.
func (c *Cluster) URL(database string) string {
	return c.URLAs(Superuser, database)
}

// URLAs returns the URL of a database as a role.
func (c *Cluster) URLAs(role, database string) string {
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)), Path: "/" + database}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// Exec runs SQL statements in a database of the cluster as the superuser.
func (c *Cluster) Exec(ctx context.Context, database string, sql ...string) error {
	conn, err := pgx.Connect(ctx, c.URL(database))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

var dbCounter atomic.Int64

// CreateDatabase creates a new, empty database with a unique name and
// returns its name.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbCounter.Add(1))
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return name, nil
}

// DropDatabase drops a database, ending its sessions.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	return c.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// run runs a PostgreSQL binary, as the cluster's OS user when there is one.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.osUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.osUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.Dir
	// The server must not die with the test's process group on Ctrl-C
	// before the test stops it, nor inherit our stdout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (c *Cluster) tailLog() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// ServerPID returns the process id of the cluster's postmaster.
func (c *Cluster) ServerPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// binDir finds the PostgreSQL server binaries.
func binDir() (string, error) {
	if d := os.Getenv("AGENTTRAIL_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgtest: no PostgreSQL server binaries (initdb, pg_ctl): run bash .ci/setup, which installs postgresql-15, or set AGENTTRAIL_PG_BIN")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// sweepStale stops and removes clusters left behind by test processes that
// died without stopping them (a timeout, kill -9).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "agenttrail-pg-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // its owner lives
		}
		c := &Cluster{Dir: dir}
		if bin, err := binDir(); err == nil {
			c.bin = bin
		}
		if fi, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(os.Geteuid()) {
				if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
					c.osUser = u.Username
				}
			}
		}
		if pid, err := c.ServerPID(); err == nil && syscall.Kill(pid, 0) == nil {
			c.StopServer("immediate")
		}
		os.RemoveAll(dir)
	}
}

var (
	sharedMu  sync.Mutex
	shared    *Cluster
	sharedErr error
)

// Shared returns the cluster this test binary shares, starting it on first
// use, with fsync off. Main stops it.
func Shared() (*Cluster, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		// The shared cluster serves tests of what the log holds, not of
		// what survives a power cut: it does not fsync, which saves the
		// test suite minutes on a slow disk. (synchronous_commit stays
		// on; crash tests start clusters of their own, which fsync.)
		shared, sharedErr = Start(Options{Settings: map[string]string{"fsync": "off", "full_page_writes": "off"}})
	}
	return shared, sharedErr
}

// Main runs a test binary's tests and then stops its shared cluster, if
// one was started: call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		shared = nil
	}
	return code
}

// NewDatabase creates a fresh database on the shared cluster for one test
// and returns its URL; the database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name, err := c.CreateDatabase(ctx)
	if err != nil {
		t.Fatalf("pgtest: creating a database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
		}
	})
	return c.URL(name)
}
