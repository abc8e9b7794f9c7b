package redaction_test

import (
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// obfuscatedSMS stores an SMS to ada with body SECRET-1 and lets an
// address-only auto-redaction policy obfuscate ada while the body stays
// (scenario 1 of #11).
func obfuscatedSMS(t *testing.T) (*cdrstore.Store, *redaction.Redactor) {
	t.Helper()
	s, rd := setup(t, smsOut("s1", ada, "SECRET-1"), smsOut("s2", bob, "other"))
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Address: true, Hold: redaction.Duration(6 * time.Hour)},
	}})
	require.NoError(t, err)
	res, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, res.AddressesObfuscated)
	got, err := s.Get("acme", "s1")
	require.NoError(t, err)
	require.False(t, got.To.IsValid(), "obfuscated")
	require.Equal(t, "SECRET-1", got.Body, "content kept")
	return s, rd
}

// A record whose counterparty was obfuscated while its content stayed is
// still found by the number it held: the dry run counts it, the erasure
// erases it, and then, holding neither number nor content, it is no
// longer linked.
func TestErasureFindsObfuscatedRecords(t *testing.T) {
	s, rd := obfuscatedSMS(t)
	found := byNumber(t, s, ada)
	require.Len(t, found, 1, "found through the subject index")
	assert.Equal(t, "s1", found[0].ID)
	assert.Equal(t, ada.Obfuscate(), found[0].Redacted.Masked)

	dry, err := rd.EraseContactDryRun(ctx, "acme", ada)
	require.NoError(t, err)
	assert.Equal(t, 1, dry.RecordsAffected)
	res, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.Equal(t, 1, res.RecordsAffected)
	got, err := s.Get("acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, redaction.RedactedBody, got.Body)
	assert.Empty(t, byNumber(t, s, ada), "no number and no content: unlinked")
	assert.Len(t, byNumber(t, s, bob), 1, "bob's record is bob's alone")
}

// The link follows the record: a delivery again keeps it (the content
// is back), a content discard drops it, a deletion drops it.
func TestSubjectLinkFollowsTheRecord(t *testing.T) {
	s, rd := obfuscatedSMS(t)
	require.NoError(t, s.Put(smsOut("s1", ada, "SECRET-1")))
	got, err := s.Get("acme", "s1")
	require.NoError(t, err)
	assert.False(t, got.To.IsValid(), "stays obfuscated")
	assert.Len(t, byNumber(t, s, ada), 1, "still linked")

	_, err = rd.RedactByID(ctx, "acme", "s2", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	assert.Empty(t, byNumber(t, s, bob), "redacted: content gone, unlinked")

	_, err = rd.DeleteRecord(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Empty(t, byNumber(t, s, ada))
	require.NoError(t, s.Check(ctx))
}

// A hold on a number holds the records that lost it to obfuscation and
// are still found by it.
func TestHoldReachesObfuscatedRecords(t *testing.T) {
	s, rd := obfuscatedSMS(t)
	_, err := rd.HoldNumber(ctx, "acme", ada, "litigation")
	require.NoError(t, err)
	res, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.False(t, res.Erased)
	assert.Equal(t, 1, res.SkippedCount)
	got, err := s.Get("acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, "SECRET-1", got.Body, "held")
}

// A record obfuscated as it is written (past its policy's window on
// arrival) is linked to the number it came with.
func TestObfuscatedAtWriteIsLinked(t *testing.T) {
	s, rd := setup(t, smsOut("seed", bob, "x"))
	_, err := rd.SetSettings(ctx, "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Address: true, Hold: redaction.Duration(6 * time.Hour)},
	}})
	require.NoError(t, err)
	require.NoError(t, s.Put(smsOut("late", ada, "SECRET-5")))
	got, err := s.Get("acme", "late")
	require.NoError(t, err)
	require.False(t, got.To.IsValid(), "obfuscated as written")
	found := byNumber(t, s, ada)
	require.Len(t, found, 1)
	res, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.Equal(t, 1, res.RecordsAffected)
	n, err := rd.Unlinked(ctx)
	require.NoError(t, err)
	assert.Empty(t, n)
}
