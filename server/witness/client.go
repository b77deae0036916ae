package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// Client speaks C2SP tlog-witness to one witness.
type Client struct {
	// Name is what the server calls the witness in logs and metrics.
	Name string
	// URL is the witness's submission prefix.
	URL string
	// Key is the witness's cosignature verifier key.
	Key  commitment.WitnessKey
	http *http.Client
}

// NewClient returns a client of the witness at url with key, a
// cosignature/v1 verifier key.
func NewClient(name, url, key string) (*Client, error) {
	k, err := commitment.ParseWitnessKey(key)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", name, err)
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("witness %s: URL %q is not http:// or https://", name, url)
	}
	return &Client{Name: name, URL: strings.TrimSuffix(url, "/"), Key: k, http: &http.Client{Timeout: 10 * time.Second}}, nil
}

// ParseSpec parses a witness given as NAME=URL+KEY (serve --witness).
func ParseSpec(s string) (*Client, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return nil, fmt.Errorf("%q is not NAME=URL+KEY", s)
	}
	// The URL holds no '+' of its own in practice; the key holds two.
	i := strings.Index(rest, "+")
	if i < 0 {
		return nil, fmt.Errorf("%q is not NAME=URL+KEY", s)
	}
	return NewClient(name, rest[:i], rest[i+1:])
}

// ConflictError is a witness's 409: it cosigned a tree of Size events, and
// the request's old size, or its checkpoint, disagrees with that.
type ConflictError struct{ Size uint64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the witness last cosigned a tree of %d events", e.Size)
}

// RefusedError is any other answer than a cosignature.
type RefusedError struct {
	Status int
	Msg    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the witness answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

// AddCheckpoint submits a checkpoint that the log whose verifier key is
// logKey signed, with the consistency proof from the size the witness last
// cosigned, and returns the checkpoint with the witness's cosignature
// added, verified with the witness's key. A 409 is a *ConflictError; any
// other refusal a *RefusedError.
func (c *Client) AddCheckpoint(ctx context.Context, logKey string, old uint64, proof [][32]byte, signed []byte) ([]byte, error) {
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range proof {
		body.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	body.WriteString("\n")
	body.Write(signed)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/add-checkpoint", &body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusConflict:
		n, err := strconv.ParseUint(strings.TrimSuffix(string(b), "\n"), 10, 64)
		if err != nil {
			return nil, &RefusedError{Status: resp.StatusCode, Msg: "a conflict without a tree size"}
		}
		return nil, &ConflictError{Size: n}
	default:
		return nil, &RefusedError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))}
	}
	// Keep the witness's own lines only, verified.
	cosigned := append(bytes.Clone(signed), b...)
	p := &commitment.WitnessPolicy{Witnesses: []commitment.WitnessKey{c.Key}, Quorum: 1}
	k, err := commitment.ParseVerifierKey(logKey)
	if err != nil {
		return nil, err
	}
	if _, _, err := commitment.OpenCosignedCheckpoint(cosigned, logKey, k.Name, p); err != nil {
		return nil, fmt.Errorf("the witness's answer does not hold its cosignature of the checkpoint: %w", err)
	}
	return cosigned, nil
}
