package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/agenttrail/agenttrail/clients/go/client"
)

// connFlags are the flags of every command that talks to a server.
type connFlags struct {
	addr     string
	key      string
	useTLS   bool
	tlsCA    string
	tlsCert  string
	tlsKey   string
	insecure bool
}

// addConnFlags declares the connection flags on fs.
func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.addr, "addr", "127.0.0.1:7700", "server address, host:port")
	fs.StringVar(&c.key, "key", "", "API key, sent as \"authorization: Bearer <key>\"; prefer AGENTTRAIL_KEY in the\nenvironment, which other users cannot see in the process list")
	fs.BoolVar(&c.useTLS, "tls", false, "use TLS with the system's roots (the default for a non-loopback --addr)")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "trust the server certificates signed by the CA in this PEM `file` (implies TLS)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "client certificate PEM `file` for mutual TLS (with --tls-key; implies TLS)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "client private key PEM `file` for mutual TLS")
	fs.BoolVar(&c.insecure, "insecure", false, "use plaintext even to a non-loopback --addr (refused with --key)")
	return c
}

// dial checks the flags and returns a client. Mistakes in the flags are
// usage errors; the key never appears in an error.
func (c *connFlags) dial() (*client.Client, error) {
	var opts []client.Option
	if c.key != "" {
		opts = append(opts, client.WithAPIKey(c.key))
	}
	wantTLS := c.useTLS || c.tlsCA != "" || c.tlsCert != "" || c.tlsKey != ""
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return nil, usageError{"--tls-cert and --tls-key go together"}
	case c.insecure && wantTLS:
		return nil, usageError{"--insecure excludes --tls, --tls-ca, --tls-cert and --tls-key"}
	case c.insecure:
		opts = append(opts, client.WithInsecure())
	case wantTLS:
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	cl, err := client.New(c.addr, opts...)
	switch {
	case errors.Is(err, client.ErrKeyWithoutTLS):
		return nil, usageError{fmt.Sprintf("--key would be sent in plaintext to %s: use --tls or --tls-ca, or a loopback --addr", c.addr)}
	case errors.Is(err, client.ErrInvalidOption):
		return nil, usageError{fmt.Sprintf("--addr or --key: %v", err)}
	case err != nil:
		return nil, err
	}
	return cl, nil
}

// tlsConfig builds the TLS configuration of --tls-ca, --tls-cert and
// --tls-key.
func (c *connFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError{fmt.Sprintf("--tls-ca %s: no PEM certificate in it", c.tlsCA)}
		}
		cfg.RootCAs = pool
	}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert and --tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
