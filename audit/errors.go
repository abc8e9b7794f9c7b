package audit

import (
	"errors"
	"fmt"
)

var (
	// ErrChainBroken is matched (through *ChainError) by Verify's errors:
	// an entry that does not decode, does not link to its predecessor, or
	// is missing.
	ErrChainBroken = errors.New("audit: chain broken")

	// ErrCorrupt is returned by Decode for bytes that are not an entry.
	ErrCorrupt = errors.New("audit: corrupt entry")

	// ErrNotFound is returned by Get for a seq that has no entry.
	ErrNotFound = errors.New("audit: entry not found")

	// ErrInvalidEntry is returned by Append and Encode for an entry with a
	// missing or oversized field. Nothing is written.
	ErrInvalidEntry = errors.New("audit: invalid entry")

	// ErrBadSignature is returned by VerifyReceipt for an unsigned receipt
	// or one whose bytes changed after signing.
	ErrBadSignature = errors.New("audit: bad receipt signature")
)

// ChainError names the first entry at which Verify found the chain broken.
// It matches ErrChainBroken.
type ChainError struct {
	Seq uint64
	Err error
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit: chain broken at seq %d: %v", e.Seq, e.Err)
}

// Is reports whether target is ErrChainBroken.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// Unwrap returns the cause.
func (e *ChainError) Unwrap() error { return e.Err }
