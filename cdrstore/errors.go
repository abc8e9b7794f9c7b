package cdrstore

import (
	"errors"
	"fmt"
)

// Errors returned when opening or closing a store.
var (
	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("cdrstore: store closed")

	// ErrLocked is returned by Open when another process holds the file
	// and the lock was not released within Options.LockTimeout.
	ErrLocked = errors.New("cdrstore: store locked by another process")

	// ErrUnsupportedFormat is returned by Open when the file was written in
	// a format newer than this version understands, or in a format too old
	// to be opened read-only.
	ErrUnsupportedFormat = errors.New("cdrstore: unsupported format")

	// ErrKeyMismatch is returned by Open when Options.SubjectKey differs
	// from the key the store was created with: subjects already
	// pseudonymised in the audit log and opt-out list would no longer match.
	ErrKeyMismatch = errors.New("cdrstore: subject key does not match the store")

	// ErrHalted is returned by every write after a commit panicked (bbolt
	// met a damaged page while committing): what the store holds in memory
	// may no longer match the file, so it refuses writes until it is closed
	// and opened again. Reads go on. Errors of this class are *HaltedError
	// values, which say what failed.
	ErrHalted = errors.New("cdrstore: writes halted")
)

// Errors returned by transactions and queries.
var (
	// ErrNotFound is returned when a record, workspace or value does not exist.
	ErrNotFound = errors.New("cdrstore: not found")

	// ErrReadOnly is returned when a write is attempted in a read-only
	// transaction or on a store opened with Options.ReadOnly.
	ErrReadOnly = errors.New("cdrstore: read-only")

	// ErrInvalidRecord is returned (wrapped in a *ValidationError) when a
	// record or one of its parts is malformed. Nothing is written.
	ErrInvalidRecord = errors.New("cdrstore: invalid record")

	// ErrNoWriteHook is returned by every write path that stores records
	// (Tx.Put, Store.Put, PutBatch, PutGrouped) when the store holds
	// tombstones and no WriteHook is installed: the records might be ones
	// an erasure covered. redaction.New installs the hook.
	ErrNoWriteHook = errors.New("cdrstore: store holds tombstones and no write hook is installed")

	// ErrInvalidCursor is returned when a query cursor cannot be decoded.
	ErrInvalidCursor = errors.New("cdrstore: invalid cursor")

	// ErrCorrupt marks bytes read from disk that cannot be decoded, and
	// index entries that disagree with the records. Errors of this class
	// are *CorruptionError values.
	ErrCorrupt = errors.New("cdrstore: corrupt store")
)

// FormatError reports a file whose format Open does not open: newer than
// FormatNewest, older than FormatMinSupported, or older than FormatNewest
// in a read-only open (which never migrates). It matches
// ErrUnsupportedFormat.
type FormatError struct {
	Found  uint32 // meta/format of the file
	Reason string // what is wrong with it
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("cdrstore: format %d %s", e.Found, e.Reason)
}

// Is reports whether target is ErrUnsupportedFormat.
func (e *FormatError) Is(target error) bool { return target == ErrUnsupportedFormat }

// NeedsMigration reports whether a writable open would migrate the file.
func (e *FormatError) NeedsMigration() bool {
	return e.Found >= FormatMinSupported && e.Found < FormatNewest
}

// ValidationError reports which field of a record (or argument) is invalid.
// It matches ErrInvalidRecord. Its message never holds a phone number, a
// message body or a transcript.
type ValidationError struct {
	Field  string // e.g. "id", "workspace", "started_at"
	Reason string // human-readable, free of personal data
	Err    error  // the underlying cause, if any (e.g. an *e164.NumberError)
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("cdrstore: invalid %s: %s", e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidRecord.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRecord }

// Unwrap returns the underlying cause.
func (e *ValidationError) Unwrap() error { return e.Err }

// NoWorkspaceError reports that an operation named a workspace that does
// not exist. It matches ErrNotFound. A workspace is created by writing a
// record to it or by [Store.CreateWorkspace], never as a side effect of
// configuring it, so that a mistyped name fails instead of creating a
// workspace nobody reads.
type NoWorkspaceError struct {
	Workspace string
}

func (e *NoWorkspaceError) Error() string {
	return fmt.Sprintf("cdrstore: workspace %q does not exist", e.Workspace)
}

// Is reports whether target is ErrNotFound.
func (e *NoWorkspaceError) Is(target error) bool { return target == ErrNotFound }

// CorruptionError reports where corrupt bytes were found. It matches
// ErrCorrupt. Key is a printable description of the key in which phone
// numbers are masked.
type CorruptionError struct {
	Workspace string
	Bucket    string
	Key       string
	Err       error
}

func (e *CorruptionError) Error() string {
	where := e.Bucket
	if e.Workspace != "" {
		where = "ws/" + e.Workspace + "/" + e.Bucket
	}
	if e.Key != "" {
		return fmt.Sprintf("cdrstore: corrupt %s key %s: %v", where, e.Key, e.Err)
	}
	return fmt.Sprintf("cdrstore: corrupt %s: %v", where, e.Err)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the underlying cause.
func (e *CorruptionError) Unwrap() error { return e.Err }

// errCodec is the cause of a value that cannot be decoded.
var errCodec = errors.New("malformed value")

// HaltedError is the error of every write to a store that stopped writing
// after a commit panicked. It matches ErrHalted, and unwraps to what
// failed (a *CorruptionError when bbolt met a damaged page).
type HaltedError struct {
	Err error
}

func (e *HaltedError) Error() string {
	return fmt.Sprintf("cdrstore: writes refused until the store is reopened: a commit failed: %v", e.Err)
}

// Is reports whether target is ErrHalted.
func (e *HaltedError) Is(target error) bool { return target == ErrHalted }

// Unwrap returns what failed.
func (e *HaltedError) Unwrap() error { return e.Err }
