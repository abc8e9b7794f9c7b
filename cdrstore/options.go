package cdrstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options configures a Store. The zero value of each field means its
// default; see DefaultOptions.
type Options struct {
	// Now returns the current time. Default: time.Now. The store uses it
	// for created-at stamps; callers use Store.Now for theirs.
	Now func() time.Time

	// Logger receives operational messages, none holding a number or a
	// body: one record per ingest (debug level when it succeeds) and per
	// scrub, and warnings for a slow commit and for a bbolt panic turned
	// into ErrCorrupt. Default: discard.
	Logger *slog.Logger

	// Observer, when set, is called with every Event the store reports
	// (commits, ingests, scrubs, bbolt panics), synchronously from the
	// goroutine that caused it: it must be quick and safe for concurrent
	// use. A store with an Observer also keeps the counts of Store.Counts,
	// counting them once at Open. Default: nil (no events, no counts).
	Observer func(Event)

	// SlowCommit is the commit duration at or above which the store logs
	// a warning. Default: 100ms.
	SlowCommit time.Duration

	// LockTimeout bounds how long Open waits for another process to release
	// the file. Open returns ErrLocked when it expires. Default: 5s.
	LockTimeout time.Duration

	// ReadOnly opens the file with a shared lock. Writes return ErrReadOnly.
	// The file must exist and be in the current format.
	ReadOnly bool

	// NoSync skips fsync on commit. Only for tests and throwaway stores: a
	// crash may lose or corrupt committed data. Default: false.
	NoSync bool

	// SubjectKey is the HMAC key that pseudonymises subjects in the audit
	// log and the opt-out list, at least 16 bytes. When nil, a random
	// 32-byte key is generated on creation and kept in the store's meta
	// bucket, which protects nothing from someone who holds the file;
	// production deployments should pass a key kept elsewhere. A store
	// created with one key refuses to open with another (ErrKeyMismatch).
	SubjectKey []byte

	// InitialMmapSize is passed to bbolt: the initial size of the memory
	// map, in bytes, to avoid remapping while readers are open. Default: 0
	// (bbolt grows the map as needed).
	InitialMmapSize int

	// PopulateMmap maps every page of the file when the store maps it (at
	// Open and each time the file outgrows the map), on Linux with
	// MAP_POPULATE, as etcd maps its bbolt file, so that first reads take
	// no page faults. Measured on a 1,000,000-record store (570 MB) in the
	// page cache: the first 5,000 Gets after Open took a median 17 µs
	// instead of 28 µs, and Open 20 ms longer. Pages written after the
	// last remap still fault once. Open reads the whole file into memory,
	// so this suits a long-running service on a file that fits in RAM, not
	// a command that opens the store for one query. Default: false.
	// Elsewhere than Linux it does nothing.
	PopulateMmap bool

	// ScrubReaderWait bounds how long Scrub waits, after its first pass,
	// for the read transactions that pin free pages (they began before
	// the pages were freed) to end, before it tries those pages once more
	// and reports the rest as pinned. Default: 1s.
	ScrubReaderWait time.Duration

	// GroupCommitDelay bounds how long the first caller of a group commit
	// (UpdateGrouped, and the erasures and PutGrouped on it) waits for the
	// callers it can expect to share the commit: as many as shared the
	// last one. It never waits longer than the last group took to commit,
	// counted from that commit's end, and a caller that has nobody to
	// expect never waits. ARCHITECTURE.md ("The commit delay") has what
	// it gained. Default: 1ms. Negative: never wait.
	GroupCommitDelay time.Duration
}

// DefaultOptions returns a fresh Options holding every default.
func DefaultOptions() *Options {
	return &Options{
		Now:             time.Now,
		Logger:          slog.New(slog.DiscardHandler),
		LockTimeout:     5 * time.Second,
		SlowCommit:      100 * time.Millisecond,
		ScrubReaderWait: time.Second,

		GroupCommitDelay: time.Millisecond,
	}
}

// withDefaults returns a copy of o with zero fields filled, or an error
// naming the first invalid field.
func (o *Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o == nil {
		return *d, nil
	}
	c := *o
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = d.LockTimeout
	}
	if c.SlowCommit == 0 {
		c.SlowCommit = d.SlowCommit
	}
	if c.ScrubReaderWait == 0 {
		c.ScrubReaderWait = d.ScrubReaderWait
	}
	if c.GroupCommitDelay == 0 {
		c.GroupCommitDelay = d.GroupCommitDelay
	}
	switch {
	case c.LockTimeout < 0:
		return c, fmt.Errorf("cdrstore: options: LockTimeout %v is negative", c.LockTimeout)
	case c.SlowCommit < 0:
		return c, fmt.Errorf("cdrstore: options: SlowCommit %v is negative", c.SlowCommit)
	case c.SubjectKey != nil && len(c.SubjectKey) < 16:
		return c, fmt.Errorf("cdrstore: options: SubjectKey of %d bytes, need at least 16", len(c.SubjectKey))
	case c.ScrubReaderWait < 0:
		return c, fmt.Errorf("cdrstore: options: ScrubReaderWait %v is negative", c.ScrubReaderWait)
	case c.InitialMmapSize < 0:
		return c, errors.New("cdrstore: options: InitialMmapSize is negative")
	}
	c.SubjectKey = bytes.Clone(c.SubjectKey)
	return c, nil
}
