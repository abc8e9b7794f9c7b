package redaction_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setupDueSMS opens a store holding n outbound SMS, each past the hold of
// its workspace's one policy (discard SMS content at once).
func setupDueSMS(t *testing.T, n int) (*cdrstore.Store, *redaction.Redactor) {
	t.Helper()
	var recs []cdrstore.Record
	for i := range n {
		r := smsOut(fmt.Sprintf("s%d", i), ada, "body")
		r.StartedAt = now.Add(-7*time.Hour - time.Duration(i)*time.Second)
		recs = append(recs, r)
	}
	s, rd := setup(t, recs...)
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Content: true}}})
	require.NoError(t, err)
	return s, rd
}

// SkippedCount is every held record auto-redaction left alone, beyond the
// 1,000 it lists, and a replay reports it too.
func TestAutoRedactCountsEveryHeldRecord(t *testing.T) {
	_, rd := setupDueSMS(t, 1200)
	_, err := rd.HoldNumber(ctx, "acme", ada, "litigation")
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

// BatchSize bounds how many records one transaction (and audit entry) of
// AutoRedact changes.
func TestAutoRedactBatchSize(t *testing.T) {
	s, rd := setupDueSMS(t, 25)
	res, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{BatchSize: 10})
	require.NoError(t, err)
	assert.Equal(t, 25, res.ContentDiscarded)
	var counts []uint64
	for _, e := range storetest.AuditEntries(t, s, "acme") {
		if e.Action == redaction.ActionAutoRedact {
			counts = append(counts, e.Count)
		}
	}
	assert.Equal(t, []uint64{10, 10, 5}, counts, "one audit entry per batch, with its count")
}

func TestAutoRedact(t *testing.T) {
	asOf := now
	mk := func(id string, age time.Duration, mod func(*cdrstore.Record)) cdrstore.Record {
		r := smsOut(id, ada, "content of "+id)
		r.StartedAt = asOf.Add(-age)
		if mod != nil {
			mod(&r)
		}
		return r
	}
	recs := []cdrstore.Record{
		mk("due", 7*time.Hour, nil),
		mk("fresh", time.Hour, nil),
		mk("retain", 7*time.Hour, func(r *cdrstore.Record) {
			r.ContentRetention, r.AddressRetention = cdrstore.ContentRetain, cdrstore.AddressRetain
		}),
		mk("voice-discard", time.Minute, func(r *cdrstore.Record) {
			r.Product, r.Body, r.Transcript, r.ContentRetention = cdrstore.ProductVoice, "", []string{"hello"}, cdrstore.ContentDiscard
		}),
		mk("inbound", 7*time.Hour, func(r *cdrstore.Record) { r.Direction, r.From, r.To = cdrstore.Inbound, bob, plat }),
		mk("media", 10*time.Minute, func(r *cdrstore.Record) {
			r.Product = cdrstore.ProductMessages
			r.Media = []cdrstore.Media{{URL: "https://media.example.net/m/gone.jpg", ExpiresAt: asOf.Add(-time.Minute)}, {URL: "https://media.example.net/m/kept.jpg", ExpiresAt: asOf.Add(time.Hour)}}
		}),
	}
	s, rd := setup(t, recs...)
	_, err := rd.OptOut(ctx, "acme", ada)
	require.NoError(t, err)
	_, err = rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, Content: true, Address: true, Hold: redaction.Duration(6 * time.Hour)},
	}})
	require.NoError(t, err)
	res, err := rd.AutoRedact(ctx, asOf, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, res.ContentDiscarded)
	assert.Equal(t, 1, res.AddressesObfuscated)
	assert.Equal(t, 1, res.MediaExpired)

	due, err := s.Get("acme", "due")
	require.NoError(t, err)
	assert.Empty(t, due.Body)
	assert.False(t, due.To.IsValid())
	assert.Equal(t, "+234803123XXXX", due.Redacted.Masked)
	assert.True(t, due.Redacted.Fields.Has(cdrstore.FieldBody|cdrstore.FieldToObfuscated))
	got := byNumber(t, s, ada)
	ids := []string{}
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	assert.NotContains(t, ids, "due", "the full number's index entry is gone")
	assert.Contains(t, ids, "retain")

	for id, body := range map[string]string{"fresh": "content of fresh", "retain": "content of retain", "inbound": "content of inbound"} {
		r, err := s.Get("acme", id)
		require.NoError(t, err)
		assert.Equal(t, body, r.Body, id)
	}
	v, err := s.Get("acme", "voice-discard")
	require.NoError(t, err)
	assert.Empty(t, v.Transcript, "the record's override discards without a policy")
	m, err := s.Get("acme", "media")
	require.NoError(t, err)
	require.Len(t, m.Media, 1)
	assert.Equal(t, "https://media.example.net/m/kept.jpg", m.Media[0].URL)

	ok, _, err := rd.IsOptedOut("acme", ada)
	require.NoError(t, err)
	assert.True(t, ok, "opt-outs keep working for obfuscated numbers")

	again, err := rd.AutoRedact(ctx, asOf, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Records)

	// Later, "fresh" becomes due: only it is visited and changed.
	later, err := rd.AutoRedact(ctx, asOf.Add(6*time.Hour), redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, later.ContentDiscarded)

	_, err = rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Content: true, Hold: redaction.Duration(15 * 24 * time.Hour)}}})
	require.NoError(t, err)
	_, err = rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Content: true, Hold: redaction.Duration(8 * 24 * time.Hour)}}})
	require.ErrorIs(t, err, redaction.ErrInvalidSettings, "hold must be 0-6h or 15/30/60/90 days")
}

func TestAutoRedactWithRequestID(t *testing.T) {
	s, rd := setupDueSMS(t, 1500)
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: "auto-1"})
	res, err := rd.AutoRedact(rctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1500, res.ContentDiscarded)
	got, err := s.Get("acme", "s1499")
	require.NoError(t, err)
	assert.Empty(t, got.Body)
	again, err := rd.AutoRedact(rctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, 1500, again.ContentDiscarded)
}

// Two policies for one product, direction and hold, one for content and
// one for the address, are two passes: each applies.
func TestAutoRedactPoliciesDifferingInWhatTheyRedact(t *testing.T) {
	r := smsOut("s1", ada, "body")
	r.StartedAt = now.Add(-7 * time.Hour)
	s, rd := setup(t, r)
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Content: true, Hold: redaction.Duration(6 * time.Hour)},
		{Product: cdrstore.ProductSMS, Address: true, Hold: redaction.Duration(6 * time.Hour)},
	}})
	require.NoError(t, err)
	_, err = rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	got, err := s.Get("acme", "s1")
	require.NoError(t, err)
	assert.Empty(t, got.Body)
	assert.Equal(t, "+234803123XXXX", got.Redacted.Masked)
}

// A record that arrives after a run has passed its start time (a voice CDR
// is written when the call ends) is still redacted by the next run, within
// redaction.AutoRedactLookback.
func TestAutoRedactLateArrivals(t *testing.T) {
	// The first run moves the policy's watermark to first (70 minutes
	// old) and the overrides' to recent (10 seconds old).
	first := smsOut("first", ada, "on time")
	first.StartedAt = now.Add(-70 * time.Minute)
	recent := smsOut("recent", bob, "on time")
	recent.StartedAt = now.Add(-10 * time.Second)
	s, rd := setup(t, first, recent)
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Content: true, Hold: redaction.Duration(time.Hour)},
	}})
	require.NoError(t, err)
	_, err = rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)

	override := voice("late-call", ada, "c9")
	override.StartedAt, override.EndedAt = now.Add(-30*time.Second), now.Add(-5*time.Second)
	override.ContentRetention = cdrstore.ContentDiscard
	policy := smsOut("late-sms", ada, "delivered late")
	policy.StartedAt = now.Add(-90 * time.Minute)
	require.NoError(t, s.PutBatch([]cdrstore.Record{override, policy}))

	_, err = rd.AutoRedact(ctx, now.Add(time.Minute), redaction.AutoRedactOptions{})
	require.NoError(t, err)
	got, err := s.Get("acme", "late-call")
	require.NoError(t, err)
	assert.Empty(t, got.Transcript, "the override applies to a late record")
	got, err = s.Get("acme", "late-sms")
	require.NoError(t, err)
	assert.Empty(t, got.Body, "the policy applies to a late record")
}

// Media that expire after a run has passed their record are removed by a
// later run.
func TestAutoRedactMediaExpiringLater(t *testing.T) {
	m := message("m1", ada)
	m.StartedAt = now.Add(-time.Minute)
	m.Media[0].ExpiresAt = now.Add(7 * 24 * time.Hour)
	later := message("m2", bob)
	later.StartedAt = now.Add(-30 * time.Second)
	later.Media = nil
	s, rd := setup(t, m, later)
	_, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	got, err := s.Get("acme", "m1")
	require.NoError(t, err)
	require.Len(t, got.Media, 1, "not expired yet")

	_, err = rd.AutoRedact(ctx, now.Add(7*24*time.Hour+time.Second), redaction.AutoRedactOptions{})
	require.NoError(t, err)
	got, err = s.Get("acme", "m1")
	require.NoError(t, err)
	assert.Empty(t, got.Media, "expired a week later, beyond the lookback")

	// Settings.MediaExpiry: removed that long after started_at.
	n := message("m3", ada)
	n.StartedAt = now.Add(8 * 24 * time.Hour)
	n.Media[0].ExpiresAt = time.Time{}
	require.NoError(t, s.Put(n))
	_, err = rd.SetSettings(ctx, "acme", redaction.Settings{MediaExpiry: redaction.Duration(24 * time.Hour)})
	require.NoError(t, err)
	_, err = rd.AutoRedact(ctx, n.StartedAt.Add(time.Hour), redaction.AutoRedactOptions{})
	require.NoError(t, err)
	got, err = s.Get("acme", "m3")
	require.NoError(t, err)
	require.Len(t, got.Media, 1)
	_, err = rd.AutoRedact(ctx, n.StartedAt.Add(25*time.Hour), redaction.AutoRedactOptions{})
	require.NoError(t, err)
	got, err = s.Get("acme", "m3")
	require.NoError(t, err)
	assert.Empty(t, got.Media)
}

// A record already past its policy's window when it is written (a CDR
// ingested more than a day late) is stored redacted, with one audit entry
// for the write; one not yet past it is stored whole and left to the
// runs; a held one is stored as given.
func TestAutoRedactAtWriteTime(t *testing.T) {
	s, rd := setup(t, smsOut("seed", bob, "x"))
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Content: true, Address: true, Hold: redaction.Duration(6 * time.Hour)},
	}})
	require.NoError(t, err)
	_, err = rd.HoldRecord(ctx, "acme", "held", "case 9")
	require.NoError(t, err)
	late := smsOut("late", ada, "SECRET-4") // started 48 h ago
	young := smsOut("young", ada, "fresh")
	young.StartedAt = now.Add(-time.Hour)
	entries := len(storetest.AuditEntries(t, s, "acme"))

	res, err := s.PutBatchResult([]cdrstore.Record{late, young, smsOut("held", ada, "kept")})
	require.NoError(t, err)
	assert.Equal(t, cdrstore.WriteResult{Stored: 3, Changed: 1}, res)
	got, err := s.Get("acme", "late")
	require.NoError(t, err)
	assert.Empty(t, got.Body)
	assert.False(t, got.To.IsValid())
	assert.Equal(t, ada.Obfuscate(), got.Redacted.Masked)
	for id, body := range map[string]string{"young": "fresh", "held": "kept"} {
		got, err = s.Get("acme", id)
		require.NoError(t, err)
		assert.Equal(t, body, got.Body, id)
	}
	all := storetest.AuditEntries(t, s, "acme")
	require.Len(t, all, entries+1)
	assert.Equal(t, redaction.ActionAutoRedact, all[len(all)-1].Action)
	assert.Equal(t, uint64(1), all[len(all)-1].Count)
}

// A record a hold kept from an auto-redaction run is redacted by the first
// run after the hold is released, although the pass's watermark (and its
// lookback) went past it long ago; check's report (Overdue) names it in
// between.
func TestReleasedHoldIsRedactedByTheNextRun(t *testing.T) {
	s, rd := setupDueSMS(t, 3)
	_, err := rd.HoldRecord(ctx, "acme", "s1", "case 2")
	require.NoError(t, err)
	res, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, res.ContentDiscarded)
	later := now.Add(30 * 24 * time.Hour) // the lookback is long gone
	_, err = rd.AutoRedact(ctx, later, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	overdue, err := rd.Overdue(ctx, later)
	require.NoError(t, err)
	assert.Empty(t, overdue, "a held record is not overdue")

	_, err = rd.ReleaseHold(ctx, "acme", redaction.HoldKeyForID("s1"))
	require.NoError(t, err)
	overdue, err = rd.Overdue(ctx, later)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"acme": 1}, overdue)
	res, err = rd.AutoRedact(ctx, later, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, res.ContentDiscarded)
	got, err := s.Get("acme", "s1")
	require.NoError(t, err)
	assert.Empty(t, got.Body)
	overdue, err = rd.Overdue(ctx, later)
	require.NoError(t, err)
	assert.Empty(t, overdue)
}
