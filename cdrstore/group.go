package cdrstore

import (
	"errors"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// groupCommitDelay is how long PutGrouped's first caller waits for others
// to join its transaction. bbolt's default, 10 ms, starves the disk: 16
// goroutines writing one record each (cmd/compare -n 100000) committed 919
// records/s at 10 ms, 2,818 at 2 ms, 3,625–3,763 at 1 ms, 3,344–3,811 at
// 0.5 ms and 2,676 at 0.1 ms.
const groupCommitDelay = time.Millisecond

// groupCommitMax is how many calls one group commit takes at most.
const groupCommitMax = 1000

// errTrySolo tells a grouped call that it failed in the shared
// transaction and must run in one of its own.
var errTrySolo = errors.New("cdrstore: run alone")

// beforeGroupCommit runs in a group commit's transaction once its calls
// have run; tests make it panic.
var beforeGroupCommit = func() {}

// group is PutGrouped's group commit, bbolt's DB.Batch run on a goroutine
// of the store's own: a panic while bbolt commits (a damaged page met
// while rebalancing) would kill the process on bbolt's goroutine, where no
// caller can recover it. Here it halts the store's writes instead.
type group struct {
	mu      sync.Mutex
	pending *groupBatch
}

type groupBatch struct {
	calls []groupCall
	start sync.Once
}

type groupCall struct {
	fn   func(*Tx) error
	done chan error
}

// do runs fn in a transaction shared with concurrent callers and returns
// once it committed. It returns errTrySolo when fn failed there. The
// caller holds s.mu shared, which keeps db open until the commit is done.
func (g *group) do(s *Store, db *bolt.DB, fn func(*Tx) error) error {
	done := make(chan error, 1)
	g.mu.Lock()
	b := g.pending
	if b == nil || len(b.calls) >= groupCommitMax {
		b = &groupBatch{}
		g.pending = b
		time.AfterFunc(groupCommitDelay, func() { b.start.Do(func() { g.run(s, db, b) }) })
	}
	b.calls = append(b.calls, groupCall{fn: fn, done: done})
	if len(b.calls) >= groupCommitMax {
		go b.start.Do(func() { g.run(s, db, b) })
	}
	g.mu.Unlock()
	return <-done
}

// run commits batch b. A call that fails is taken out and told to run
// alone, and the others run again. A panic outside the calls (bbolt's
// commit) halts the store's writes and fails every call of b.
func (g *group) run(s *Store, db *bolt.DB, b *groupBatch) {
	g.mu.Lock()
	if g.pending == b {
		g.pending = nil
	}
	g.mu.Unlock()
	var err error
	defer func() {
		for _, c := range b.calls {
			c.done <- err
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			cause := error(&CorruptionError{Bucket: "(pages)", Err: errDamagedPage})
			if !panickedInBbolt() {
				cause = errors.New("panic in a group commit")
			}
			err = s.halt(cause)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	for len(b.calls) > 0 {
		failed := -1
		err = db.Update(func(btx *bolt.Tx) error {
			for i, c := range b.calls {
				if err := callAlone(c.fn, newTx(s, btx)); err != nil {
					failed = i
					return err
				}
			}
			beforeGroupCommit()
			if !wrote(btx) {
				return errNothingWritten
			}
			return nil
		})
		if failed < 0 {
			switch err {
			case nil:
				s.recordMetas()
			case errNothingWritten:
				err = nil
			}
			return
		}
		b.calls[failed].done <- errTrySolo
		b.calls = append(b.calls[:failed], b.calls[failed+1:]...)
	}
}

// callAlone runs fn, turning a panic into an error: the call then runs
// again alone, on its caller's goroutine, where the panic is the caller's.
func callAlone(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if recover() != nil {
			err = errTrySolo
		}
	}()
	return fn(tx)
}
