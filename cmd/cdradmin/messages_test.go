package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrub reports the file's size before and after, both on disk.
func TestScrubReportsFileSizes(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Direction == cdrstore.Outbound && r.To.IsValid() })
	code, _, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", r.To.String())
	require.Equal(t, 0, code, stderr)
	fi, err := os.Stat(db)
	require.NoError(t, err)
	code, out, stderr := cli(t, "", "--db", db, "scrub", "--json")
	require.Equal(t, 0, code, stderr)
	var res struct {
		SizeBefore int64 `json:"size_before"`
		SizeAfter  int64 `json:"size_after"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, fi.Size(), res.SizeBefore)
	after, err := os.Stat(db)
	require.NoError(t, err)
	assert.Equal(t, after.Size(), res.SizeAfter)
}

// erase --dry-run --json says it was a dry run, as sweep's does.
func TestEraseDryRunJSONSaysSo(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Body != "" && r.Direction == cdrstore.Outbound })
	code, out, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", "--dry-run", "--json", r.To.String())
	require.Equal(t, 0, code, stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, true, got["dry_run"])
	assert.Equal(t, false, got["erased"])
	code, out, stderr = cli(t, "", "--db", db, "sweep", "--dry-run", "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"dry_run":true`)
}

// Flag values that would silently do something else are usage errors,
// refused before the store is opened.
func TestNonsenseValuesAreUsageErrors(t *testing.T) {
	db := fixtureDB(t, 100)
	before := fileHash(t, db)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--as-of", "2027-01-01T00:00:00Z"}, "--as-of 2027-01-01T00:00:00Z is in the future"},
		{[]string{"autoredact", "--as-of", "2027-01-01T00:00:00Z"}, "--as-of 2027-01-01T00:00:00Z is in the future"},
		{[]string{"sweep", "--batch", "0"}, "--batch must be at least 1"},
		{[]string{"sweep", "--batch", "-5"}, "--batch must be at least 1"},
		{[]string{"policy", "set", "-w", "acme", "--premature", "0s"}, "--premature must be more than 0"},
		{[]string{"policy", "set", "-w", "acme", "--premature", "-1h"}, "--premature must be more than 0"},
		{[]string{"policy", "set", "-w", "acme", "--retention-months", "0"}, "--retention-months must be 1 to 1200"},
		{[]string{"policy", "set", "-w", "acme", "--retention-months", "-3"}, "--retention-months must be 1 to 1200"},
	} {
		code, out, stderr := cli(t, "", append([]string{"--db", db}, tc.args...)...)
		assert.Equal(t, 2, code, tc.args)
		assert.Empty(t, out)
		first, _, _ := strings.Cut(stderr, "\n")
		assert.True(t, strings.HasPrefix(first, "cdradmin "+tc.args[0]+": usage: "+tc.want), "%v: %s", tc.args, first)
	}
	assert.Equal(t, before, fileHash(t, db))
}

// Commands refused before they write, and dry runs, leave the store's
// bytes and modification time as they were.
func TestRefusedCommandsChangeNoByte(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Direction == cdrstore.Outbound && r.To.IsValid() })
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(db, old, old))
	before := fileHash(t, db)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"erase", "-w", "nosuchws", r.To.String()}, 1},
		{[]string{"erase", "-w", "nosuchws", "--dry-run", r.To.String()}, 1},
		{[]string{"erase", "-w", "acme", "--dry-run", r.To.String()}, 0},
		{[]string{"sweep", "--dry-run"}, 0},
		{[]string{"redact", "-w", "nosuchws", "--product", "sms", r.ID}, 1},
		{[]string{"delete", "-w", "nosuchws", "--id", r.ID}, 1},
		{[]string{"hold", "remove", "-w", "acme", "id:nope"}, 1},
		{[]string{"keys", "revoke", "-w", "acme", "nokey"}, 1},
		{[]string{"policy", "set", "-w", "acme", "--auto-redact", "sms:any:content:7h"}, 1},
		{[]string{"policy", "set", "-w", "acme"}, 0}, // no change
		{[]string{"optout", "remove", "-w", "acme", r.To.String()}, 0},
	} {
		code, _, stderr := cli(t, "", append([]string{"--db", db}, tc.args...)...)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		assert.Equal(t, before, fileHash(t, db), "%v changed the file", tc.args)
		fi, err := os.Stat(db)
		require.NoError(t, err)
		assert.Equal(t, old, fi.ModTime().UTC(), "%v changed the mtime", tc.args)
	}
}

// Dry runs open the store read-only: they run beside another reader,
// and give the counts the real run then applies.
func TestDryRunsOpenReadOnly(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Body != "" && r.Direction == cdrstore.Outbound })
	reader, err := cdrstore.Open(db, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	code, dryErase, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", "--dry-run", "--json", r.To.String())
	require.Equal(t, 0, code, stderr)
	code, drySweep, stderr := cli(t, "", "--db", db, "sweep", "--dry-run", "--json")
	require.Equal(t, 0, code, stderr)
	require.NoError(t, reader.Close())

	code, out, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", "--json", r.To.String())
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, strings.Replace(strings.Replace(dryErase, `"erased":false`, `"erased":true`, 1), `,"dry_run":true`, "", 1), out)
	code, out, stderr = cli(t, "", "--db", db, "sweep", "--json")
	require.Equal(t, 0, code, stderr)
	var dry, real map[string]any
	require.NoError(t, json.Unmarshal([]byte(drySweep), &dry))
	require.NoError(t, json.Unmarshal([]byte(out), &real))
	assert.Equal(t, dry["deleted"], real["deleted"])
	assert.Positive(t, real["deleted"])
}

// audit list shows the newest entries first; --reverse the oldest first.
func TestAuditListOrder(t *testing.T) {
	db := fixtureDB(t, 100)
	for _, months := range []string{"12", "13", "14", "15"} {
		code, _, stderr := cli(t, "", "--db", db, "policy", "set", "-w", "acme", "--retention-months", months)
		require.Equal(t, 0, code, stderr)
	}
	seqs := func(args ...string) []uint64 {
		code, out, stderr := cli(t, "", append([]string{"--db", db, "audit", "list", "-w", "acme", "--json"}, args...)...)
		require.Equal(t, 0, code, stderr)
		var got []uint64
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var l control.AuditLine
			require.NoError(t, json.Unmarshal([]byte(line), &l))
			got = append(got, l.Seq)
		}
		return got
	}
	assert.Equal(t, []uint64{4, 3, 2, 1}, seqs())
	assert.Equal(t, []uint64{4, 3}, seqs("--limit", "2"))
	assert.Equal(t, []uint64{4, 3}, seqs("--after", "2"))
	assert.Equal(t, []uint64{1, 2, 3, 4}, seqs("--reverse"))
	assert.Equal(t, []uint64{2, 3}, seqs("--reverse", "--after", "1", "--limit", "2"))
	code, out, _ := cli(t, "", "audit", "--help")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "newest first")
}

// A held record's refusal says "legal hold" once.
func TestLegalHoldSaidOnce(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool {
		return r.Product == cdrstore.ProductSMS && r.Direction == cdrstore.Outbound
	})
	code, _, stderr := cli(t, "", "--db", db, "hold", "add", "-w", "acme", "--id", r.ID, "--reason", "litigation")
	require.Equal(t, 0, code, stderr)
	for _, args := range [][]string{
		{"redact", "-w", "acme", "--product", "sms", r.ID},
		{"delete", "-w", "acme", "--id", r.ID},
	} {
		code, out, stderr := cli(t, "", append([]string{"--db", db}, args...)...)
		assert.Equal(t, 1, code, stderr)
		all := out + stderr
		assert.Contains(t, all, "legal hold: litigation", args)
		assert.Equal(t, 1, strings.Count(all, "legal hold"), "%v: %s", args, all)
	}
}
