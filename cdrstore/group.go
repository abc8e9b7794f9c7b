package cdrstore

import (
	"errors"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// This file holds group commit for short writes (UpdateGrouped): callers
// that arrive while a write transaction commits queue up, and the first of
// them runs the queue's calls in the next transaction, one commit for all.

// maxGroup bounds the calls of one shared transaction (bbolt's
// MaxBatchSize).
const maxGroup = 1000

// group is the queue of UpdateGrouped calls.
type group struct {
	mu      sync.Mutex
	queue   []*groupCall // calls waiting for a transaction, in arrival order
	running bool         // a caller is running a group; it hands on to queue[0]

	groups, calls, reruns atomic.Uint64 // GroupStats
}

// GroupStats counts the work of [Store.UpdateGrouped] since the store was
// opened. Calls/Groups is the mean number of callers that shared a
// commit.
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

// groupCall is one UpdateGrouped call.
type groupCall struct {
	fn func(*Tx) error
	// wake receives once: when the call is done (err, panicked), or when
	// it is to lead the next group (lead). Nil for a call that led from
	// the start, which nobody wakes.
	wake     chan struct{}
	lead     bool
	err      error
	panicked bool
	panicVal any
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
//     the caller's goroutine).
//
// fn may therefore run more than once: it must keep every effect inside
// tx and set (not accumulate) whatever it hands back, so that a second run
// after a rollback applies nothing twice. A failed commit fails every call
// of its group. fn must not call UpdateGrouped, Update or PutGrouped.
func (s *Store) UpdateGrouped(fn func(*Tx) error) error {
	c := &groupCall{fn: fn}
	g := &s.group
	g.mu.Lock()
	lead := !g.running
	if !lead {
		// Only a call that waits is woken (a leader runs its own call).
		c.wake = make(chan struct{}, 1)
	}
	g.queue = append(g.queue, c)
	g.running = true
	g.mu.Unlock()
	if !lead {
		<-c.wake
		lead = c.lead
	}
	if lead {
		s.leadGroup(c)
	}
	if c.panicked {
		panic(c.panicVal)
	}
	return c.err
}

// leadGroup runs the calls at the head of the queue (self, the leader's,
// first) in one transaction, wakes the others, and hands the lead to the
// next call waiting, if any.
func (s *Store) leadGroup(self *groupCall) {
	g := &s.group
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	calls := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	g.groups.Add(1)
	g.calls.Add(uint64(n))

	done := false
	defer func() {
		if !done {
			// bbolt panicked outside any call (its commit): the calls
			// fail, the lead passes on, and the panic goes on up.
			for _, c := range calls {
				c.err, c.panicked, c.panicVal = errGroupPanicked, false, nil
			}
			s.handOn(calls, self)
		}
	}()
	s.runGroup(calls)
	done = true
	s.handOn(calls, self)
}

// handOn hands the lead to the next call waiting, if any, and wakes the
// calls of the group just run but self.
func (s *Store) handOn(calls []*groupCall, self *groupCall) {
	g := &s.group
	g.mu.Lock()
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

// runGroup runs calls in one write transaction and sets their results.
// A call that fails after writing is taken out and the rest run again.
func (s *Store) runGroup(calls []*groupCall) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var err error
	switch {
	case s.db == nil:
		err = ErrClosed
	case s.opts.ReadOnly:
		err = ErrReadOnly
	}
	for len(calls) > 0 && err == nil {
		failed := -1
		err = s.db.Update(func(btx *bolt.Tx) error {
			tx := newTx(s, btx)
			for i, c := range calls {
				wrote := tx.writes
				c.run(tx)
				if c.panicked || (c.err != nil && tx.writes != wrote) {
					failed = i
					return errGroupRollback
				}
			}
			return nil
		})
		if failed < 0 {
			break
		}
		calls = append(calls[:failed:failed], calls[failed+1:]...)
		err = nil
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

// errGroupRollback rolls back a group's transaction after a call failed
// in it; no caller sees it.
var errGroupRollback = errors.New("cdrstore: group rolled back")

// errGroupPanicked fails the calls of a group whose transaction panicked
// outside them (in bbolt); it was rolled back.
var errGroupPanicked = errors.New("cdrstore: group commit: the transaction panicked and was rolled back")

// run runs c's function in tx, recording its error or panic.
func (c *groupCall) run(tx *Tx) {
	c.err, c.panicked, c.panicVal = nil, false, nil
	defer func() {
		if p := recover(); p != nil {
			c.panicked, c.panicVal = true, p
		}
	}()
	c.err = c.fn(tx)
}
