package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// erase --json says how many records a legal hold kept, and erased is
// then false; the text form lists them.
func TestEraseReportsHeldRecords(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Body != "" && r.Direction == cdrstore.Outbound })
	n := r.To.String()
	code, _, stderr := cli(t, "", "--db", db, "hold", "add", "-w", "acme", "--id", r.ID, "--reason", "litigation")
	require.Equal(t, 0, code, stderr)

	code, out, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", "--dry-run", "--json", n)
	require.Equal(t, 0, code, stderr)
	var dry map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &dry))
	assert.Equal(t, false, dry["erased"], "a dry run erases nothing")
	assert.Equal(t, float64(1), dry["records_skipped"])

	code, out, stderr = cli(t, "", "--db", db, "erase", "-w", "acme", "--json", n)
	require.Equal(t, 0, code, stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, false, got["erased"], "the held record was not erased")
	assert.Equal(t, float64(1), got["records_skipped"])
	assert.Equal(t, dry["records_affected"], got["records_affected"])
	assert.Equal(t, n, got["e164"])

	code, out, stderr = cli(t, "", "--db", db, "erase", "-w", "acme", n)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "skipped "+r.ID+": legal hold: litigation\n")
	assert.NotContains(t, out, n)
}

// A --reason that is not a reason code is bad usage, refused before the
// store is opened, and not echoed (it could hold a number).
func TestEraseReasonIsACode(t *testing.T) {
	db := fixtureDB(t, 100)
	before := fileHash(t, db)
	for _, reason := range []string{"she asked", "+2348031234567", "GDPR", ""} {
		code, out, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", "--reason", reason, "+2348031234567")
		assert.Equal(t, 2, code, reason)
		assert.Empty(t, out)
		first, _, _ := strings.Cut(stderr, "\n") // then the usage text, whose example has a number
		assert.Contains(t, first, "cdradmin erase: redaction: invalid reason", reason)
		assert.NotContains(t, first, "8031234567", "the reason is not echoed")
	}
	assert.Equal(t, before, fileHash(t, db))
}
