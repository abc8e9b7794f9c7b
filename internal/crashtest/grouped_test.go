package crashtest_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The grouped workload: erasures by concurrent callers, which share
// commits. Operation i redacts record g-i (or, one in four, deletes it)
// under request ID rq-i.
const (
	nGrouped       = 400
	groupedWorkers = 8
)

func groupedRecords() []cdrstore.Record {
	var rs []cdrstore.Record
	for i := range nGrouped {
		rs = append(rs, cdrstore.Record{ID: fmt.Sprintf("g-%03d", i), Workspace: "acme", Product: cdrstore.ProductVoice,
			Direction: cdrstore.Outbound, From: platform, To: e164.MustParse(contacts[i%len(contacts)], ""),
			Transcript: []string{"words"}, RecordingURL: fmt.Sprintf("https://media.example.net/rec/g-%03d.mp3", i),
			StartedAt: now.AddDate(0, -1, 0).Add(time.Duration(i) * time.Minute)})
	}
	return rs
}

func groupedDelete(i int) bool { return i%4 == 3 }

// groupedChild runs the grouped workload from groupedWorkers goroutines in
// an order the seed shuffles, printing "ok <i>" once operation i returned
// success.
func groupedChild(dir string, seed uint64) error {
	s, err := openStore(filepath.Join(dir, "store.db"))
	if err != nil {
		return err
	}
	rd := redaction.New(s, nil)
	order := rand.New(rand.NewPCG(seed, 3)).Perm(nGrouped)
	var (
		next   atomic.Int64
		mu     sync.Mutex
		failed atomic.Pointer[error]
		wg     sync.WaitGroup
	)
	for range groupedWorkers {
		wg.Go(func() {
			for n := next.Add(1) - 1; n < nGrouped; n = next.Add(1) - 1 {
				i := order[n]
				id := fmt.Sprintf("g-%03d", i)
				ctx := redaction.WithRequest(context.Background(), redaction.Request{ID: fmt.Sprintf("rq-%03d", i), Actor: "crash"})
				var err error
				if groupedDelete(i) {
					_, err = rd.DeleteRecord(ctx, "acme", id)
				} else {
					_, err = rd.RedactByID(ctx, "acme", id, cdrstore.ProductVoice, cdrstore.Outbound)
				}
				if err != nil {
					failed.Store(&err)
					return
				}
				mu.Lock()
				fmt.Printf("ok %d\n", i)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return *err
	}
	return s.Close()
}

// Erasures that share commits, killed at random: every acknowledged one
// is wholly there with its audit entry, request ID and tombstone, and
// every other is wholly there or wholly absent (record, outbox entry,
// audit entry, request ID and tombstone together).
func TestCrashKillGrouped(t *testing.T) {
	killRuns(t, max(crashIterations()/4, 5), func(s *cdrstore.Store) {
		require.NoError(t, s.PutBatch(groupedRecords()))
	}, "grouped", verifyGrouped)
}

func verifyGrouped(t *testing.T, dir string, log []string) {
	s, err := openStore(filepath.Join(dir, "store.db"))
	require.NoError(t, err, "the store opens after the kill")
	defer s.Close()
	require.NoError(t, s.Check(context.Background()), "indexes and audit chain")

	acked := map[int]bool{}
	for _, l := range log {
		i, err := strconv.Atoi(l)
		require.NoError(t, err, "line %q", l)
		acked[i] = true
	}
	audited := map[string]int{}
	for _, e := range storetest.AuditEntries(t, s, "acme") {
		audited[e.RequestID]++
	}
	pending := map[string]bool{}
	items, err := redaction.New(s, nil).Outbox("acme", 1<<20)
	require.NoError(t, err)
	for _, it := range items {
		pending[it.URL] = true
	}
	tombs := map[string]bool{} // the subjects of the ID tombstones
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for ts, err := range tx.Tombstones("acme") {
			if err != nil {
				return err
			}
			if ts.Term == cdrstore.TermID {
				tombs[hex.EncodeToString(ts.Subject)] = true
			}
		}
		return nil
	}))
	applied := 0
	for i, orig := range groupedRecords() {
		rq := fmt.Sprintf("rq-%03d", i)
		var (
			rec   cdrstore.Record
			found bool
			kept  bool
			tomb  bool // the operation's tombstone
		)
		require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
			var err error
			rec, err = tx.Get("acme", orig.ID)
			if found = err == nil; err != nil && !errors.Is(err, cdrstore.ErrNotFound) {
				return err
			}
			kv, err := tx.Bucket("acme", cdrstore.BucketRequests)
			if err != nil {
				return err
			}
			// Request IDs are kept, and audited, as their keyed HMAC.
			key := tx.RequestKey(rq)
			kept = kv.Get(key) != nil
			rq = hex.EncodeToString(key)
			tomb = tombs[hex.EncodeToString(tx.SubjectHMAC(orig.ID))]
			return nil
		}))
		var done bool // the record shows the operation
		if groupedDelete(i) {
			done = !found
		} else {
			require.True(t, found, "%s was redacted, not deleted", orig.ID)
			done = len(rec.Transcript) == 0 && !rec.To.IsValid() && rec.RecordingURL == ""
			if !done {
				assert.Equal(t, orig, rec, "%s is half redacted", orig.ID)
			}
		}
		require.LessOrEqual(t, audited[rq], 1, "operation %d audited twice", i)
		whole := done && audited[rq] == 1 && kept && pending[orig.RecordingURL] && tomb
		absent := !done && audited[rq] == 0 && !kept && !pending[orig.RecordingURL] && !tomb
		assert.True(t, whole || absent, "operation %d is half there: applied %v, audit entries %d, request kept %v, recording queued %v, tombstone %v",
			i, done, audited[rq], kept, pending[orig.RecordingURL], tomb)
		if acked[i] {
			assert.True(t, whole, "acknowledged operation %d is not wholly there", i)
		}
		if whole {
			applied++
		}
	}
	assert.GreaterOrEqual(t, applied, len(acked))
}
