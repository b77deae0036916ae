package client

import (
	"crypto/tls"
	"fmt"

	"google.golang.org/grpc"
)

// An Option configures [New].
type Option interface {
	applyToClient(*clientConfig) error
}

type clientOption func(*clientConfig) error

func (f clientOption) applyToClient(c *clientConfig) error { return f(c) }

// transport is the transport security a client was configured with.
type transport int

const (
	transportAuto     transport = iota // by address: plaintext on loopback, TLS elsewhere
	transportTLS                       // WithTLS
	transportInsecure                  // WithInsecure
)

type clientConfig struct {
	apiKey      string
	transport   transport
	tls         *tls.Config
	dialOptions []grpc.DialOption
}

// WithAPIKey sends key with every call as the gRPC metadata
// "authorization: Bearer <key>". The key must be 1 to 4096 visible ASCII
// characters without spaces. It is never sent in plaintext to a
// non-loopback address (see [ErrKeyWithoutTLS]) and never appears in an
// error of this package.
func WithAPIKey(key string) Option {
	return clientOption(func(c *clientConfig) error {
		if len(key) == 0 || len(key) > 4096 {
			return fmt.Errorf("%w: API key must be 1 to 4096 characters, got %d", ErrInvalidOption, len(key))
		}
		for i := 0; i < len(key); i++ {
			if key[i] <= ' ' || key[i] > '~' {
				return fmt.Errorf("%w: API key must be visible ASCII without spaces (character %d is not)", ErrInvalidOption, i+1)
			}
		}
		c.apiKey = key
		return nil
	})
}

// WithTLS speaks TLS to the server with cfg: set RootCAs to trust a private
// CA, and Certificates for mutual TLS. A nil cfg means the system's roots
// and no client certificate. The config is cloned; TLS 1.2 is the least
// version accepted.
func WithTLS(cfg *tls.Config) Option {
	return clientOption(func(c *clientConfig) error {
		if c.transport == transportInsecure {
			return fmt.Errorf("%w: WithTLS and WithInsecure exclude each other", ErrInvalidOption)
		}
		c.transport = transportTLS
		if cfg == nil {
			cfg = &tls.Config{}
		} else {
			cfg = cfg.Clone()
		}
		if cfg.MinVersion < tls.VersionTLS12 {
			cfg.MinVersion = tls.VersionTLS12
		}
		c.tls = cfg
		return nil
	})
}

// WithInsecure speaks plaintext to the server, whatever its address. It is
// the default for loopback addresses only. No API key may be used with it
// for a non-loopback address.
func WithInsecure() Option {
	return clientOption(func(c *clientConfig) error {
		if c.transport == transportTLS {
			return fmt.Errorf("%w: WithTLS and WithInsecure exclude each other", ErrInvalidOption)
		}
		c.transport = transportInsecure
		return nil
	})
}

// WithDialOptions adds gRPC dial options, such as a custom dialer (for
// bufconn in tests) or interceptors. They are applied after the client's
// own, so they can override them. Transport credentials given here replace
// the ones the client would choose; an API key still goes only over a
// secure transport or to a loopback address (gRPC fails the call
// otherwise).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return clientOption(func(c *clientConfig) error {
		c.dialOptions = append(c.dialOptions, opts...)
		return nil
	})
}
