package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/apikeys"
	"github.com/cdrvault/cdrvault/redaction"
)

// Errors of the socket.
var (
	// ErrPathTooLong is returned by Start and Dial for a socket path
	// longer than the OS allows (see PathTooLongError).
	ErrPathTooLong = errors.New("control: socket path too long")

	// ErrSocketTaken is returned by Start when the socket path holds a
	// file that is not a socket, or a socket another process answers on.
	ErrSocketTaken = errors.New("control: socket path taken")

	// ErrPeerRefused marks a peer whose credentials are not served: another
	// uid, or credentials that could not be read.
	ErrPeerRefused = errors.New("control: peer refused")

	// ErrUntrustedServer is returned by Dial when the process behind the
	// socket runs as another user (and not root), or its credentials
	// cannot be read: nothing is sent to it.
	ErrUntrustedServer = errors.New("control: socket served by another user")

	// ErrNoService is returned by Dial when nothing answers at the socket.
	ErrNoService = errors.New("control: no service answers at the socket")

	// ErrServiceLost is returned when the service stopped answering in the
	// middle of an operation: it may or may not have been applied.
	ErrServiceLost = errors.New("control: service stopped answering")
)

// PathTooLongError is a socket path over the OS limit (sun_path).
type PathTooLongError struct {
	Path string
	Len  int // bytes
	Max  int // bytes the OS allows
}

func (e *PathTooLongError) Error() string {
	return fmt.Sprintf("control: socket path %s is %d bytes, over the %d a Unix socket allows: move the store to a shorter path, or give a shorter socket path (Options.SocketPath; cdradmin --socket)", e.Path, e.Len, e.Max)
}

// Is matches ErrPathTooLong.
func (e *PathTooLongError) Is(target error) bool { return target == ErrPathTooLong }

// PeerError is a refused peer: its credentials, as far as they were read.
type PeerError struct {
	Peer Peer
	Err  error // the cause when the credentials could not be read
}

func (e *PeerError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("control: peer refused: credentials unreadable: %v", e.Err)
	}
	return fmt.Sprintf("control: peer refused: uid %d pid %d is neither the socket's owner nor root", e.Peer.UID, e.Peer.PID)
}

// Is matches ErrPeerRefused.
func (e *PeerError) Is(target error) bool { return target == ErrPeerRefused }

// Unwrap returns the cause.
func (e *PeerError) Unwrap() error { return e.Err }

// RemoteError is an error the service returned. Its text is the service's
// error text, and errors.Is matches the sentinel it matched there (its
// code), so a caller handles it as it would the local error. Detail
// structs (errors.As) do not cross the socket.
type RemoteError struct {
	Code    string // a name from the table in errors.go; "" for none
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Is matches the sentinel of e's code.
func (e *RemoteError) Is(target error) bool {
	for _, c := range errorCodes {
		if c.code == e.Code && c.err == target {
			return true
		}
	}
	return false
}

// errorCodes name the sentinels that cross the socket; the first match
// names an error.
var errorCodes = []struct {
	code string
	err  error
}{
	{"not_found", cdrstore.ErrNotFound},
	{"closed", cdrstore.ErrClosed},
	{"read_only", cdrstore.ErrReadOnly},
	{"invalid_record", cdrstore.ErrInvalidRecord},
	{"invalid_cursor", cdrstore.ErrInvalidCursor},
	{"corrupt", cdrstore.ErrCorrupt},
	{"halted", cdrstore.ErrHalted},
	{"key_mismatch", cdrstore.ErrKeyMismatch},
	{"unsupported_format", cdrstore.ErrUnsupportedFormat},
	{"invalid_number", e164.ErrInvalidNumber},
	{"invalid_product", redaction.ErrInvalidProduct},
	{"invalid_direction", redaction.ErrInvalidDirection},
	{"premature", redaction.ErrPrematureRedaction},
	{"not_provisioned", redaction.ErrNotProvisioned},
	{"legal_hold", redaction.ErrLegalHold},
	{"invalid_settings", redaction.ErrInvalidSettings},
	{"request_conflict", redaction.ErrRequestConflict},
	{"invalid_reason", redaction.ErrInvalidReason},
	{"chain_broken", audit.ErrChainBroken},
	{"unknown_key", apikeys.ErrUnknownKey},
	{"canceled", context.Canceled},
	{"deadline", context.DeadlineExceeded},
	{"peer_refused", ErrPeerRefused},
}

// codeOf names err's sentinel for the wire.
func codeOf(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}
