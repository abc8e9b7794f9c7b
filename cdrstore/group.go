package cdrstore

import (
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// This file holds the store's one write path. Update, UpdateGrouped and
// PutGrouped all run their functions through runGroup: one write
// transaction for a group of calls, in which a call that fails is isolated
// from the others, a panic while committing halts the store's writes, and
// a transaction that wrote nothing is rolled back. UpdateGrouped (and
// PutGrouped on it) adds the queue: callers that arrive while a write
// transaction commits queue up, and the first of them runs the queue's
// calls in the next transaction, one commit for all.

// maxGroup bounds the calls of one shared transaction (bbolt's
// MaxBatchSize).
const maxGroup = 1000

// beforeCommit runs in every write transaction once its calls have run,
// just before it commits; tests make it panic.
var beforeCommit = func() {}

// group is the queue of UpdateGrouped calls.
type group struct {
	mu      sync.Mutex
	queue   []*groupCall  // calls waiting for a transaction, in arrival order
	running bool          // a caller is running a group; it hands on to queue[0]
	last    int           // calls the last group ran
	took    time.Duration // how long the last group took to run and commit
	ended   time.Time     // when it ended
	grew    chan struct{} // closed when the queue grows, if a leader waits for that

	groups, calls, reruns atomic.Uint64 // GroupStats
}

// GroupStats counts the work of [Store.UpdateGrouped] (and of
// [Store.PutGrouped], which runs on it) since the store was opened.
// Calls/Groups is the mean number of callers that shared a commit.
type GroupStats struct {
	// Groups is the number of groups run, each one write transaction
	// (more when Reruns says a group ran again).
	Groups uint64
	// Calls is the number of calls the groups ran.
	Calls uint64
	// Reruns is the number of times a group ran again, in a fresh
	// transaction, without a call that failed after writing.
	Reruns uint64
}

// Sub returns the counts of s since o was taken.
func (s GroupStats) Sub(o GroupStats) GroupStats {
	return GroupStats{Groups: s.Groups - o.Groups, Calls: s.Calls - o.Calls, Reruns: s.Reruns - o.Reruns}
}

// GroupStats returns the counts of UpdateGrouped's work so far. It is safe
// for concurrent use.
func (s *Store) GroupStats() GroupStats {
	g := &s.group
	return GroupStats{Groups: g.groups.Load(), Calls: g.calls.Load(), Reruns: g.reruns.Load()}
}

// groupCall is one call of a write transaction.
type groupCall struct {
	fn      func(*Tx) error
	arrived time.Time // Options.Now when it was called: its wait for the write lock starts
	// wake receives once: when the call is done (err, panicked), or when
	// it is to lead the next group (lead). Nil for a call that led from
	// the start, or that is not queued (Update), which nobody wakes.
	wake     chan struct{}
	lead     bool
	err      error
	panicked bool // fn panicked with panicVal, a panic of the caller's
	panicVal any
}

// result returns the call's error, or raises its panic again in the
// caller's goroutine.
func (c *groupCall) result() error {
	if c.panicked {
		panic(c.panicVal)
	}
	return c.err
}

// UpdateGrouped runs fn in a read-write transaction as [Store.Update]
// does, except that concurrent callers share one transaction and one
// commit (group commit). A caller that finds no transaction running
// starts one at once, with no window to wait for others; calls that arrive
// meanwhile queue, and the first of them runs all of them (up to 1,000) in
// the next transaction, in arrival order, each seeing the writes of those
// before it. UpdateGrouped returns fn's error, or the commit's, once the
// commit is durable.
//
// A call that fails never fails or undoes another, and leaves no trace:
//   - when fn returns an error before it wrote anything, the transaction
//     goes on with the next call;
//   - when it returns an error (or panics) after writing, the transaction
//     is rolled back and the group runs again without it, in a fresh
//     transaction. Its caller gets its error (or its panic, raised again in
//     the caller's goroutine; a damaged page bbolt panicked on is an error
//     matching ErrCorrupt, as from Update).
//
// fn may therefore run more than once: it must keep every effect inside
// tx and set (not accumulate) whatever it hands back, so that a second run
// after a rollback applies nothing twice. A failed commit fails every call
// of its group; a panic while committing also halts the store's writes
// (ErrHalted). fn must not call UpdateGrouped, Update or PutGrouped.
func (s *Store) UpdateGrouped(fn func(*Tx) error) error {
	c := &groupCall{fn: fn, arrived: s.opts.Now()}
	g := &s.group
	g.mu.Lock()
	lead := !g.running
	if !lead {
		// Only a call that waits is woken (a leader runs its own call).
		c.wake = make(chan struct{}, 1)
	}
	g.queue = append(g.queue, c)
	g.running = true
	if g.grew != nil {
		close(g.grew)
		g.grew = nil
	}
	g.mu.Unlock()
	if !lead {
		<-c.wake
		lead = c.lead
	}
	if lead {
		s.leadGroup(c)
	}
	return c.result()
}

// leadGroup runs the calls at the head of the queue (self, the leader's,
// first) in one transaction, wakes the others, and hands the lead to the
// next call waiting, if any.
func (s *Store) leadGroup(self *groupCall) {
	g := &s.group
	g.mu.Lock()
	s.gather(self.lead)
	n := min(len(g.queue), maxGroup)
	calls := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	g.groups.Add(1)
	g.calls.Add(uint64(n))

	start := time.Now()
	s.runGroup(calls)
	end := time.Now()

	g.mu.Lock()
	g.last, g.took, g.ended = n, end.Sub(start), end
	if len(g.queue) > 0 {
		next := g.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		g.running, g.queue = false, nil
	}
	g.mu.Unlock()
	for _, c := range calls {
		if c != self {
			c.wake <- struct{}{}
		}
	}
}

// gather waits, with g.mu held, for the callers a leader can expect to
// join its group: those of the last group, which their callers are likely
// to follow with another call (a client answered sends its next request),
// and, for a leader handed the lead, those that queued while the last
// group ran. It waits until they are queued, or for
// Options.GroupCommitDelay, and never longer than the last group took,
// counted from the end of that group (callers that come back come back
// at once; after a pause, nobody is expected): a
// group commit delay, as PostgreSQL's commit_delay and MySQL's
// binlog_group_commit_sync_delay wait for the transactions they expect.
// Without it, callers split into two cohorts that take turns, each
// committing half of them: one queues while the other's group commits.
// A caller that last ran alone, or found as many callers queued as it
// expects, never waits.
func (s *Store) gather(handed bool) {
	g := &s.group
	want := g.last
	if handed {
		want += len(g.queue)
	}
	want = min(want, maxGroup)
	wait := min(s.opts.GroupCommitDelay, g.took) - time.Since(g.ended)
	if len(g.queue) >= want || wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(g.queue) < want {
		grew := make(chan struct{})
		g.grew = grew
		g.mu.Unlock()
		select {
		case <-grew:
			g.mu.Lock()
		case <-t.C:
			g.mu.Lock()
			g.grew = nil
			return
		}
	}
}

// runGroup runs calls in one write transaction and sets their results; it
// never panics. A call that fails after writing is taken out and the rest
// run again, in a fresh transaction.
func (s *Store) runGroup(calls []*groupCall) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	err := s.writable()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	for len(calls) > 0 && err == nil {
		var failed int
		if failed, err = s.tryGroup(calls); failed < 0 {
			break
		}
		calls = append(calls[:failed:failed], calls[failed+1:]...)
		if len(calls) > 0 {
			s.group.reruns.Add(1)
		}
	}
	if err != nil {
		for _, c := range calls {
			c.err, c.panicked, c.panicVal = err, false, nil
		}
	}
}

// tryGroup runs calls in one write transaction. It returns the index of a
// call that failed after writing (the transaction was then rolled back),
// or -1 and the transaction's error. A panic outside the calls (bbolt's
// commit) halts the store's writes and is returned as the *HaltedError.
func (s *Store) tryGroup(calls []*groupCall) (failed int, err error) {
	failed = -1
	defer func() {
		if p := recover(); p != nil {
			cause := errPanicInCommit
			if panickedInBbolt() || isFault(p) {
				cause = &CorruptionError{Bucket: "(pages)", Err: errDamagedPage}
				s.damaged(cause)
			}
			failed, err = -1, s.halt(cause)
		}
	}()
	s.begun.Add(1)
	err = s.db.Update(func(btx *bolt.Tx) error {
		wait := s.opts.Now().Sub(calls[0].arrived) // the longest wait of the group
		var tx *Tx
		for i, c := range calls {
			tx = tx.next(s, btx)
			wrote := tx.writes
			if c.run(tx) || (c.err != nil && tx.writes != wrote) {
				failed = i
				return errGroupRollback
			}
		}
		beforeCommit()
		if tx.writes == 0 {
			return errNothingWritten
		}
		s.timeCommit(btx, wait)
		return nil
	})
	switch err {
	case nil:
		s.recordMetas() // what Scrub reads of this commit
	case errGroupRollback, errNothingWritten:
		err = nil
	}
	return failed, err
}

// errGroupRollback rolls back a group's transaction after a call failed
// in it; no caller sees it.
var errGroupRollback = errors.New("cdrstore: group rolled back")

// errNothingWritten rolls back a write transaction whose calls wrote
// nothing (Tx.writes is 0): a commit writes a meta page, and a command
// that changed nothing (a dry run, a refusal, settings set to what they
// are) must leave the file's bytes and modification time as they were.
// No caller sees it.
var errNothingWritten = errors.New("cdrstore: nothing written")

// errPanicInCommit is the cause of a halt after a panic while committing
// that was not bbolt's on a damaged page.
var errPanicInCommit = errors.New("panic in a commit")

// run runs c's function in tx, then the end of its writes (Tx.finish:
// what the write hook does once per write, such as its audit entry), so
// that each call, alone or in a group, finishes its own. It records its
// error or panic, and reports whether it panicked: the transaction must
// then be rolled back. A panic of bbolt on a damaged page (or a memory
// fault) is an error matching ErrCorrupt; any other is the caller's,
// raised again by result.
func (c *groupCall) run(tx *Tx) (panicked bool) {
	c.err, c.panicked, c.panicVal = nil, false, nil
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			if panickedInBbolt() || isFault(p) {
				c.err = &CorruptionError{Bucket: "(pages)", Err: errDamagedPage}
				tx.s.damaged(c.err)
			} else {
				c.panicked, c.panicVal = true, p
			}
		}
	}()
	if c.err = c.fn(tx); c.err == nil {
		c.err = tx.finish()
	}
	return false
}
