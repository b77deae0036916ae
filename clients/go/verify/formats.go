package verify

import (
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// The formats this package checks are defined once, in package
// store/commitment, which the server writes with; these names are that
// package's, so that a reader and the writer can never disagree.

// HashSize is the size in bytes of every hash, digest and salt of the log.
const HashSize = commitment.HashSize

// TreeHead is what a verified checkpoint states about the log.
type TreeHead = commitment.TreeHead

// VerifierKey is a parsed note verifier key for an Ed25519 signing key.
type VerifierKey = commitment.VerifierKey

// WitnessKey is a parsed witness's cosignature/v1 verifier key.
type WitnessKey = commitment.WitnessKey

// WitnessPolicy is which witnesses a reader trusts and how many must have
// cosigned a checkpoint.
type WitnessPolicy = commitment.WitnessPolicy

// Cosignature is a witness's cosignature that verified.
type Cosignature = commitment.Cosignature

// The error classes; see store/commitment for what each means.
var (
	ErrMalformed      = commitment.ErrMalformed
	ErrBadSignature   = commitment.ErrBadSignature
	ErrNoSignature    = commitment.ErrNoSignature
	ErrOriginMismatch = commitment.ErrOriginMismatch
	ErrBadProof       = commitment.ErrBadProof
	ErrLeafMismatch   = commitment.ErrLeafMismatch
	ErrDigestMismatch = commitment.ErrDigestMismatch
	ErrEventMismatch  = commitment.ErrEventMismatch
	// ErrNoQuorum: a checkpoint lacks the cosignatures a witness policy
	// demands.
	ErrNoQuorum = commitment.ErrNoQuorum
	// ErrUnprovenErasure: content is said to be erased, and no later
	// erasure or retention event names its index.
	ErrUnprovenErasure = commitment.ErrUnprovenErasure
)

// ParseWitnessKey parses a witness's cosignature/v1 verifier key; see
// [commitment.ParseWitnessKey].
func ParseWitnessKey(s string) (WitnessKey, error) { return commitment.ParseWitnessKey(s) }

// NewWitnessPolicy parses witness keys into a policy needing quorum of
// them (0: all); see [commitment.NewWitnessPolicy].
func NewWitnessPolicy(keys []string, quorum int) (*WitnessPolicy, error) {
	return commitment.NewWitnessPolicy(keys, quorum)
}

// OpenCosignedCheckpoint opens a checkpoint with the log's key and demands
// the cosignatures of a quorum of a policy's witnesses; see
// [commitment.OpenCosignedCheckpoint] for the checks, in order.
func OpenCosignedCheckpoint(signed []byte, verifierKey, origin string, p *WitnessPolicy) (TreeHead, []Cosignature, error) {
	return commitment.OpenCosignedCheckpoint(signed, verifierKey, origin, p)
}

// ParseVerifierKey parses a note verifier key; see
// [commitment.ParseVerifierKey].
func ParseVerifierKey(s string) (VerifierKey, error) { return commitment.ParseVerifierKey(s) }

// OpenCheckpoint opens a signed checkpoint of the log named origin with its
// verifier key and returns the tree head it states; see
// [commitment.OpenCheckpoint] for the checks, in order.
func OpenCheckpoint(signed []byte, verifierKey, origin string) (TreeHead, error) {
	return commitment.OpenCheckpoint(signed, verifierKey, origin)
}

// LeafHash returns the RFC 6962 leaf hash of an event's committed header
// bytes and content digest; see [commitment.LeafHash].
func LeafHash(header, digest []byte) [32]byte { return commitment.LeafHash(header, digest) }

// ContentDigest returns SHA-256(salt || content); see
// [commitment.ContentDigest].
func ContentDigest(salt, content []byte) [32]byte { return commitment.ContentDigest(salt, content) }

// CheckInclusion checks an RFC 6962 inclusion proof; see
// [commitment.CheckInclusion].
func CheckInclusion(index, size uint64, leaf [32]byte, proof [][]byte, root [32]byte) error {
	return commitment.CheckInclusion(index, size, leaf, proof, root)
}

// CheckConsistency checks an RFC 6962 consistency proof; see
// [commitment.CheckConsistency].
func CheckConsistency(oldSize, newSize uint64, oldRoot, newRoot [32]byte, proof [][]byte) error {
	return commitment.CheckConsistency(oldSize, newSize, oldRoot, newRoot, proof)
}

// ErasureLedger checks that erased content is named by a later erasure or
// retention event of the log; see [commitment.ErasureLedger].
type ErasureLedger = commitment.ErasureLedger

// ErasedBy returns the index ranges an erasure or retention event names;
// see [commitment.ErasedBy].
func ErasedBy(ev *agenttrailv1.Event) [][2]uint64 { return commitment.ErasedBy(ev) }
