package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Client is a connection to an agenttrail server. It is safe for concurrent
// use; make one per server and share it.
type Client struct {
	conn   *grpc.ClientConn
	append agenttrailv1.AppendServiceClient
	query  agenttrailv1.QueryServiceClient
	log    agenttrailv1.LogServiceClient
}

// retryConfig retries the idempotent unary reads, and the start of a Query
// stream, on UNAVAILABLE and RESOURCE_EXHAUSTED (a server's rate limit).
// Append is left alone: a Session resends on its own terms.
const retryConfig = `{"methodConfig":[{
  "name":[{"service":"agenttrail.v1.LogService"},
          {"service":"agenttrail.v1.QueryService","method":"GetEvent"},
          {"service":"agenttrail.v1.QueryService","method":"Query"}],
  "retryPolicy":{"maxAttempts":5,"initialBackoff":"0.1s","maxBackoff":"2s",
                 "backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE","RESOURCE_EXHAUSTED"]}}]}`

// maxRecvBytes is the largest message the client accepts.
const maxRecvBytes = 64 << 20

// queryWindow is the HTTP/2 flow-control window of the client's streams
// and connections: what a server may send ahead of the client's reading.
const queryWindow = 8 << 20

// New returns a client of the server at addr, a host:port (or a gRPC target
// such as "unix:///run/agenttrail.sock"). No connection is made until the
// first call. Transport security follows the address unless an option
// chooses: plaintext for a loopback address or unix socket, TLS with the
// system's roots otherwise (see the package documentation).
func New(addr string, opts ...Option) (*Client, error) {
	var cfg clientConfig
	for _, o := range opts {
		if err := o.applyToClient(&cfg); err != nil {
			return nil, err
		}
	}
	local, err := isLocal(addr)
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials
	switch {
	case cfg.transport == transportTLS:
		creds = credentials.NewTLS(cfg.tls)
	case cfg.transport == transportInsecure, local:
		creds = insecure.NewCredentials()
	default:
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(retryConfig),
		// Entries are at most a few MiB; the cap keeps a bad server from
		// making the client allocate without bound.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvBytes)),
		// Pings find a dead connection under a long tail; the server
		// allows one every 10s at most.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		// Frames are read into buffers that are not zeroed first (see
		// recvBuffers): a long Query reads hundreds of MiB.
		experimental.WithBufferPool(recvBuffers),
		// A Query streams batches of up to 256 KiB. gRPC's own window
		// grows with its estimate of the bandwidth-delay product, which
		// on a fast local link stays near its 64 KiB start: the server
		// would stop every few frames for a window update, and both
		// ends would spend processor time on updates and estimation
		// pings. A fixed window (within the 16 MiB the estimate may
		// reach) lets a batch or more be in flight.
		grpc.WithInitialWindowSize(queryWindow),
		grpc.WithInitialConnWindowSize(queryWindow),
	}
	if cfg.apiKey != "" {
		if creds.Info().SecurityProtocol == "insecure" && !local {
			return nil, fmt.Errorf("%w: %s", ErrKeyWithoutTLS, addr)
		}
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{key: cfg.apiKey, local: local}))
	}
	conn, err := grpc.NewClient(addr, append(dial, cfg.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: %v", ErrInvalidOption, addr, err)
	}
	return &Client{
		conn:   conn,
		append: agenttrailv1.NewAppendServiceClient(conn),
		query:  agenttrailv1.NewQueryServiceClient(conn),
		log:    agenttrailv1.NewLogServiceClient(conn),
	}, nil
}

// Close closes the connection. Calls in progress fail; streams of
// appenders and sessions end (close sessions first to deliver their
// events).
func (c *Client) Close() error { return c.conn.Close() }

// Conn returns the underlying gRPC connection, for services this package
// does not wrap (such as grpc.health.v1).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// isLocal reports whether addr names this machine: a unix socket, or a
// host that is "localhost" or a loopback IP address.
func isLocal(addr string) (bool, error) {
	if addr == "" {
		return false, fmt.Errorf("%w: empty server address", ErrInvalidOption)
	}
	if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "unix-abstract:") {
		return true, nil
	}
	hostPort := addr
	if _, rest, ok := strings.Cut(addr, ":///"); ok { // dns:///host:port, passthrough:///host:port
		hostPort = rest
	}
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false, fmt.Errorf("%w: address %q: want host:port", ErrInvalidOption, addr)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// bearer sends an API key as "authorization: Bearer <key>".
type bearer struct {
	key   string
	local bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.key}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: gRPC
// refuses to send the key over plaintext, except to this machine.
func (b bearer) RequireTransportSecurity() bool { return !b.local }

// String keeps the key out of any formatting of the credentials.
func (b bearer) String() string { return "bearer(redacted)" }
