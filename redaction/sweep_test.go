package redaction_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SkippedCount is every held record a sweep left alone, beyond the 1,000
// it lists, and a replay reports it too.
func TestSweepCountsEveryHeldRecord(t *testing.T) {
	asOf := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	var recs []cdrstore.Record
	for i := range 1200 {
		recs = append(recs, at(fmt.Sprintf("held-%d", i), redaction.Cutoff(asOf, 13).AddDate(0, -1, 0).Add(time.Duration(i)*time.Second), cdrstore.ProductSMS))
	}
	_, rd := setup(t, recs...)
	_, err := rd.HoldNumber(ctx, "acme", ada, "litigation")
	require.NoError(t, err)
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: "sweep-held"})
	res, err := rd.Sweep(rctx, asOf, redaction.SweepOptions{BatchSize: 100})
	require.NoError(t, err)
	assert.Equal(t, 1200, res.SkippedCount)
	assert.Len(t, res.Skipped, 1000)

	again, err := rd.Sweep(rctx, asOf, redaction.SweepOptions{BatchSize: 100})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, 1200, again.SkippedCount, "a replay reports the first count")
}
