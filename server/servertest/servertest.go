// Package servertest runs a real agenttrail server in process, on a
// loopback port, over a real store: the one harness that the server's
// tests, the client libraries' tests and `agenttrail bench` share.
//
// By default the store is a new Badger data directory in a temporary
// directory; with AGENTTRAIL_TEST_STORE=postgres in the environment, it is a
// new database on a private PostgreSQL cluster (store/postgres/pgtest),
// so that every test of the server can run on either driver. Shutdown, in Close, is the server's documented order: the
// gRPC server stops (in-flight appends are answered), Serve returns, the
// store closes, and the temporary directory is removed.
package servertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	_ "github.com/agenttrail/agenttrail/store/postgres" // postgres:// URLs
	"github.com/agenttrail/agenttrail/store/postgres/pgtest"
)

// Config describes an in-process server.
type Config struct {
	// StoreURL is the store to serve. Empty means a Badger data directory:
	// Dir, or else a new temporary directory removed by Close (or, with
	// AGENTTRAIL_TEST_STORE=postgres and no Dir, a new PostgreSQL database
	// on the test binary's private cluster, with its signing key in a
	// temporary directory).
	StoreURL string
	// Dir is the Badger data directory when StoreURL is empty.
	Dir string
	// SigningKey is the checkpoint signing key (a note signer key). Empty
	// means a key file in the data directory, created on first use.
	SigningKey string
	// MasterKey is the store's master key. Empty means the file
	// MasterKeyFile(Dir) beside a Badger data directory, created on first
	// use, or else a new key.
	MasterKey store.MasterKey
	// StoreOptions and ServerOptions are passed to store.Open and
	// server.New, after the harness's own.
	StoreOptions  []store.Option
	ServerOptions []server.Option
	// Addr is the address to listen on; empty means 127.0.0.1:0.
	Addr string
	// Logger receives the store's and the server's logs; nil discards
	// them.
	Logger *slog.Logger
}

// Server is a running in-process server.
type Server struct {
	// Addr is the address the server listens on.
	Addr string
	// Store and Server are the running parts.
	Store  *store.Store
	Server *server.Server
	// StoreURL is the store's URL, and Dir its data directory when it is
	// a Badger one.
	StoreURL string
	Dir      string

	served    chan error
	tempDir   string
	keyFile   string
	closeOnce sync.Once
	closeErr  error
}

// MasterKeyFile is the master key file the harness keeps beside a data
// directory, where the agenttrail command looks for it by default: in its
// parent, named after it without a "-data" suffix (./agenttrail-data has
// ./agenttrail-master.key).
func MasterKeyFile(dir string) string {
	dir = filepath.Clean(dir)
	name := strings.TrimSuffix(filepath.Base(dir), "-data")
	if name == "" || name == "." || name == string(filepath.Separator) {
		name = "agenttrail"
	}
	return filepath.Join(filepath.Dir(dir), name+"-master.key")
}

// Start opens the store, builds the server and serves it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	s := &Server{served: make(chan error, 1)}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.StoreURL, s.Dir = cfg.StoreURL, cfg.Dir
	if s.StoreURL == "" && s.Dir == "" && os.Getenv(TestStoreEnv) == "postgres" {
		u, keyDir, err := postgresStore(ctx)
		if err != nil {
			return nil, err
		}
		s.StoreURL, s.tempDir = u, keyDir
		if cfg.SigningKey == "" {
			s.keyFile = filepath.Join(keyDir, "checkpoint-signing.key")
		}
	}
	if s.StoreURL == "" {
		if s.Dir == "" {
			tmp, err := os.MkdirTemp("", "agenttrail-servertest-")
			if err != nil {
				return nil, err
			}
			s.tempDir, s.Dir = tmp, filepath.Join(tmp, "data")
		}
		s.StoreURL = badger.URL(s.Dir)
	}
	storeOpts := []store.Option{store.WithLogger(logger)}
	switch {
	case cfg.SigningKey != "":
		storeOpts = append(storeOpts, store.WithSigningKey(cfg.SigningKey))
	case s.keyFile != "":
		storeOpts = append(storeOpts, store.WithSigningKeyFile(s.keyFile))
	case s.Dir != "":
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return nil, errors.Join(err, s.removeTemp())
		}
		storeOpts = append(storeOpts, store.WithSigningKeyFile(filepath.Join(s.Dir, "checkpoint-signing.key")))
	default:
		return nil, errors.New("servertest: a store given by URL needs Config.SigningKey")
	}
	switch {
	case !cfg.MasterKey.IsZero():
		storeOpts = append(storeOpts, store.WithMasterKey(cfg.MasterKey))
	case s.Dir != "":
		storeOpts = append(storeOpts, store.WithMasterKeyFile(MasterKeyFile(s.Dir)))
	default:
		k, err := store.GenerateMasterKey()
		if err != nil {
			return nil, err
		}
		storeOpts = append(storeOpts, store.WithMasterKey(k))
	}
	st, err := store.Open(ctx, s.StoreURL, append(storeOpts, cfg.StoreOptions...)...)
	if err != nil {
		return nil, errors.Join(err, s.removeTemp())
	}
	srv, err := server.New(st, append([]server.Option{server.WithLogger(logger)}, cfg.ServerOptions...)...)
	if err != nil {
		return nil, errors.Join(err, st.Close(), s.removeTemp())
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errors.Join(err, st.Close(), s.removeTemp())
	}
	s.Addr, s.Store, s.Server = lis.Addr().String(), st, srv
	go func() { s.served <- srv.Serve(lis) }()
	return s, nil
}

// New starts a server for a test or benchmark and closes it when the test
// ends, failing the test if shutting down fails.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("servertest: starting the server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("servertest: stopping the server: %v", err)
		}
	})
	return s
}

// Close shuts the server down (waiting up to ten seconds for calls to
// finish), closes the store and removes a temporary data directory. It is
// safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		if err := s.Server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
		if err := <-s.served; err != nil {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
		if err := s.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store close: %w", err))
		}
		errs = append(errs, s.removeTemp())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// TestStoreEnv names the environment variable that chooses the store of
// servers started without StoreURL or Dir: "postgres" for a PostgreSQL
// database, anything else for Badger.
const TestStoreEnv = "AGENTTRAIL_TEST_STORE"

// postgresStore creates a database on the test binary's private cluster,
// and a temporary directory for its signing key.
func postgresStore(ctx context.Context) (string, string, error) {
	c, err := pgtest.Shared()
	if err != nil {
		return "", "", err
	}
	db, err := c.CreateDatabase(ctx)
	if err != nil {
		return "", "", fmt.Errorf("servertest: creating a database: %w", err)
	}
	dir, err := os.MkdirTemp("", "agenttrail-servertest-")
	if err != nil {
		return "", "", err
	}
	return c.URL(db), dir, nil
}

func (s *Server) removeTemp() error {
	if s.tempDir == "" {
		return nil
	}
	return os.RemoveAll(s.tempDir)
}
