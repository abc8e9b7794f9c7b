package cdrstore

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdrvault/cdrvault/e164"
	bolt "go.etcd.io/bbolt"
)

// EventKind names what an [Event] reports.
type EventKind string

// The kinds of Event a Store reports to Options.Observer.
const (
	// EventCommit: a write transaction committed. Duration is the time
	// from the end of the transaction's function to the end of the
	// commit (both fsyncs), LockWait the time the call waited for the
	// write lock (behind other writes and a Scrub; for a group commit,
	// from its first call, the group's window included). A group commit
	// reports once.
	EventCommit EventKind = "commit"
	// EventIngest: Put, PutBatch or PutGrouped stored records (Records:
	// how many were given), or failed (Err).
	EventIngest EventKind = "ingest"
	// EventScrub: Scrub ran; Duration is its length.
	EventScrub EventKind = "scrub"
	// EventCompact: Compact ran; Duration is its length.
	EventCompact EventKind = "compact"
	// EventCheck: Check ran; Err is what it found (nil when the store,
	// its indexes and every audit chain are sound; matching ErrCorrupt or
	// audit.ErrChainBroken otherwise).
	EventCheck EventKind = "check"
	// EventCorrupt: bbolt panicked on a damaged page and the store turned
	// the panic into an error matching ErrCorrupt (Err).
	EventCorrupt EventKind = "corrupt"
)

// Event is something a Store did that an operator may count. It holds
// no number, ID or body: Workspace is the only name in it.
type Event struct {
	Kind      EventKind
	Workspace string // EventIngest when every record is of one workspace; else empty
	Records   int    // EventIngest: records given
	Err       error  // nil when it succeeded
	Duration  time.Duration
	LockWait  time.Duration // EventCommit
}

// WorkspaceCounts are the counts Store.Counts keeps for one workspace.
type WorkspaceCounts struct {
	Records  int64  // records stored
	Outbox   int64  // outbox items pending
	AuditSeq uint64 // sequence number of the last audit entry (0: none)
}

// counts keeps, per workspace, the number of records and outbox items,
// and the audit log's head. They are counted once when the store opens
// (from the by_id and outbox buckets' page headers, and the audit
// bucket's sequence) and then kept by the commits that change them:
// each write transaction collects its changes (Tx.counted) and applies
// them when bbolt reports its commit, so a rolled-back transaction
// changes nothing.
type counts struct {
	on bool // set at open when Options.Observer is set; never changes after
	mu sync.Mutex
	ws map[string]WorkspaceCounts
}

// rebuildCounts counts every workspace of db; a damaged page is an error
// matching ErrCorrupt.
func (s *Store) rebuildCounts(db *bolt.DB) (err error) {
	defer s.recoverDamage(&err, debug.SetPanicOnFault(true))
	return db.View(s.counts.rebuild)
}

// rebuild counts every workspace of btx.
func (c *counts) rebuild(btx *bolt.Tx) error {
	m := map[string]WorkspaceCounts{}
	tx := &Tx{btx: btx}
	for _, ws := range tx.Workspaces() {
		w, err := tx.workspace(ws, false, needByID|needAudit)
		if err != nil {
			return err
		}
		if w == nil {
			continue
		}
		ob, err := w.auxBucket(BucketOutbox)
		if err != nil {
			return err
		}
		m[ws] = WorkspaceCounts{Records: int64(w.byID.Stats().KeyN), Outbox: int64(ob.Stats().KeyN), AuditSeq: w.audit.Sequence()}
	}
	c.mu.Lock()
	c.ws = m
	c.mu.Unlock()
	return nil
}

func (c *counts) apply(d map[string]WorkspaceCounts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ws, n := range d {
		cur := c.ws[ws]
		cur.Records += n.Records
		cur.Outbox += n.Outbox
		cur.AuditSeq = max(cur.AuditSeq, n.AuditSeq)
		c.ws[ws] = cur
	}
}

// counted adds dr records and do outbox items to workspace ws's counts
// when tx commits.
func (tx *Tx) counted(ws string, dr, do int64) {
	if d := tx.countsDelta(); d != nil {
		n := d[ws]
		n.Records += dr
		n.Outbox += do
		d[ws] = n
	}
}

// auditCounted makes seq the head of workspace ws's audit log when tx
// commits.
func (tx *Tx) auditCounted(ws string, seq uint64) {
	if d := tx.countsDelta(); d != nil {
		n := d[ws]
		n.AuditSeq = max(n.AuditSeq, seq)
		d[ws] = n
	}
}

// countsDelta returns the changes tx makes to Store.Counts, applied when
// it commits; nil when the store keeps no counts.
func (tx *Tx) countsDelta() map[string]WorkspaceCounts {
	if !tx.s.counts.on {
		return nil
	}
	if tx.delta == nil {
		tx.delta = map[string]WorkspaceCounts{}
		d := tx.delta
		tx.btx.OnCommit(func() { tx.s.counts.apply(d) })
	}
	return tx.delta
}

// OnCommit registers fn to run once tx has committed (never when it rolls
// back), on the committing goroutine: for reporting what a write did. fn
// must not use tx.
func (tx *Tx) OnCommit(fn func()) { tx.btx.OnCommit(fn) }

// Counts returns the number of records and pending outbox items of every
// workspace, and the sequence number of its audit log's head. It reads counters kept by the commits, not the file, so it
// costs the same at any number of records. ok is false when the store
// keeps no counts: only a store opened with Options.Observer does (it
// counts once at Open, walking the page headers of each workspace's
// by_id and outbox buckets). The map is the caller's. Safe for concurrent
// use.
func (s *Store) Counts() (m map[string]WorkspaceCounts, ok bool) {
	if !s.counts.on {
		return nil, false
	}
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	return maps.Clone(s.counts.ws), true
}

// Residue reports the bytes of the file's free pages that may still hold
// old data — what erasures and rewrites left behind and Scrub removes —
// and the time since which there have been such bytes (zero when there
// are none): the first commit after the last scrub. It reads bbolt's free page counters, not the pages: free
// and pending pages, less those Scrub left zeroed and no commit has
// reused since (counted down by every page a commit allocates, so the
// figure may be high, never low). The time is kept in memory: at open it
// is the last scrub (or the store's creation) when free pages exist,
// which may be earlier than the first byte freed since. Read-only stores
// report their free pages and the last scrub.
func (s *Store) Residue() (bytes int64, since time.Time, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return 0, time.Time{}, ErrClosed
	}
	st := s.db.Stats()
	pages := int64(st.FreePageN+st.PendingPageN) - s.residue.zeroed.Load()
	if pages <= 0 {
		return 0, time.Time{}, nil
	}
	bytes = pages * int64(s.db.Info().PageSize)
	s.residue.mu.Lock()
	defer s.residue.mu.Unlock()
	if s.residue.since.IsZero() {
		s.residue.since = s.Now()
	}
	return bytes, s.residue.since, nil
}

// residue is what Residue needs besides bbolt's counters.
type residue struct {
	zeroed    atomic.Int64 // free pages known to hold zeros (or nothing old)
	allocated atomic.Int64 // pages commits have allocated since Open
	mu        sync.Mutex
	since     time.Time // when the free pages began to hold old data; zero: unknown yet
}

// scrubMark is where a scrub began, for scrubbed.
type scrubMark struct {
	allocated int64
	since     time.Time
}

// scrubbing marks the start of a scrub: commits from now on free pages
// the scrub may not reach, and date the old data again.
func (r *residue) scrubbing() scrubMark {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := scrubMark{allocated: r.allocated.Load(), since: r.since}
	r.since = time.Time{}
	return m
}

// scrubbed records that the scrub begun at m left clean free pages
// clean, less every page commits allocated since it began (any may have
// been one of them); pinned says it left pages it could not clean, whose
// old data keeps its date.
func (r *residue) scrubbed(m scrubMark, clean int64, pinned bool) {
	r.zeroed.Store(max(0, clean-(r.allocated.Load()-m.allocated)))
	if pinned && !m.since.IsZero() {
		r.mu.Lock()
		r.since = m.since
		r.mu.Unlock()
	}
}

// committed counts down the zeroed pages by the n pages a commit at now
// allocated, and dates the old data its copy-on-write freed.
func (r *residue) committed(n int64, now time.Time) {
	r.allocated.Add(n)
	r.mu.Lock()
	if r.since.IsZero() {
		r.since = now
	}
	r.mu.Unlock()
	for {
		z := r.zeroed.Load()
		if z == 0 || r.zeroed.CompareAndSwap(z, max(0, z-n)) {
			return
		}
	}
}

// observe reports ev to Options.Observer, if any.
func (s *Store) observe(ev Event) {
	if s.opts.Observer != nil {
		s.opts.Observer(ev)
	}
}

// committed reports a commit, warning when it took SlowCommit or longer.
func (s *Store) committed(btx *bolt.Tx, wait, took time.Duration) {
	st := btx.Stats()
	s.residue.committed(st.GetPageCount(), s.Now())
	if took >= s.opts.SlowCommit {
		s.opts.Logger.Warn("slow commit", "duration", took, "lock_wait", wait, "threshold", s.opts.SlowCommit)
	}
	s.observe(Event{Kind: EventCommit, Duration: took, LockWait: wait})
}

// timeCommit has the commit of btx, which waited wait for the write
// lock, reported when it succeeds: its duration runs from now to the
// end of the commit.
func (s *Store) timeCommit(btx *bolt.Tx, wait time.Duration) {
	end := s.opts.Now()
	btx.OnCommit(func() { s.committed(btx, wait, s.opts.Now().Sub(end)) })
}

// damaged logs and reports err, the *CorruptionError that replaced a
// bbolt panic on a damaged page (see recoverDamage).
func (s *Store) damaged(err error) {
	s.opts.Logger.Warn("bbolt panic turned into ErrCorrupt", "err", errText(err))
	s.observe(Event{Kind: EventCorrupt, Err: err})
}

// ingested reports a Put, PutBatch or PutGrouped of rs.
func (s *Store) ingested(rs []Record, start time.Time, err error) {
	ws := ""
	if len(rs) > 0 {
		ws = rs[0].Workspace
		for i := range rs {
			if rs[i].Workspace != ws {
				ws = ""
				break
			}
		}
	}
	took := s.Now().Sub(start)
	// A service may Put each record as it arrives: a success is logged
	// at debug level (cdrvault_operations_total counts them), a refused
	// record at info, a failure as a warning.
	level := slog.LevelDebug
	switch {
	case errors.Is(err, ErrInvalidRecord):
		level = slog.LevelInfo
	case err != nil:
		level = slog.LevelWarn
	}
	s.opts.Logger.Log(context.Background(), level, "ingest", "workspace", ws, "records", len(rs), "duration", took, "err", errText(err))
	s.observe(Event{Kind: EventIngest, Workspace: ws, Records: len(rs), Err: err, Duration: took})
}

// errText is err's text for a log attribute, or "" for nil. Errors of
// this package hold no number or body, but may quote a caller's ID, which
// could be anything: its digit runs are masked (e164.MaskText).
func errText(err error) string {
	if err == nil {
		return ""
	}
	return e164.MaskText(err.Error())
}
