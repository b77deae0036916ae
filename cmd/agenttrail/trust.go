package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/agenttrail/agenttrail/clients/go/client"
)

// addVerifierKeyFlag declares --verifier-key.
func addVerifierKeyFlag(fs *flag.FlagSet) *string {
	return fs.String("verifier-key", "", "the log's checkpoint verifier `key` (<origin>+<hash>+<base64>), as the server\nprints it at start; without it the server's own key is trusted on first use")
}

// verifierFor returns the verifier of --verifier-key, or else one of the
// key the server sends, with a warning on errOut: a key from the server
// proves only that the server is consistent with itself.
func verifierFor(ctx context.Context, c *client.Client, key string, errOut io.Writer) (*client.Verifier, error) {
	if key != "" {
		v, err := client.NewVerifier(key)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--verifier-key: %v", err)}
		}
		return v, nil
	}
	vk, err := c.VerifierKey(ctx)
	if err != nil {
		return nil, err
	}
	v, err := client.NewVerifier(vk.GetVerifierKey())
	if err != nil {
		return nil, fmt.Errorf("the server's verifier key: %w", err)
	}
	warnTOFU(errOut, v.Key())
	return v, nil
}

// warnTOFU warns that a key is trusted because the server (or a file) sent
// it.
func warnTOFU(errOut io.Writer, key string) {
	fmt.Fprintf(errOut, "warning: no --verifier-key: trusting the key the log itself presents, %s\n", key)
	fmt.Fprintln(errOut, "warning: trust on first use is weaker than a key obtained out of band (serve prints it at start): pass it with --verifier-key")
}
