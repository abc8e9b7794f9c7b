package cdrstore_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// groupResult is what one UpdateGrouped call returned, or the value it
// panicked with.
type groupResult struct {
	err      error
	panicked any
}

// inOneGroup runs fns as UpdateGrouped calls that share one transaction
// (see storetest.InOneGroup), in order, and returns what each returned.
func inOneGroup(s *cdrstore.Store, fns ...func(*cdrstore.Tx) error) []groupResult {
	out := make([]groupResult, len(fns))
	calls := make([]func(), len(fns))
	for i, fn := range fns {
		calls[i] = func() {
			defer func() { out[i].panicked = recover() }()
			out[i].err = s.UpdateGrouped(fn)
		}
	}
	storetest.InOneGroup(s, calls...)
	return out
}

// counted returns a grouped call that takes the next sequence number of
// the holds bucket and stores it under key k<i>, counting its runs; fail,
// when set, runs after (or, with before, instead of) the write.
func counted(i int, runs []atomic.Int32, fail func() error, before bool) func(*cdrstore.Tx) error {
	return func(tx *cdrstore.Tx) error {
		runs[i].Add(1)
		if fail != nil && before {
			return fail()
		}
		kv, err := tx.Bucket("acme", cdrstore.BucketHolds)
		if err != nil {
			return err
		}
		seq, err := kv.NextSequence()
		if err != nil {
			return err
		}
		if err := kv.Put(fmt.Appendf(nil, "k%d", i), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
		if fail != nil {
			return fail()
		}
		return nil
	}
}

// heldKeys returns the keys of the holds bucket with the sequence number
// each holds, and the bucket's sequence.
func heldKeys(t *testing.T, s *cdrstore.Store) (map[string]uint64, uint64) {
	t.Helper()
	keys := map[string]uint64{}
	var seq uint64
	errRollback := errors.New("rollback")
	err := s.Update(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket("acme", cdrstore.BucketHolds)
		if err != nil {
			return err
		}
		for k, v := range kv.Scan(nil, nil) {
			keys[string(k)] = binary.BigEndian.Uint64(v)
		}
		// NextSequence in a transaction rolled back reads the sequence.
		if seq, err = kv.NextSequence(); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	return keys, seq - 1
}

// Concurrent UpdateGrouped calls share one transaction and run in the
// order they arrived, each seeing the writes of those before it.
func TestUpdateGroupedSharesATransaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := groupStore(t)
		const n = 5
		var fns []func(*cdrstore.Tx) error
		for i := range n {
			fns = append(fns, func(tx *cdrstore.Tx) error {
				kv, err := tx.Bucket("acme", cdrstore.BucketHolds)
				if err != nil {
					return err
				}
				if i > 0 && kv.Get(fmt.Appendf(nil, "k%d", i-1)) == nil {
					return fmt.Errorf("call %d ran before call %d", i, i-1)
				}
				return kv.Put(fmt.Appendf(nil, "k%d", i), binary.BigEndian.AppendUint64(nil, uint64(i)))
			})
		}
		before := s.GroupStats()
		for i, r := range inOneGroup(s, fns...) {
			require.NoError(t, r.err, "call %d", i)
		}
		// The gate InOneGroup holds the queue with ran alone, the n
		// calls together.
		assert.Equal(t, cdrstore.GroupStats{Groups: 2, Calls: n + 1}, s.GroupStats().Sub(before),
			"the calls ran in one transaction")
		keys, _ := heldKeys(t, s)
		assert.Len(t, keys, n)
	})
}

// A call that fails or panics leaves no trace and fails no other call of
// its group. One that failed before it wrote anything does not undo the
// others' transaction; one that wrote first makes the group run again
// without it, and the calls that ran before it run again in a fresh
// transaction, applying their writes once.
func TestUpdateGroupedIsolatesFailures(t *testing.T) {
	errBad := errors.New("bad call")
	for _, tc := range []struct {
		name     string
		fail     func() error
		before   bool    // fail before writing
		wantRuns []int32 // runs of each call
	}{
		{"fails before writing", func() error { return errBad }, true, []int32{1, 1, 1, 1}},
		{"fails after writing", func() error { return errBad }, false, []int32{2, 1, 1, 1}},
		{"panics after writing", func() error { panic(errBad) }, false, []int32{2, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := groupStore(t)
				runs := make([]atomic.Int32, 4)
				var fns []func(*cdrstore.Tx) error
				for i := range 4 {
					var fail func() error
					if i == 1 {
						fail = tc.fail
					}
					fns = append(fns, counted(i, runs, fail, tc.before))
				}
				res := inOneGroup(s, fns...)
				for i, r := range res {
					if i == 1 {
						if r.panicked != nil {
							assert.Equal(t, errBad, r.panicked, "the panic is raised in its caller's goroutine")
						} else {
							assert.ErrorIs(t, r.err, errBad)
						}
						continue
					}
					assert.NoError(t, r.err, "call %d", i)
					assert.Nil(t, r.panicked, "call %d", i)
				}
				for i := range runs {
					assert.Equal(t, tc.wantRuns[i], runs[i].Load(), "runs of call %d", i)
				}
				keys, seq := heldKeys(t, s)
				assert.Equal(t, map[string]uint64{"k0": 1, "k2": 2, "k3": 3}, keys)
				assert.Equal(t, uint64(3), seq, "no sequence number was taken twice or by the failed call")
			})
		})
	}
}

// A caller with no one to share with starts its transaction at once: no
// window is waited for, by UpdateGrouped or by PutGrouped on it, even
// after its commits took time (a group commit delay waits no longer than
// the last commit took).
func TestUpdateGroupedAloneDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storetest.Open(t, nil)
		start := time.Now()
		for i := range 3 {
			require.NoError(t, s.UpdateGrouped(func(tx *cdrstore.Tx) error {
				time.Sleep(time.Millisecond) // the call's own work
				return tx.Put(sms(fmt.Sprint("a", i), t2026, ada, "hi"))
			}))
			require.NoError(t, s.PutGrouped([]cdrstore.Record{sms("b", t2026, ada, "hi")}))
		}
		assert.Equal(t, 3*time.Millisecond, time.Since(start))

		// After a group of many callers and a pause, a caller alone
		// expects nobody: it starts at once too.
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				assert.NoError(t, s.UpdateGrouped(func(tx *cdrstore.Tx) error {
					time.Sleep(time.Millisecond)
					return tx.Put(sms(fmt.Sprint("c", i), t2026, ada, "hi"))
				}))
			})
		}
		wg.Wait()
		require.Greater(t, s.GroupStats().Calls, s.GroupStats().Groups, "the five shared commits")
		time.Sleep(10 * time.Millisecond)
		start = time.Now()
		require.NoError(t, s.UpdateGrouped(func(tx *cdrstore.Tx) error {
			time.Sleep(time.Millisecond)
			return tx.Put(sms("d", t2026, ada, "hi"))
		}))
		assert.Equal(t, time.Millisecond, time.Since(start))
	})
}

// Callers that come back with another call as soon as theirs is answered
// (16 clients of the Redact API) share their commits: the first of them
// waits, up to GroupCommitDelay, for the others of the last commit,
// instead of committing half of them while the other half is on its way
// back. Without the delay they split into cohorts that take turns.
func TestGroupCommitDelayGathersReturningCallers(t *testing.T) {
	const callers, each = 8, 20
	run := func(t *testing.T, delay time.Duration) float64 {
		var perCommit float64
		synctest.Test(t, func(t *testing.T) {
			opts := storetest.Options()
			opts.GroupCommitDelay = delay
			s := storetest.Open(t, opts)
			before := s.GroupStats()
			var wg sync.WaitGroup
			for c := range callers {
				wg.Go(func() {
					for i := range each {
						err := s.UpdateGrouped(func(tx *cdrstore.Tx) error {
							time.Sleep(100 * time.Microsecond) // the call's work in the transaction
							return tx.Put(sms(fmt.Sprintf("c%d-%d", c, i), t2026, ada, "hi"))
						})
						if !assert.NoError(t, err) {
							return
						}
						time.Sleep(300 * time.Microsecond) // the answer goes out, the next request comes in
					}
				})
			}
			wg.Wait()
			g := s.GroupStats().Sub(before)
			require.Equal(t, uint64(callers*each), g.Calls)
			perCommit = float64(g.Calls) / float64(g.Groups)
		})
		return perCommit
	}
	with, without := run(t, time.Millisecond), run(t, -1)
	t.Logf("calls per commit: %.1f with the delay, %.1f without", with, without)
	assert.GreaterOrEqual(t, with, 0.8*callers, "nearly every caller shares each commit")
	assert.Less(t, without, 0.7*callers, "without the delay, cohorts take turns")
}

// Many goroutines, some of whose calls fail after writing: every
// successful call is applied once, no failed call at all, and all return.
func TestUpdateGroupedConcurrent(t *testing.T) {
	s := groupStore(t)
	const writers, each = 16, 25
	var wg sync.WaitGroup
	var failed atomic.Int32
	errBad := errors.New("bad call")
	runs := make([]atomic.Int32, writers*each)
	for g := range writers {
		wg.Go(func() {
			for j := range each {
				i := g*each + j
				var fail func() error
				if i%7 == 3 {
					fail = func() error { return errBad }
				}
				if err := s.UpdateGrouped(counted(i, runs, fail, false)); err != nil {
					assert.ErrorIs(t, err, errBad)
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	keys, seq := heldKeys(t, s)
	assert.Len(t, keys, writers*each-int(failed.Load()))
	assert.Equal(t, uint64(len(keys)), seq, "each successful call took one sequence number")
	seen := map[uint64]bool{}
	for k, v := range keys {
		assert.False(t, seen[v], "%s took sequence %d twice", k, v)
		seen[v] = true
	}
}

func TestUpdateGroupedClosedAndReadOnly(t *testing.T) {
	s := storetest.Open(t, nil)
	path := s.Path()
	require.NoError(t, s.Close())
	noop := func(*cdrstore.Tx) error { return nil }
	assert.ErrorIs(t, s.UpdateGrouped(noop), cdrstore.ErrClosed)
	ro, err := cdrstore.Open(path, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	assert.ErrorIs(t, ro.UpdateGrouped(noop), cdrstore.ErrReadOnly)
}

// groupStore opens a test store with workspace acme, whose holds bucket
// counted's calls write to.
func groupStore(t *testing.T) *cdrstore.Store {
	t.Helper()
	s := storetest.Open(t, nil)
	_, err := s.CreateWorkspace("acme")
	require.NoError(t, err)
	return s
}
