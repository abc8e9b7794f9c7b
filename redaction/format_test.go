package redaction_test

import (
	"context"
	"flag"
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

var writeFixtures = flag.Bool("write-format-fixtures", false, "rewrite cdrstore/testdata/format/v2/ops.db (only while format v2 is the newest)")

// opsFixture is the second frozen format v2 store: besides records, it
// holds what the operations leave behind (settings, holds, opt-outs,
// stored request results, outbox entries, audit chains) and a record
// auto-redaction obfuscated while keeping its content.
var opsFixture = filepath.Join("..", "cdrstore", "testdata", "format", "v2", "ops.db")

// Its subject key and clock.
var (
	opsKey = storetest.FixtureKey
	opsNow = time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	carol  = e164.MustParse("+33612345678", "")
)

// writeOpsFixture is the program that wrote ops.db (format v2), kept so
// that the fixture's contents are known; it refuses to run once the
// newest format is no longer v2.
func writeOpsFixture(t *testing.T) {
	require.Equal(t, cdrstore.FormatV2, cdrstore.FormatNewest, "the v2 fixture is frozen: never rewrite it")
	os.Remove(opsFixture)
	s, err := cdrstore.Open(opsFixture, &cdrstore.Options{SubjectKey: opsKey, Now: func() time.Time { return opsNow }})
	require.NoError(t, err)
	defer s.Close()
	sent := opsNow.Add(-48 * time.Hour)
	require.NoError(t, s.PutBatch([]cdrstore.Record{
		{ID: "obf-1", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, From: plat, To: carol, Body: "SECRET-1", StartedAt: sent},
		{ID: "stop-1", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound, From: bob, To: plat, Body: "STOP", StartedAt: sent.Add(time.Minute)},
		{ID: "held-1", Workspace: "acme", Product: cdrstore.ProductVoice, Direction: cdrstore.Outbound, From: plat, To: ada, Transcript: []string{"hello"},
			RecordingURL: "https://media.example.net/rec/held-1.mp3", StartedAt: sent.Add(2 * time.Minute)},
		{ID: "erase-1", Workspace: "globex", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, From: plat, To: ada, Body: "SECRET-2", StartedAt: sent},
		{ID: "redact-1", Workspace: "globex", Product: cdrstore.ProductVoice, Direction: cdrstore.Outbound, From: plat, To: bob, Transcript: []string{"SECRET-3"},
			RecordingURL: "https://media.example.net/rec/redact-1.mp3", StartedAt: sent},
	}))
	rd := redaction.New(s, nil)
	req := func(id string) context.Context {
		return redaction.WithRequest(ctx, redaction.Request{ID: id, Actor: "fixture"})
	}
	_, err = rd.SetSettings(req("settings-1"), "acme", redaction.Settings{
		AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Address: true, Hold: redaction.Duration(6 * time.Hour)}},
	})
	require.NoError(t, err)
	_, err = rd.AutoRedact(req("autoredact-1"), opsNow, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	_, err = rd.HoldRecord(req("hold-1"), "acme", "held-1", "litigation")
	require.NoError(t, err)
	_, err = rd.HoldNumber(ctx, "acme", ada, "case 17")
	require.NoError(t, err)
	_, err = rd.OptOut(req("optout-1"), "acme", bob)
	require.NoError(t, err)
	// A request ID that holds a phone number, as callers write them.
	_, err = rd.EraseContact(req("erase-+2348031234567"), "globex", ada, "ndpr_right_to_erasure")
	require.NoError(t, err)
	_, err = rd.RedactByID(req("redact-1"), "globex", "redact-1", cdrstore.ProductVoice, cdrstore.Outbound)
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
}

// TestFormatFixtureOps opens a copy of the frozen v2 store of operations,
// which migrates it to the newest format, and finds everything the
// operations left: settings, holds, opt-outs, request IDs that replay,
// the obfuscated record with its content, the audit chains.
func TestFormatFixtureOps(t *testing.T) {
	if *writeFixtures {
		writeOpsFixture(t)
	}
	dst := filepath.Join(t.TempDir(), "ops.db")
	storetest.CopyFile(t, opsFixture, dst)
	s, err := cdrstore.Open(dst, &cdrstore.Options{SubjectKey: opsKey, Now: func() time.Time { return opsNow }})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(ctx))
	rd := redaction.New(s, nil)

	obf, err := s.Get("acme", "obf-1")
	require.NoError(t, err)
	assert.Equal(t, "SECRET-1", obf.Body, "obfuscated with its content kept")
	assert.False(t, obf.To.IsValid())
	assert.Equal(t, "+3361234XXXX", obf.Redacted.Masked)
	assert.True(t, obf.Redacted.Fields.Has(cdrstore.FieldToObfuscated))

	settings, err := rd.Settings("acme")
	require.NoError(t, err)
	require.Len(t, settings.AutoRedact, 1)
	assert.True(t, settings.AutoRedact[0].Address)

	holds, err := rd.Holds("acme")
	require.NoError(t, err)
	keys := []string{}
	for _, h := range holds {
		keys = append(keys, h.Key)
	}
	assert.ElementsMatch(t, []string{redaction.HoldKeyForID("held-1"), redaction.HoldKeyForNumber(s, ada)}, keys)

	out, _, err := rd.IsOptedOut("acme", bob)
	require.NoError(t, err)
	assert.True(t, out)

	// Stored request results replay, and apply nothing.
	before := storetest.Dump(t, s)
	res, err := rd.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "erase-+2348031234567", Actor: "fixture"}), "globex", ada, "ndpr_right_to_erasure")
	require.NoError(t, err)
	assert.True(t, res.Replayed)
	assert.Equal(t, 1, res.RecordsAffected)
	r2, err := rd.RedactByID(redaction.WithRequest(ctx, redaction.Request{ID: "redact-1"}), "globex", "redact-1", cdrstore.ProductVoice, cdrstore.Outbound)
	require.NoError(t, err)
	assert.True(t, r2.Replayed)
	assert.Equal(t, before, storetest.Dump(t, s))

	// The migration keyed the stored results by the IDs' HMACs and masked
	// the numbers they held; the audit entries written before keep their
	// bytes, and are counted.
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range []string{"acme", "globex"} {
			kv, err := tx.Bucket(ws, cdrstore.BucketRequests)
			require.NoError(t, err)
			n := 0
			for k, v := range kv.Scan(nil, nil) {
				n++
				assert.Len(t, k, 32)
				assert.NotContains(t, string(v), "2348031234567")
			}
			assert.Positive(t, n)
		}
		return nil
	}))
	plain, err := rd.PlaintextRequestIDs(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"acme": 3, "globex": 2}, plain)

	erased, err := s.Get("globex", "erase-1")
	require.NoError(t, err)
	assert.Equal(t, redaction.RedactedBody, erased.Body)
	assert.Len(t, storetest.AuditEntries(t, s, "acme"), 5)
	assert.Len(t, storetest.AuditEntries(t, s, "globex"), 2)
	items, err := rd.Outbox("globex", 10)
	require.NoError(t, err)
	assert.Len(t, items, 1, "the redacted recording waits for its deleter")
}
