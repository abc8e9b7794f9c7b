package redaction_test

import (
	"testing"

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
