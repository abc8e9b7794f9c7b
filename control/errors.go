package control

import (
	"context"
	"encoding/json"
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

// RemoteError is an error the service returned, so a caller handles it
// as it would the local error: its text is the service's error text,
// errors.Is matches the sentinel it matched there (its code), and
// errors.As finds the detail structs it held there (the types of
// errorDetails), rebuilt field for field. A detail's wrapped cause (the
// Err field of some) stays in the service; its text is part of Message.
type RemoteError struct {
	Code    string  // a name from errorCodes; "" for none
	Message string  // the service's err.Error()
	Details []error // the detail structs of the service's error, outermost first
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

// Unwrap returns the detail structs, for errors.As (and errors.Is,
// through their own Is).
func (e *RemoteError) Unwrap() []error { return e.Details }

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

// errorDetails name the detail structs that cross the socket, as JSON of
// the struct under their kind: every field but a wrapped cause (an error
// has no JSON form; its text is in the message). None holds a plaintext
// number: workspace names, record IDs and hold reasons are not numbers
// (a hold reason that may hold one is refused), a product name is masked
// (redaction.ProductError), a corrupt key is described with its numbers
// masked. Two detail types never come from the service, so they are not
// listed: *cdrstore.FormatError (the service has opened its store) and
// *e164.NumberError (cdradmin parses the numbers of its commands before
// it sends them, and ingest reports a line's bad number in its masked
// event text, never as the operation's error).
var errorDetails = []detailType{
	detail("no_workspace", func(e *cdrstore.NoWorkspaceError) *cdrstore.NoWorkspaceError { return e }),
	detail("validation", func(e *cdrstore.ValidationError) *cdrstore.ValidationError {
		return &cdrstore.ValidationError{Field: e.Field, Reason: e.Reason}
	}),
	detail("corruption", func(e *cdrstore.CorruptionError) *cdrstore.CorruptionError {
		return &cdrstore.CorruptionError{Workspace: e.Workspace, Bucket: e.Bucket, Key: e.Key}
	}),
	detail("not_found", func(e *redaction.NotFoundError) *redaction.NotFoundError { return e }),
	detail("hold", func(e *redaction.HoldError) *redaction.HoldError { return e }),
	detail("premature", func(e *redaction.PrematureRedactionError) *redaction.PrematureRedactionError { return e }),
	detail("not_provisioned", func(e *redaction.NotProvisionedError) *redaction.NotProvisionedError { return e }),
	detail("product", func(e *redaction.ProductError) *redaction.ProductError { return e }),
	detail("chain", func(e *audit.ChainError) *audit.ChainError { return &audit.ChainError{Seq: e.Seq} }),
}

// detailType is an entry of errorDetails.
type detailType struct {
	kind  string
	wire  func(error) (any, bool)     // what of err crosses, if err is of this type
	build func([]byte) (error, error) // the struct again, from its JSON
}

// detail is the detailType of *T, of which wire keeps what crosses.
func detail[T any, P interface {
	*T
	error
}](kind string, wire func(P) P) detailType {
	return detailType{
		kind: kind,
		wire: func(err error) (any, bool) {
			if e, ok := err.(P); ok {
				return wire(e), true
			}
			return nil, false
		},
		build: func(raw []byte) (error, error) {
			e := P(new(T))
			return e, json.Unmarshal(raw, e)
		},
	}
}

// wireDetail is a detail struct on the wire.
type wireDetail struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// detailsOf returns the detail structs along err's chain, outermost
// first.
func detailsOf(err error) []wireDetail {
	var out []wireDetail
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			for _, d := range errorDetails {
				if v, ok := d.wire(err); ok {
					if raw, jerr := json.Marshal(v); jerr == nil {
						out = append(out, wireDetail{Kind: d.kind, Data: raw})
					}
					break
				}
			}
			switch u := err.(type) {
			case interface{ Unwrap() error }:
				err = u.Unwrap()
			case interface{ Unwrap() []error }:
				for _, e := range u.Unwrap() {
					walk(e)
				}
				return
			default:
				return
			}
		}
	}
	walk(err)
	return out
}

// rebuild returns the detail structs of ds; a kind this client does not
// know (a newer service) is left out.
func rebuild(ds []wireDetail) []error {
	var out []error
	for _, w := range ds {
		for _, d := range errorDetails {
			if d.kind == w.Kind {
				if e, err := d.build(w.Data); err == nil {
					out = append(out, e)
				}
				break
			}
		}
	}
	return out
}
