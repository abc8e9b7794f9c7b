package redaction_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

	before := dump(t, s)
	dry, err := rd.Sweep(ctx, asOf, redaction.SweepOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 2502, dry.Deleted)
	assert.Equal(t, before, dump(t, s), "a dry run writes nothing")

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

// After erasure, redaction and sweep followed by Scrub, no byte of the
// erased content remains in any file of the store's directory or in a
// backup; kept content is all still there.
func TestScrubLeavesNoResidue(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cdrvault.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true, Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer s.Close()
	rd := redaction.New(s, nil)

	erasedNum := e164.MustParse("+2348031234567", "")
	redactedNum := e164.MustParse("+447911123456", "")
	keptNum := e164.MustParse("+4915112345678", "")
	var recs []cdrstore.Record
	var erased, kept []string
	for i := range 300 {
		body := fmt.Sprintf("ERASED-MARKER-%04d", i)
		r := smsOut(fmt.Sprintf("e%d", i), erasedNum, body)
		erased = append(erased, body)
		recs = append(recs, r)
		kb := fmt.Sprintf("KEPT-MARKER-%04d", i)
		kept = append(kept, kb)
		recs = append(recs, smsOut(fmt.Sprintf("k%d", i), keptNum, kb))
	}
	red := voice("v-red", redactedNum, "c-red")
	red.Transcript = []string{"REDACTED-TRANSCRIPT-MARKER"}
	red.RecordingURL = "https://media.example.net/rec/REDACTED-URL-MARKER.mp3"
	recs = append(recs, red)
	swept := smsOut("swept", keptNum, "SWEPT-MARKER")
	swept.StartedAt = now.AddDate(-2, 0, 0)
	recs = append(recs, swept)
	require.NoError(t, s.PutBatch(recs))
	// More transactions so the erased bytes sit in pages bbolt freed.
	for i := range 20 {
		require.NoError(t, s.Put(smsOut(fmt.Sprintf("x%d", i), keptNum, "filler")))
	}

	_, err = rd.EraseContact(ctx, "acme", erasedNum, "gdpr_art17")
	require.NoError(t, err)
	_, err = rd.RedactByID(ctx, "acme", "v-red", cdrstore.ProductVoice, cdrstore.Outbound)
	require.NoError(t, err)
	_, err = rd.Sweep(ctx, now, redaction.SweepOptions{})
	require.NoError(t, err)
	_, err = rd.DrainOutbox(ctx, "", redaction.DeleterFunc(func(_ context.Context, _ string) error { return nil }))
	require.NoError(t, err)

	gone := append([]string{"REDACTED-TRANSCRIPT-MARKER", "REDACTED-URL-MARKER", "SWEPT-MARKER", redactedNum.String()}, erased...)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	residue := 0
	for _, m := range gone {
		if bytes.Contains(raw, []byte(m)) {
			residue++
		}
	}
	require.Positive(t, residue, "before Scrub, bbolt's free pages still hold erased bytes (else this test proves nothing)")

	sr, err := s.Scrub(ctx)
	require.NoError(t, err)
	assert.Positive(t, sr.SizeBefore)
	var backup bytes.Buffer
	_, err = s.Backup(ctx, &backup)
	require.NoError(t, err)

	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	blobs := [][]byte{backup.Bytes()}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		require.NoError(t, err)
		blobs = append(blobs, b)
	}
	for _, b := range blobs {
		for _, m := range gone {
			assert.False(t, bytes.Contains(b, []byte(m)), "residue of %q", m)
		}
	}
	for _, m := range kept {
		assert.True(t, bytes.Contains(blobs[1], []byte(m)) || bytes.Contains(blobs[0], []byte(m)), "kept %q", m)
		assert.True(t, bytes.Contains(backup.Bytes(), []byte(m)), "backup keeps %q", m)
	}
	// The store still works after the swap.
	got, err := s.Get("acme", "k1")
	require.NoError(t, err)
	assert.Equal(t, "KEPT-MARKER-0001", got.Body)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Put(smsOut("after", keptNum, "post-scrub")))
}
