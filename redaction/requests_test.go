package redaction_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestConflictDoesNotRepeatTheID: a request ID is the caller's own
// string (a ticket that names a number, say), kept only as a keyed HMAC;
// the conflict error, which travels to logs, the control socket and fleet
// reports, does not carry it either.
func TestRequestConflictDoesNotRepeatTheID(t *testing.T) {
	_, rd := setup(t, smsOut("s1", ada, "to Ada"), smsOut("s2", bob, "to Bob"))
	const id = "ticket-jane.doe-+14155550123"
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: id})
	_, err := rd.EraseContact(rctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	for _, op := range []func() error{
		func() error { _, err := rd.EraseContact(rctx, "acme", bob, "gdpr_art17"); return err },
		func() error {
			_, err := rd.RedactByID(rctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
			return err
		},
	} {
		err := op()
		require.ErrorIs(t, err, redaction.ErrRequestConflict)
		assert.NotContains(t, err.Error(), "jane.doe")
		assert.NotContains(t, err.Error(), "4155550123")
	}
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

func TestReceiptsAndRequestReplayAfterRestart(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "s.db")
	open := func() (*cdrstore.Store, *redaction.Redactor) {
		s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true, Now: func() time.Time { return now }})
		require.NoError(t, err)
		return s, redaction.New(s, &redaction.Options{SigningKey: priv})
	}
	s, rd := open()
	require.NoError(t, s.PutBatch([]cdrstore.Record{smsOut("s1", ada, "hello"), voice("v1", ada, "c1")}))
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: "erase-42", Actor: "test"})
	first, err := rd.EraseContact(rctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	require.NotNil(t, first.Receipt)
	require.NoError(t, audit.VerifyReceipt(*first.Receipt, pub))
	assert.Equal(t, uint64(2), first.Receipt.RecordsAffected)

	// The receipt's seq and hash are the chain's.
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		head, ok, err := tx.AuditHead("acme")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, head.Seq, first.Receipt.Seq)
		assert.Equal(t, head.Hash, first.Receipt.Hash)
		return nil
	}))
	// Any changed byte fails verification.
	tampered := *first.Receipt
	tampered.RecordsAffected++
	assert.ErrorIs(t, audit.VerifyReceipt(tampered, pub), audit.ErrBadSignature)
	require.NoError(t, s.Close())

	s, rd = open()
	defer s.Close()
	after := smsOut("s9", ada, "new message after the erasure")
	after.StartedAt = now // the erasure's issue time: it does not cover it
	require.NoError(t, s.Put(after))
	replayed, err := rd.EraseContact(rctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.True(t, replayed.Replayed)
	assert.Equal(t, first.RecordsAffected, replayed.RecordsAffected)
	assert.Equal(t, first.AuditSeq, replayed.AuditSeq)
	require.NoError(t, audit.VerifyReceipt(*replayed.Receipt, pub))
	got, err := s.Get("acme", "s9")
	require.NoError(t, err)
	assert.Equal(t, "new message after the erasure", got.Body, "a replay applies nothing")
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		head, _, err := tx.AuditHead("acme")
		assert.Equal(t, first.AuditSeq, head.Seq, "no new audit entry")
		return err
	}))
	_, err = rd.RedactByID(rctx, "acme", "s9", cdrstore.ProductSMS, cdrstore.Outbound)
	require.ErrorIs(t, err, redaction.ErrRequestConflict)
	require.NoError(t, s.Check(ctx))
}

// A phone number used inside a request ID is not in the file once the
// record it names is redacted and the store scrubbed: the requests bucket
// and the audit log keep the ID's keyed HMAC, and a replay of the same ID
// still finds the first result.
func TestRequestIDHoldsNoPlaintext(t *testing.T) {
	s, rd := setup(t, smsOut("s1", carol, "hello"))
	id := "redact-" + carol.String()
	rctx := redaction.WithRequest(ctx, redaction.Request{ID: id})
	first, err := rd.RedactByID(rctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	require.Equal(t, 1, first.Affected)
	_, err = s.Scrub(ctx)
	require.NoError(t, err)
	raw, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.False(t, bytes.Contains(raw, []byte(carol.String()[1:])), "the number is in no byte of the file")

	again, err := rd.RedactByID(rctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.AuditSeq, again.AuditSeq)
	entries := storetest.AuditEntries(t, s, "acme")
	assert.Len(t, entries[len(entries)-1].RequestID, 64, "the audit entry keeps the HMAC")
	n, err := rd.PlaintextRequestIDs(ctx)
	require.NoError(t, err)
	assert.Empty(t, n)
}
