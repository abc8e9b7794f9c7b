package redaction_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every dry run reads in read-only transactions: it counts what the
// operation would change and leaves every byte of the file as it was.
func TestDryRunsChangeNoByteOfTheFile(t *testing.T) {
	expired := smsOut("expired", ada, "an old secret")
	expired.StartedAt = redaction.Cutoff(now, redaction.DefaultRetentionMonths).Add(-time.Hour)
	s, rd := setup(t, smsOut("m1", ada, "hello"), voice("v1", ada, "conv-1"), message("mm1", ada), expired)
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Content: true, Address: true, Hold: redaction.Duration(time.Hour)},
	}})
	require.NoError(t, err)
	file := func() []byte {
		b, err := os.ReadFile(s.Path())
		require.NoError(t, err)
		return b
	}
	before := file()

	erase, err := rd.EraseContactDryRun(ctx, "acme", ada)
	require.NoError(t, err)
	assert.Equal(t, 4, erase.RecordsAffected)
	assert.True(t, bytes.Equal(before, file()), "EraseContact dry run")

	sweep, err := rd.Sweep(ctx, now, redaction.SweepOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 1, sweep.Deleted)
	assert.True(t, bytes.Equal(before, file()), "Sweep dry run")

	auto, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{DryRun: true})
	require.NoError(t, err)
	assert.True(t, auto.DryRun)
	assert.Equal(t, 2, auto.ContentDiscarded, "m1 and expired")
	assert.True(t, bytes.Equal(before, file()), "AutoRedact dry run")

	// The dry runs counted what the operations then do.
	real, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	auto.DryRun = false
	assert.Equal(t, auto, real)
	erased, err := rd.EraseContact(ctx, "acme", ada, "ndpr_right_to_erasure")
	require.NoError(t, err)
	assert.Equal(t, 2, erased.RecordsAffected, "the voice and messages records; auto-redaction emptied the SMS")
}
