package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noMarker asserts that no file of the store, nor its backup, holds marker.
func noMarker(t *testing.T, db, marker string) {
	t.Helper()
	code, _, stderr := cli(t, "", "--db", db, "scrub")
	require.Equal(t, 0, code, stderr)
	backup := filepath.Join(t.TempDir(), "backup.db")
	code, _, stderr = cli(t, "", "--db", db, "backup", "--to", backup)
	require.Equal(t, 0, code, stderr)
	for _, dir := range []string{filepath.Dir(db), filepath.Dir(backup)} {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			assert.False(t, bytes.Contains(b, []byte(marker)), "%s holds %s", e.Name(), marker)
		}
	}
}

// Late CDRs (scenario 2 of #11): an SMS that started before an erasure
// of its counterparty and is ingested after it is stored erased; ingest
// says so, and after scrub no file of the store or its backup holds its
// body. One that started after the erasure is stored whole.
func TestLateCDRAfterEraseIsStoredErased(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	seed := `{"id":"seed","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+447911123456","body":"hi","started_at":"2026-10-30T10:00:00Z"}`
	code, _, stderr := cli(t, seed+"\n", "--db", db, "ingest")
	require.Equal(t, 0, code, stderr)
	code, out, stderr := cli(t, "", "--db", db, "erase", "-w", "w", "--json", "+33612345678")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"records_affected":0`)

	late := `{"id":"late","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+33612345678","body":"SECRET-2","started_at":"2026-10-31T10:00:00Z"}`
	after := `{"id":"after","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+33612345678","body":"AFTER-OK","started_at":"2026-11-01T00:00:00Z"}`
	code, out, stderr = cli(t, late+"\n"+after+"\n", "--db", db, "ingest", "--json")
	require.Equal(t, 0, code, stderr)
	var res ingestResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, ingestResult{Read: 2, Stored: 2, Redacted: 1}, res)

	code, out, _ = cli(t, "", "--db", db, "get", "-w", "w", "late")
	require.Equal(t, 0, code)
	assert.Contains(t, out, `"body":"[REDACTED]"`)
	code, out, _ = cli(t, "", "--db", db, "get", "-w", "w", "after")
	require.Equal(t, 0, code)
	assert.Contains(t, out, `"body":"AFTER-OK"`)
	noMarker(t, db, "SECRET-2")
}

// Obfuscated numbers (scenario 1 of #11): once auto-redaction obfuscated
// the counterparty and kept the body, export and erase still find the
// record by the number it held; export shows the masked number; the
// erasure counts it, and after scrub no file holds the body.
func TestEraseReachesObfuscatedRecord(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	line := `{"id":"s1","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+33612345678","body":"SECRET-1","started_at":"2026-10-31T10:00:00Z"}`
	code, _, stderr := cli(t, line+"\n", "--db", db, "ingest")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, "", "--db", db, "policy", "set", "-w", "w", "--auto-redact", "sms:any:address:6h")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, "", "--db", db, "autoredact")
	require.Equal(t, 0, code, stderr)

	code, out, stderr := cli(t, "", "--db", db, "export", "-w", "w", "--number", "+33612345678")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"to":"+3361234XXXX"`, "the record shows the masked number")
	assert.Contains(t, out, "SECRET-1")

	code, out, stderr = cli(t, "", "--db", db, "erase", "-w", "w", "--json", "+33612345678")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"records_affected":1`)
	code, out, _ = cli(t, "", "--db", db, "get", "-w", "w", "s1")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "SECRET-1")
	noMarker(t, db, "SECRET-1")
}

// Auto-redaction that comes back (scenario 4 of #11): a record held
// through a run is reported by check once released and redacted by the
// next run; a CDR ingested days late is stored redacted. After scrub no
// file holds either body.
func TestAutoRedactionReachesReleasedAndLateRecords(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	held := `{"id":"h1","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+33612345678","body":"SECRET-H","started_at":"2026-10-20T10:00:00Z"}`
	code, _, stderr := cli(t, held+"\n", "--db", db, "ingest")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, "", "--db", db, "policy", "set", "-w", "w", "--auto-redact", "sms:any:content:6h")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, "", "--db", db, "hold", "add", "-w", "w", "--id", "h1", "--reason", "litigation")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, "", "--db", db, "autoredact")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, "", "--db", db, "hold", "remove", "-w", "w", "id:h1")
	require.Equal(t, 0, code, stderr)

	code, out, _ := cli(t, "", "--db", db, "check")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "w: 1 records are past an auto-redaction window")
	code, _, stderr = cli(t, "", "--db", db, "autoredact")
	require.Equal(t, 0, code, stderr)
	code, out, _ = cli(t, "", "--db", db, "check")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "past an auto-redaction window")

	late := `{"id":"l1","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+33612345678","body":"SECRET-L","started_at":"2026-10-29T10:00:00Z"}`
	code, out, stderr = cli(t, late+"\n", "--db", db, "ingest", "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"redacted":1`)
	noMarker(t, db, "SECRET-H")
	noMarker(t, db, "SECRET-L")
}

// Records that lost their number with no link to it (as format v2 left
// obfuscated records): check counts them and unlinked --discard discards
// their content, audited.
func TestUnlinkedCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	seed := `{"id":"seed","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+447911123456","body":"hi","started_at":"2026-10-30T10:00:00Z"}`
	code, _, stderr := cli(t, seed+"\n", "--db", db, "ingest")
	require.Equal(t, 0, code, stderr)
	// A record stored already obfuscated, as a v2 store holds them.
	s, err := cdrstore.Open(db, nil)
	require.NoError(t, err)
	redaction.New(s, nil)
	require.NoError(t, s.Put(cdrstore.Record{ID: "obf", Workspace: "w", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: e164.MustParse("+14155552671", ""), Body: "SECRET-U", StartedAt: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC),
		Redacted: cdrstore.Redaction{Fields: cdrstore.FieldToObfuscated, Masked: "+3361234XXXX", At: fixedNow}}))
	require.NoError(t, s.Close())

	code, out, _ := cli(t, "", "--db", db, "check")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "w: 1 records lost their counterparty's number before format v3")
	code, out, stderr = cli(t, "", "--db", db, "unlinked", "--json")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, `{"w":1}`+"\n", out)
	code, _, _ = cli(t, "", "--db", db, "unlinked", "--discard")
	assert.Equal(t, 2, code, "--discard needs a workspace")
	code, out, stderr = cli(t, "", "--db", db, "unlinked", "-w", "w", "--discard")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "discarded the content of 1 unlinked records of w")
	code, out, _ = cli(t, "", "--db", db, "check")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "lost their counterparty's number")
	code, out, _ = cli(t, "", "--db", db, "audit", "list", "-w", "w")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "data.discard_unlinked")
	noMarker(t, db, "SECRET-U")
}

// Re-delivered CDRs (scenario 3 of #11): a record the retention sweep
// deleted does not come back when the same CDR is ingested again; ingest
// reports it as past retention, and no file holds its body.
func TestSweptCDRDoesNotComeBack(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	old := `{"id":"old1","workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":"+33612345678","body":"SECRET-3","started_at":"2025-01-10T10:00:00Z"}`
	code, _, stderr := cli(t, old+"\n", "--db", db, "ingest")
	require.Equal(t, 0, code, stderr)
	code, out, stderr := cli(t, "", "--db", db, "sweep")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "deleted 1 expired records")

	code, out, stderr = cli(t, old+"\n", "--db", db, "ingest", "--json")
	require.Equal(t, 0, code, stderr)
	var res ingestResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, ingestResult{Read: 1, Expired: 1}, res)
	code, _, _ = cli(t, "", "--db", db, "get", "-w", "w", "old1")
	assert.Equal(t, 1, code, "not stored")
	noMarker(t, db, "SECRET-3")
}
