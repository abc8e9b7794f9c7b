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

// SkippedCount is every held record auto-redaction left alone, beyond the
// 1,000 it lists, and a replay reports it too.
func TestAutoRedactCountsEveryHeldRecord(t *testing.T) {
	var recs []cdrstore.Record
	for i := range 1200 {
		r := smsOut(fmt.Sprintf("s%d", i), ada, "body")
		r.StartedAt = now.Add(-7*time.Hour - time.Duration(i)*time.Second)
		recs = append(recs, r)
	}
	_, rd := setup(t, recs...)
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Content: true}}})
	require.NoError(t, err)
	_, err = rd.HoldNumber(ctx, "acme", ada, "litigation")
	require.NoError(t, err)
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: "auto-held"})
	res, err := rd.AutoRedact(rctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ContentDiscarded)
	assert.Equal(t, 1200, res.SkippedCount)
	assert.Len(t, res.Skipped, 1000)

	again, err := rd.AutoRedact(rctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, 1200, again.SkippedCount, "a replay reports the first count")
}
