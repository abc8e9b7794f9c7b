package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/redaction"
)

// TestEnginesAgree checks that every engine, loaded in small transactions
// and swept in batches, lists and sweeps the same records as cdrvault, and
// states its memory: the figures compare sets side by side are for the
// same work.
func TestEnginesAgree(t *testing.T) {
	w := NewWorkload(3000, SparseRecordsPerContact)
	cutoff := redaction.Cutoff(Now, redaction.DefaultRetentionMonths)
	want := map[string]int{}
	for _, f := range Factories() {
		t.Run(f.Name, func(t *testing.T) {
			e := openLoaded(t, f, w, 100)
			got := map[string]int{}
			for i, n := range w.Contacts[:20] {
				c, err := e.List("acme", n, 100)
				require.NoError(t, err)
				got[fmt.Sprintf("list of contact %d", i)] = c
			}
			if runtime.GOOS == "linux" {
				mem, err := e.Memory()
				require.NoError(t, err)
				require.Positive(t, mem, "a Linux process maps its store's file")
			}
			swept, err := e.Sweep(cutoff, 70)
			require.NoError(t, err)
			got["swept"] = swept
			require.Positive(t, got["swept"])
			if len(want) == 0 {
				want = got
			}
			require.Equal(t, want, got)
		})
	}
}

// TestEnginesRedactConcurrently checks that every engine, given the same
// records to redact from 16 goroutines at once, redacts each of them
// (content and counterparty number gone) and no other: the concurrent
// redaction rates compare sets side by side are for the same work.
func TestEnginesRedactConcurrently(t *testing.T) {
	w := NewWorkload(3000, SparseRecordsPerContact)
	asked := ConcurrentRedactions(w, rand.New(rand.NewPCG(7, 7)), 160)
	require.Len(t, asked, 160)
	notAsked := w.Records[len(w.Records)/2 : len(w.Records)/2+20]
	for _, f := range Factories() {
		t.Run(f.Name, func(t *testing.T) {
			e := openLoaded(t, f, w, 1000)
			for _, r := range asked {
				done, err := e.Redacted(r)
				require.NoError(t, err)
				require.False(t, done, "record %s is redacted before it was asked", r.ID)
			}
			require.NoError(t, RedactConcurrently(e, asked, ConcurrentWriters))
			for _, r := range asked {
				done, err := e.Redacted(r)
				require.NoError(t, err)
				assert.True(t, done, "record %s was asked to be redacted", r.ID)
			}
			for _, r := range notAsked {
				done, err := e.Redacted(r)
				require.NoError(t, err)
				assert.False(t, done, "record %s was not asked to be redacted", r.ID)
			}
		})
	}
}

// openLoaded opens engine f in a temporary directory, closed when t ends,
// holding w's records, loaded batch per transaction.
func openLoaded(t *testing.T, f Factory, w *Workload, batch int) Engine {
	e, err := f.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	require.NoError(t, Load(e, w.Records, batch))
	return e
}
