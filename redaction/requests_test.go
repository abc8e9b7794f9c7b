package redaction_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateReason(t *testing.T) {
	for _, ok := range []string{"gdpr_art17", "ndpr_right_to_erasure", "ccpa_1798", "x"} {
		assert.NoError(t, redaction.ValidateReason(ok), ok)
	}
	for _, bad := range []string{
		"", strings.Repeat("a", 65), "Ndpr", "1st_request", "right to erasure",
		"caller_+2348031234567", "a2348031234567", "case_803_123_4567", "ndpr\x00",
	} {
		err := redaction.ValidateReason(bad)
		require.ErrorIs(t, err, redaction.ErrInvalidReason, "%q", bad)
		assert.NotContains(t, err.Error(), "8031234567", "the error does not quote the input")
	}
}

func TestEraseContactRefusesAReasonThatIsNotACode(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "hello"))
	before := dump(t, s)
	_, err := rd.EraseContact(ctx, "acme", ada, "caller +2348031234567 asked")
	require.ErrorIs(t, err, redaction.ErrInvalidReason)
	assert.Equal(t, before, dump(t, s), "nothing written, no audit entry")
}

func TestRequestIDIsBoundToItsRequest(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "to Ada"), smsOut("s2", bob, "to Bob"))
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: "k1"})
	first, err := rd.EraseContact(rctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.Equal(t, 1, first.RecordsAffected)

	// The same key for another number is not a replay of this request.
	_, err = rd.EraseContact(rctx, "acme", bob, "gdpr_art17")
	require.ErrorIs(t, err, redaction.ErrRequestConflict)
	// Nor is another reason.
	_, err = rd.EraseContact(rctx, "acme", ada, "ndpr_right_to_erasure")
	require.ErrorIs(t, err, redaction.ErrRequestConflict)
	got, err := s.Get("acme", "s2")
	require.NoError(t, err)
	assert.Equal(t, "to Bob", got.Body)

	again, err := rd.EraseContact(rctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, ada, again.E164)
	assert.Equal(t, first.RecordsAffected, again.RecordsAffected)

	// Redaction by ID: the key names one ID, product and direction.
	r2 := redaction.WithRequest(ctx, redaction.Request{ID: "k2"})
	_, err = rd.RedactByID(r2, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	_, err = rd.RedactByID(r2, "acme", "s2", cdrstore.ProductSMS, cdrstore.Outbound)
	require.ErrorIs(t, err, redaction.ErrRequestConflict)
	got, err = s.Get("acme", "s2")
	require.NoError(t, err)
	assert.Equal(t, "to Bob", got.Body)
	replayed, err := rd.RedactByID(r2, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	assert.True(t, replayed.Replayed)
}

func TestStoredRequestResultsHoldNoPlaintext(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "hello"))
	_, err := rd.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "r1"}), "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket("acme", cdrstore.BucketRequests)
		require.NoError(t, err)
		n := 0
		for k, v := range kv.Scan(nil, nil) {
			n++
			assert.NotContains(t, string(k)+string(v), "8031234567")
		}
		assert.Equal(t, 1, n)
		return nil
	}))
}

func TestEraseContactSaysWhenAHoldKeptRecords(t *testing.T) {
	_, rd := setup(t, smsOut("s1", ada, "one"), smsOut("s2", ada, "two"))
	_, err := rd.HoldNumber(ctx, "acme", ada, "litigation")
	require.NoError(t, err)
	res, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.False(t, res.Erased, "held records were not erased")
	assert.Equal(t, 0, res.RecordsAffected)
	assert.Equal(t, 2, res.SkippedCount)
}

func TestErasureInAnUnknownWorkspace(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "hello"))
	before := dump(t, s)
	_, err := rd.EraseContact(ctx, "acmee", ada, "gdpr_art17")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	_, err = rd.DeleteRecord(ctx, "acmee", "s1")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	_, err = rd.DeleteConversation(ctx, "acmee", "c1")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	assert.Equal(t, before, dump(t, s), "no workspace created, no receipt")
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		assert.Equal(t, []string{"acme"}, tx.Workspaces())
		return nil
	}))
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

	require.NoError(t, s.Put(at("late", cut.AddDate(0, -1, 0), cdrstore.ProductSMS)))
	again, err := rd.Sweep(rctx, asOf, redaction.SweepOptions{BatchSize: 1000})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, 2500, again.Deleted, "the first result")
	_, err = s.Get("acme", "late")
	require.NoError(t, err, "a replay deletes nothing")
}

func TestAutoRedactWithRequestID(t *testing.T) {
	var recs []cdrstore.Record
	for i := range 1500 {
		r := smsOut(fmt.Sprintf("s%d", i), ada, "body")
		r.StartedAt = now.Add(-7*time.Hour - time.Duration(i)*time.Second)
		recs = append(recs, r)
	}
	s, rd := setup(t, recs...)
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Content: true}}})
	require.NoError(t, err)
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

func TestHoldPlacementIsIdempotentAndAudited(t *testing.T) {
	clock := now
	s := storetest.Open(t, &cdrstore.Options{NoSync: true, Now: func() time.Time { return clock }})
	require.NoError(t, s.Put(smsOut("s1", ada, "one")))
	rd := redaction.New(s, nil)
	_, err := rd.HoldRecord(ctx, "acme", "s1", "litigation")
	require.NoError(t, err)
	first, err := rd.Holds("acme")
	require.NoError(t, err)
	require.Len(t, first, 1)

	clock = now.Add(time.Hour)
	_, err = rd.HoldRecord(ctx, "acme", "s1", "litigation")
	require.NoError(t, err)
	again, err := rd.Holds("acme")
	require.NoError(t, err)
	assert.Equal(t, first, again, "a hold placed twice keeps its first time")

	_, err = rd.ReleaseHold(ctx, "acme", first[0].Key)
	require.NoError(t, err)
	entries := storetest.AuditEntries(t, s, "acme")
	require.Len(t, entries, 2, "one placement, one release")
	assert.Equal(t, entries[0].Subject, entries[1].Subject, "the release names what the placement named")
}

func TestHoldReasonHoldsNoNumber(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "one"))
	before := dump(t, s)
	_, err := rd.HoldRecord(ctx, "acme", "s1", "complaint from +234 803 123 4567")
	require.ErrorIs(t, err, redaction.ErrInvalidReason)
	assert.Equal(t, before, dump(t, s))
	_, err = rd.HoldRecord(ctx, "acme", "s1", "litigation 2026-cv-17")
	require.NoError(t, err)
}

func TestSweepListsAtMostAThousandHeldRecords(t *testing.T) {
	asOf := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	var recs []cdrstore.Record
	for i := range 1200 {
		recs = append(recs, at(fmt.Sprintf("held-%d", i), redaction.Cutoff(asOf, 13).AddDate(0, -1, 0).Add(time.Duration(i)*time.Second), cdrstore.ProductSMS))
	}
	_, rd := setup(t, recs...)
	_, err := rd.HoldNumber(ctx, "acme", ada, "litigation")
	require.NoError(t, err)
	res, err := rd.Sweep(ctx, asOf, redaction.SweepOptions{BatchSize: 100})
	require.NoError(t, err)
	assert.Equal(t, 0, res.Deleted)
	assert.Equal(t, 1000, len(res.Skipped))
}

// An operation that fails after its audit entry was built hands back no
// receipt: the entry was rolled back.
func TestFailedOperationReturnsNoReceipt(t *testing.T) {
	_, rd := setup(t, smsOut("s1", ada, "hello"))
	redaction.SetHook(rd, func(step string) error {
		if step == "request" {
			return errInjected
		}
		return nil
	})
	res, err := rd.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "r1"}), "acme", ada, "gdpr_art17")
	require.ErrorIs(t, err, errInjected)
	assert.Nil(t, res.Receipt)
	assert.Zero(t, res.AuditSeq)
	assert.Zero(t, res.RecordsAffected)
}
