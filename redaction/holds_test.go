package redaction_test

import (
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An auditor joins the placing and release of a hold on a record with the
// redaction and deletion of that record: all carry the keyed HMAC of the
// transaction ID as their subject.
func TestIDHoldSubjectIsTheIDsSubject(t *testing.T) {
	rec := smsOut("tx-1", ada, "hello")
	s, rd := setup(t, rec)
	_, err := rd.HoldRecord(ctx, "acme", rec.ID, "litigation")
	require.NoError(t, err)
	_, err = rd.ReleaseHold(ctx, "acme", redaction.HoldKeyForID(rec.ID))
	require.NoError(t, err)
	_, err = rd.RedactByID(ctx, "acme", rec.ID, rec.Product, rec.Direction)
	require.NoError(t, err)
	_, err = rd.DeleteRecord(ctx, "acme", rec.ID)
	require.NoError(t, err)

	entries := storetest.AuditEntries(t, s, "acme")
	require.Len(t, entries, 4)
	want := s.SubjectHMAC(rec.ID)
	for _, e := range entries {
		assert.Equal(t, want, e.Subject, e.Action+" "+e.Detail)
	}
}

func TestHoldsSkipAndRelease(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "one"), smsOut("s2", ada, "two"), voice("v1", ada, "c1"))
	_, err := rd.HoldRecord(ctx, "acme", "s2", "litigation-2026-17")
	require.NoError(t, err)
	res, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.Equal(t, 2, res.RecordsAffected)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, redaction.Skipped{ID: "s2", Reason: "legal hold: litigation-2026-17"}, res.Skipped[0])
	kept, err := s.Get("acme", "s2")
	require.NoError(t, err)
	assert.Equal(t, "two", kept.Body)

	_, err = rd.RedactByID(ctx, "acme", "s2", cdrstore.ProductSMS, cdrstore.Outbound)
	require.ErrorIs(t, err, redaction.ErrLegalHold)

	_, err = rd.HoldNumber(ctx, "acme", ada, "regulator inquiry")
	require.NoError(t, err)
	_, err = rd.DeleteRecord(ctx, "acme", "v1")
	require.ErrorIs(t, err, redaction.ErrLegalHold)

	holds, err := rd.Holds("acme")
	require.NoError(t, err)
	require.Len(t, holds, 2)
	for _, h := range holds {
		_, err := rd.ReleaseHold(ctx, "acme", h.Key)
		require.NoError(t, err)
	}
	res, err = rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.Equal(t, 1, res.RecordsAffected, "released, the held record is erased")
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
	before := storetest.Dump(t, s)
	_, err := rd.HoldRecord(ctx, "acme", "s1", "complaint from +234 803 123 4567")
	require.ErrorIs(t, err, redaction.ErrInvalidReason)
	assert.Equal(t, before, storetest.Dump(t, s))
	_, err = rd.HoldRecord(ctx, "acme", "s1", "litigation 2026-cv-17")
	require.NoError(t, err)
}
