package verify

import (
	"fmt"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// CheckWithheld checks a withheld entry, the stand-in a server sends for an
// entry the reader's view may not show: its leaf hash must be 32 bytes
// ([ErrMalformed]). A withheld entry carries nothing else to check; pass its
// leaf hash and log index to [CheckInclusion] to prove that the log holds that
// leaf at that index. A reader reports such an entry as withheld, not as
// missing: the log proves it is there, and the server says the reader may
// not see it.
func CheckWithheld(w *agenttrailv1.WithheldEntry) error {
	if w == nil {
		return fmt.Errorf("%w: no withheld entry", ErrMalformed)
	}
	return hashLength("leaf hash", w.GetLeafHash())
}
