package redaction_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCutoffCalendar(t *testing.T) {
	for _, tc := range []struct {
		asOf   string
		months int
		want   string
	}{
		{"2026-03-31T10:00:00Z", 13, "2025-02-28T10:00:00Z"},
		{"2025-03-31T10:00:00Z", 13, "2024-02-29T10:00:00Z"}, // leap year
		{"2024-02-29T00:00:00Z", 12, "2023-02-28T00:00:00Z"}, // from a leap day
		{"2026-01-31T23:59:59.999999999Z", 13, "2024-12-31T23:59:59.999999999Z"},
		{"2026-05-15T08:30:00Z", 13, "2025-04-15T08:30:00Z"},
		{"2026-07-31T00:00:00Z", 1, "2026-06-30T00:00:00Z"},
		{"2026-03-01T00:00:00Z", 0, "2026-03-01T00:00:00Z"},
	} {
		asOf, _ := time.Parse(time.RFC3339Nano, tc.asOf)
		want, _ := time.Parse(time.RFC3339Nano, tc.want)
		assert.Equal(t, want, redaction.Cutoff(asOf, tc.months), "%s - %d months", tc.asOf, tc.months)
	}
}

func at(id string, ts time.Time, p cdrstore.Product) cdrstore.Record {
	r := smsOut(id, ada, "body of "+id)
	r.Product, r.StartedAt = p, ts
	return r
}

func TestSweep(t *testing.T) {
	asOf := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	cut := redaction.Cutoff(asOf, 13)
	recs := []cdrstore.Record{
		at("expired-1ns", cut.Add(-time.Nanosecond), cdrstore.ProductSMS),
		at("kept-at-cutoff", cut, cdrstore.ProductSMS),
		at("expired-old", cut.AddDate(-1, 0, 0), cdrstore.ProductSMS),
		at("voice-old", cut.AddDate(0, -1, 0), cdrstore.ProductVoice),
		at("held", cut.AddDate(0, -2, 0), cdrstore.ProductSMS),
		at("recent", asOf.Add(-time.Hour), cdrstore.ProductSMS),
	}
	recs[3].RecordingURL = "https://media.example.net/rec/old.mp3"
	recs[3].To = e164.Number{} // a record with no counterparty left
	for i := range 2500 {
		recs = append(recs, at(fmt.Sprintf("bulk-%d", i), cut.AddDate(0, -3, 0).Add(time.Duration(i)*time.Second), cdrstore.ProductSMS))
	}
	s, rd := setup(t, recs...)
	_, err := rd.HoldRecord(ctx, "acme", "held", "litigation")
	require.NoError(t, err)
	// Voice is kept 24 months in this workspace.
	_, err = rd.SetSettings(ctx, "acme", redaction.Settings{Retention: redaction.Retention{ByProduct: map[cdrstore.Product]int{cdrstore.ProductVoice: 24}}})
	require.NoError(t, err)

	before := storetest.Dump(t, s)
	dry, err := rd.Sweep(ctx, asOf, redaction.SweepOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 2502, dry.Deleted)
	assert.Equal(t, before, storetest.Dump(t, s), "a dry run writes nothing")

	res, err := rd.Sweep(ctx, asOf, redaction.SweepOptions{BatchSize: 1000})
	require.NoError(t, err)
	assert.Equal(t, 2502, res.Deleted)
	assert.Equal(t, 3, res.Batches)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, "held", res.Skipped[0].ID)
	for _, id := range []string{"kept-at-cutoff", "voice-old", "held", "recent"} {
		_, err := s.Get("acme", id)
		assert.NoError(t, err, id)
	}
	for _, id := range []string{"expired-1ns", "expired-old", "bulk-0", "bulk-2499"} {
		_, err := s.Get("acme", id)
		assert.ErrorIs(t, err, cdrstore.ErrNotFound, id)
	}
	var counts []uint64
	for _, e := range storetest.AuditEntries(t, s, "acme") {
		if e.Action == redaction.ActionRetentionSweep {
			counts = append(counts, e.Count)
		}
	}
	assert.Equal(t, []uint64{1000, 1000, 502}, counts, "one audit entry per batch, with its count")

	again, err := rd.Sweep(ctx, asOf, redaction.SweepOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Deleted)

	// Voice expires at 24 months: two years on, with the hold released.
	_, err = rd.ReleaseHold(ctx, "acme", redaction.HoldKeyForID("held"))
	require.NoError(t, err)
	later, err := rd.Sweep(ctx, asOf.AddDate(2, 0, 0), redaction.SweepOptions{})
	require.NoError(t, err)
	assert.Equal(t, 4, later.Deleted)
	items, err := rd.Outbox("acme", 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, "https://media.example.net/rec/old.mp3", items[0].URL)
}

// A request ID names the whole sweep, not each of its batches: the sweep
// runs to the end, and a replay reports the first result and deletes
// nothing.
func TestSweepWithRequestID(t *testing.T) {
	asOf := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	cut := redaction.Cutoff(asOf, 13)
	var recs []cdrstore.Record
	for i := range 2500 {
		recs = append(recs, at(fmt.Sprintf("bulk-%d", i), cut.AddDate(0, -3, 0).Add(time.Duration(i)*time.Second), cdrstore.ProductSMS))
	}
	s, rd := setup(t, recs...)
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: "sweep-1"})
	res, err := rd.Sweep(rctx, asOf, redaction.SweepOptions{BatchSize: 1000})
	require.NoError(t, err)
	assert.Equal(t, 2500, res.Deleted)
	assert.Equal(t, 3, res.Batches)
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		n, err := tx.Count("acme")
		assert.Equal(t, 0, n)
		return err
	}))

	// A record older than the sweep's cutoff is stored only under a hold
	// (else it is past retention: see TestSweptRecordsDoNotComeBack);
	// released, the next sweep would delete it.
	_, err = rd.HoldRecord(ctx, "acme", "late", "case 1")
	require.NoError(t, err)
	require.NoError(t, s.Put(at("late", cut.AddDate(0, -1, 0), cdrstore.ProductSMS)))
	_, err = rd.ReleaseHold(ctx, "acme", redaction.HoldKeyForID("late"))
	require.NoError(t, err)
	again, err := rd.Sweep(rctx, asOf, redaction.SweepOptions{BatchSize: 1000})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, 2500, again.Deleted, "the first result")
	_, err = s.Get("acme", "late")
	require.NoError(t, err, "a replay deletes nothing")
}

// A sweep lists the first 1,000 held records it left alone and counts
// them all (SkippedCount); a replay reports the count too.
func TestSweepListsAtMostAThousandHeldRecords(t *testing.T) {
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
	assert.Equal(t, 0, res.Deleted)
	assert.Equal(t, 1000, len(res.Skipped))
	assert.Equal(t, 1200, res.SkippedCount)

	again, err := rd.Sweep(rctx, asOf, redaction.SweepOptions{BatchSize: 100})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, 1200, again.SkippedCount, "a replay reports the first count")
}
