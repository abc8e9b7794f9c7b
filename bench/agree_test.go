package bench

import (
	"fmt"
	"runtime"
	"testing"

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
			e, err := f.Open(t.TempDir())
			require.NoError(t, err)
			defer e.Close()
			require.NoError(t, Load(e, w.Records, 100))
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
			got["swept"], err = e.Sweep(cutoff, 70)
			require.NoError(t, err)
			require.Positive(t, got["swept"])
			if len(want) == 0 {
				want = got
			}
			require.Equal(t, want, got)
		})
	}
}
