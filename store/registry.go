package store

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// DriverOpener opens a driver for a storage URL of its scheme.
type DriverOpener func(ctx context.Context, u *url.URL, cfg DriverConfig) (Driver, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]DriverOpener{}
)

// RegisterDriver makes a driver available to Open under a URL scheme, such
// as "badger" or "postgres". Driver packages call it from init, so that a
// program chooses its drivers by importing them. It panics when the scheme
// is registered twice.
func RegisterDriver(scheme string, open DriverOpener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, ok := registry[scheme]; ok {
		panic("store: driver registered twice for scheme " + scheme)
	}
	registry[scheme] = open
}

// Drivers lists the registered URL schemes.
func Drivers() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	var out []string
	for s := range registry {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// OpenDriver opens the driver a storage URL names, without the engine: for
// tools that read storage directly. Open is the usual way in.
func OpenDriver(ctx context.Context, storeURL string, cfg DriverConfig) (Driver, error) {
	u, err := url.Parse(storeURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w: store URL %q: want <driver>://..., such as badger:///var/lib/agenttrail", ErrInvalidArgument, redactURL(storeURL))
	}
	registryMu.RLock()
	open, ok := registry[u.Scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: no store driver for %q (this build has: %s)", ErrInvalidArgument, u.Scheme, strings.Join(Drivers(), ", "))
	}
	if cfg.Logger == nil {
		cfg.Logger = defaultConfig().logger
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = defaultConfig().cacheBytes
	}
	return open(ctx, u, cfg)
}

// redactURL drops a URL's password, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
