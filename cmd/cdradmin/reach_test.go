package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The scenarios of #11, driven through cdradmin on a fresh store in
// workspace w: each ends with no erased marker in any file of the store
// or its backup after scrub.

// smsLine is an outbound SMS of workspace w from the platform's number to
// to, as an ingest line.
func smsLine(id, to, body, startedAt string) string {
	return fmt.Sprintf(`{"id":%q,"workspace":"w","product":"sms","direction":"outbound","from":"+14155552671","to":%q,"body":%q,"started_at":%q}`+"\n",
		id, to, body, startedAt)
}

// cdradmin runs a command on db that must succeed, and returns its stdout.
func cdradmin(t *testing.T, db, stdin string, args ...string) string {
	t.Helper()
	code, out, stderr := cli(t, stdin, append([]string{"--db", db}, args...)...)
	require.Equal(t, 0, code, "%v: %s", args, stderr)
	return out
}

// newDB returns the path of a store holding one unrelated SMS.
func newDB(t *testing.T) string {
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	cdradmin(t, db, smsLine("seed", "+447911123456", "hi", "2026-10-30T10:00:00Z"), "ingest")
	return db
}

// noMarker asserts that no file of the store, nor its backup, holds marker
// once the store is scrubbed.
func noMarker(t *testing.T, db, marker string) {
	t.Helper()
	cdradmin(t, db, "", "scrub")
	backup := filepath.Join(t.TempDir(), "backup.db")
	cdradmin(t, db, "", "backup", "--to", backup)
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

func ingestJSON(t *testing.T, db, lines string) control.IngestResult {
	t.Helper()
	var res control.IngestResult
	require.NoError(t, json.Unmarshal([]byte(cdradmin(t, db, lines, "ingest", "--json")), &res))
	return res
}

// Late CDRs (scenario 2): an SMS that started before an erasure of its
// counterparty and is ingested after it is stored erased, and ingest says
// so; one that started after the erasure is stored whole.
func TestLateCDRAfterEraseIsStoredErased(t *testing.T) {
	db := newDB(t)
	assert.Contains(t, cdradmin(t, db, "", "erase", "-w", "w", "--json", "+33612345678"), `"records_affected":0`)

	res := ingestJSON(t, db, smsLine("late", "+33612345678", "SECRET-2", "2026-10-31T10:00:00Z")+
		smsLine("after", "+33612345678", "AFTER-OK", "2026-11-01T00:00:00Z"))
	assert.Equal(t, control.IngestResult{Read: 2, Stored: 2, Redacted: 1}, res)
	assert.Contains(t, cdradmin(t, db, "", "get", "-w", "w", "late"), `"body":"[REDACTED]"`)
	assert.Contains(t, cdradmin(t, db, "", "get", "-w", "w", "after"), `"body":"AFTER-OK"`)
	noMarker(t, db, "SECRET-2")
}

// Obfuscated numbers (scenario 1): once auto-redaction obfuscated the
// counterparty and kept the body, export and erase still find the record
// by the number it held; export shows the masked number; the erasure
// counts it.
func TestEraseReachesObfuscatedRecord(t *testing.T) {
	db := newDB(t)
	cdradmin(t, db, smsLine("s1", "+33612345678", "SECRET-1", "2026-10-31T10:00:00Z"), "ingest")
	cdradmin(t, db, "", "policy", "set", "-w", "w", "--auto-redact", "sms:any:address:6h")
	cdradmin(t, db, "", "autoredact")

	out := cdradmin(t, db, "", "export", "-w", "w", "--number", "+33612345678")
	assert.Contains(t, out, `"to":"+3361234XXXX"`, "the record shows the masked number")
	assert.Contains(t, out, "SECRET-1")
	assert.Contains(t, cdradmin(t, db, "", "erase", "-w", "w", "--json", "+33612345678"), `"records_affected":1`)
	assert.NotContains(t, cdradmin(t, db, "", "get", "-w", "w", "s1"), "SECRET-1")
	noMarker(t, db, "SECRET-1")
}

// Re-delivered CDRs (scenario 3): a record the retention sweep deleted
// does not come back when the same CDR is ingested again; ingest reports
// it as past retention.
func TestSweptCDRDoesNotComeBack(t *testing.T) {
	db := newDB(t)
	old := smsLine("old1", "+33612345678", "SECRET-3", "2025-01-10T10:00:00Z")
	cdradmin(t, db, old, "ingest")
	assert.Contains(t, cdradmin(t, db, "", "sweep"), "deleted 1 expired records")

	assert.Equal(t, control.IngestResult{Read: 1, Expired: 1}, ingestJSON(t, db, old))
	code, _, _ := cli(t, "", "--db", db, "get", "-w", "w", "old1")
	assert.Equal(t, 1, code, "not stored")
	noMarker(t, db, "SECRET-3")
}

// Auto-redaction that comes back (scenario 4): a record held through a
// run is reported by check once released and redacted by the next run; a
// CDR ingested days late is stored redacted.
func TestAutoRedactionReachesReleasedAndLateRecords(t *testing.T) {
	db := newDB(t)
	cdradmin(t, db, smsLine("h1", "+33612345678", "SECRET-H", "2026-10-20T10:00:00Z"), "ingest")
	cdradmin(t, db, "", "hold", "add", "-w", "w", "--id", "h1", "--reason", "litigation")
	cdradmin(t, db, "", "policy", "set", "-w", "w", "--auto-redact", "sms:any:content:6h")
	cdradmin(t, db, "", "autoredact")
	cdradmin(t, db, "", "hold", "remove", "-w", "w", "id:h1")

	assert.Contains(t, cdradmin(t, db, "", "check"), "w: 1 records are past an auto-redaction window")
	cdradmin(t, db, "", "autoredact")
	assert.NotContains(t, cdradmin(t, db, "", "check"), "past an auto-redaction window")

	assert.Equal(t, 1, ingestJSON(t, db, smsLine("l1", "+33612345678", "SECRET-L", "2026-10-29T10:00:00Z")).Redacted)
	noMarker(t, db, "SECRET-H")
	noMarker(t, db, "SECRET-L")
}

// Records that lost their number with no link to it (as format v2 left
// obfuscated records): check counts them and unlinked --discard discards
// their content, audited.
func TestUnlinkedCommand(t *testing.T) {
	db := newDB(t)
	// A record stored already obfuscated, as a v2 store holds them.
	s, err := cdrstore.Open(db, nil)
	require.NoError(t, err)
	redaction.New(s, nil)
	require.NoError(t, s.Put(cdrstore.Record{ID: "obf", Workspace: "w", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: e164.MustParse("+14155552671", ""), Body: "SECRET-U", StartedAt: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC),
		Redacted: cdrstore.Redaction{Fields: cdrstore.FieldToObfuscated, Masked: "+3361234XXXX", At: fixedNow}}))
	require.NoError(t, s.Close())

	assert.Contains(t, cdradmin(t, db, "", "check"), "w: 1 records lost their counterparty's number before format v3")
	assert.Equal(t, `{"w":1}`+"\n", cdradmin(t, db, "", "unlinked", "--json"))
	code, _, _ := cli(t, "", "--db", db, "unlinked", "--discard")
	assert.Equal(t, 2, code, "--discard needs a workspace")
	assert.Contains(t, cdradmin(t, db, "", "unlinked", "-w", "w", "--discard"), "discarded the content of 1 unlinked records of w")
	assert.NotContains(t, cdradmin(t, db, "", "check"), "lost their counterparty's number")
	assert.Contains(t, cdradmin(t, db, "", "audit", "list", "-w", "w"), "data.discard_unlinked")
	noMarker(t, db, "SECRET-U")
}
