package fleet

import (
	"errors"
	"fmt"
)

// Errors of the fleet package.
var (
	// ErrInvalidCommand is returned (as a *CommandError) for a command
	// that cannot be published or applied: a missing or malformed field.
	ErrInvalidCommand = errors.New("fleet: invalid command")

	// ErrBadSignature is returned when a command, report or fleet record
	// is not signed by a key the verifier trusts.
	ErrBadSignature = errors.New("fleet: bad signature")

	// ErrUnknownKey is returned when a command is sealed under a data key
	// the node does not hold (retired and destroyed, or never given).
	ErrUnknownKey = errors.New("fleet: unknown data key")

	// ErrNoIssuerKey is returned when publishing without an issuer's
	// private key: a node bundle can verify commands but never sign one.
	ErrNoIssuerKey = errors.New("fleet: no issuer private key")

	// ErrInvalidKeys is returned for a key directory or bundle that is
	// missing, malformed, or holds a key of the wrong size.
	ErrInvalidKeys = errors.New("fleet: invalid keys")

	// ErrInvalidNode is returned for a node ID that is not 1-64 ASCII
	// letters, digits, '-' or '_'.
	ErrInvalidNode = errors.New("fleet: invalid node ID")

	// ErrNodeKeyMismatch is returned when a node joins under an ID that is
	// registered with another report key.
	ErrNodeKeyMismatch = errors.New("fleet: node registered with another key")

	// ErrNodeRetired is returned when a retired node tries to run again.
	ErrNodeRetired = errors.New("fleet: node retired")

	// ErrUnknownRequest is returned by Status for a request ID (or
	// correlation) that was never published.
	ErrUnknownRequest = errors.New("fleet: unknown request")

	// ErrUnknownNode is returned when retiring a node that never joined.
	ErrUnknownNode = errors.New("fleet: unknown node")
)

// CommandError says which field of a command is wrong. It matches
// ErrInvalidCommand and never holds a number.
type CommandError struct {
	Field  string
	Reason string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("fleet: invalid command: %s: %s", e.Field, e.Reason)
}

// Is matches ErrInvalidCommand.
func (e *CommandError) Is(target error) bool { return target == ErrInvalidCommand }
