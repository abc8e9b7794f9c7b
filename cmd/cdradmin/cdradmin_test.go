package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedNow is the clock of the commands under test.
var fixedNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// cli runs cdradmin in-process and returns its exit status and output.
func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runWithClock(context.Background(), args, strings.NewReader(stdin), &out, &errb, func() time.Time { return fixedNow })
	return code, out.String(), errb.String()
}

// fixtureLines returns n JSON Lines of generated records.
func fixtureLines(t *testing.T, n int) []string {
	t.Helper()
	var lines []string
	for _, r := range workload.New(workload.Config{Seed: 42, N: n, Workspaces: []string{"acme", "globex"}, RecordsPerContact: 20}).All() {
		b, err := json.Marshal(cdrjson.Encode(&r))
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	return lines
}

// fixtureDB ingests n generated records into a new store and returns its path.
func fixtureDB(t *testing.T, n int) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	code, _, stderr := cli(t, strings.Join(fixtureLines(t, n), "\n"), "--db", db, "ingest", "-")
	require.Equal(t, 0, code, stderr)
	return db
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/cdradmin -update")
	assert.Equal(t, string(want), got)
}

func fileHash(t *testing.T, path string) [32]byte {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(raw)
}

// storedRecords counts the records of every workspace of the store at db.
func storedRecords(t *testing.T, db string) int {
	t.Helper()
	s, err := cdrstore.Open(db, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	total := 0
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			c, err := tx.Count(ws)
			if err != nil {
				return err
			}
			total += c
		}
		return nil
	}))
	return total
}

func firstRecord(t *testing.T, db, ws string, match func(cdrstore.Record) bool) cdrstore.Record {
	t.Helper()
	s, err := cdrstore.Open(db, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	var found cdrstore.Record
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for r, err := range tx.ByTime(ws, cdrstore.Query{Limit: 1 << 30}) {
			if err != nil {
				return err
			}
			if match(r) {
				found = r
				return nil
			}
		}
		return nil
	}))
	require.NotEmpty(t, found.ID)
	return found
}

// Read-only commands print the same output every time and leave the
// file's bytes unchanged.
func TestReadOnlyCommandsGolden(t *testing.T) {
	db := fixtureDB(t, 400)
	sms := firstRecord(t, db, "acme", func(r cdrstore.Record) bool {
		return r.Product == cdrstore.ProductSMS && r.Direction == cdrstore.Outbound
	})
	before := fileHash(t, db)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"get", []string{"get", "-w", "acme", sms.ID}},
		{"search_number", []string{"search", "-w", "acme", "--number", sms.To.String(), "--limit", "3"}},
		{"search_time", []string{"search", "-w", "globex", "--since", "2025-08-01T00:00:00Z", "--until", "2025-08-03T00:00:00Z"}},
		{"export_csv", []string{"export", "-w", "acme", "--number", sms.To.String(), "--format", "csv"}},
		{"stats", []string{"stats"}},
		{"policy_show", []string{"policy", "show", "-w", "acme"}},
		{"audit_verify", []string{"audit", "verify"}},
		{"check", []string{"check"}},
		{"optout_check", []string{"optout", "check", "-w", "acme", sms.To.String()}},
		{"hold_list", []string{"hold", "list", "-w", "acme"}},
		{"keys_list", []string{"keys", "list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := cli(t, "", append([]string{"--db", db}, tc.args...)...)
			require.Equal(t, 0, code, stderr)
			out = strings.ReplaceAll(out, db, "DB")
			golden(t, tc.name, out)
		})
	}
	assert.Equal(t, before, fileHash(t, db), "read-only commands changed the file")
}

func TestIngestNamesBadLinesAndKeepsGoodOnes(t *testing.T) {
	lines := fixtureLines(t, 100_000)
	bad := map[int]string{}
	for i := 17; i < len(lines); i += 997 {
		switch i % 4 {
		case 0:
			lines[i] = strings.Replace(lines[i], `"status"`, `"statuss"`, 1)
			bad[i+1] = "statuss: unknown field"
		case 1:
			lines[i] = regexp.MustCompile(`"to":"\+[0-9]+"`).ReplaceAllString(lines[i], `"to":"+12"`)
			bad[i+1] = "to: e164: invalid number"
		case 2:
			lines[i] = regexp.MustCompile(`"started_at":"[^"]+"`).ReplaceAllString(lines[i], `"started_at":"last tuesday"`)
			bad[i+1] = "started_at: not an RFC 3339 time"
		case 3:
			lines[i] = regexp.MustCompile(`"id":"[^"]+",`).ReplaceAllString(lines[i], ``)
			bad[i+1] = "id: missing"
		}
	}
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	code, out, stderr := cli(t, strings.Join(lines, "\n"), "--db", db, "ingest", "--json")
	assert.Equal(t, 1, code, "the exit status says lines were rejected")
	var res control.IngestResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	// Lines past a per-record override or with media already expired are
	// stored redacted, as an auto-redaction run would have left them.
	assert.Positive(t, res.Redacted)
	res.Redacted = 0
	assert.Equal(t, control.IngestResult{Read: 100_000, Stored: 100_000 - len(bad), Rejected: len(bad)}, res)
	for n, reason := range bad {
		assert.Contains(t, stderr, fmt.Sprintf("line %d: %s", n, reason))
	}
	assert.NotRegexp(t, `\+\d{6,}`, stderr, "no number in the report")

	s, err := cdrstore.Open(db, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	n := 0
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			c, err := tx.Count(ws)
			n += c
			if err != nil {
				return err
			}
		}
		return nil
	}))
	assert.Equal(t, res.Stored, n, "exactly the good lines are stored")
	require.NoError(t, s.Check(context.Background()))
	require.NoError(t, s.Close())

	// --strict stops at the first bad line with nothing of its batch written.
	db2 := filepath.Join(t.TempDir(), "strict.db")
	code, _, stderr = cli(t, strings.Join(lines[:1000], "\n"), "--db", db2, "ingest", "--strict", "--batch", "10")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 18:")
	assert.Equal(t, 10, storedRecords(t, db2), "the first batch of 10 is stored, the batch of the bad line is not")
}

func TestEraseJSONAndDryRun(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Body != "" && r.Direction == cdrstore.Outbound })
	n := r.To.String()
	code, out, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", "--dry-run", "--json", n)
	require.Equal(t, 0, code, stderr)
	var dry map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &dry))
	affected := dry["records_affected"].(float64)
	assert.Positive(t, affected)

	code, out, stderr = cli(t, "", "--db", db, "erase", "-w", "acme", "--reason", "ndpr_right_to_erasure", "--json", n)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, fmt.Sprintf(`{"erased":true,"e164":"%s","records_affected":%d}`+"\n", n, int(affected)), out)
	code, out, _ = cli(t, "", "--db", db, "erase", "-w", "acme", "--json", n)
	require.Equal(t, 0, code)
	assert.Equal(t, fmt.Sprintf(`{"erased":true,"e164":"%s","records_affected":0}`+"\n", n), out)

	code, _, stderr = cli(t, "", "--db", db, "erase", "-w", "acme", "+12")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "cdradmin erase: e164: invalid number")
}

func TestRedactReportsPerID(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool {
		return r.Product == cdrstore.ProductSMS && r.Direction == cdrstore.Outbound
	})
	ids := filepath.Join(t.TempDir(), "ids.txt")
	require.NoError(t, os.WriteFile(ids, []byte(r.ID+"\n# a comment\nnot-an-id\n"), 0o600))
	code, out, _ := cli(t, "", "--db", db, "redact", "-w", "acme", "--product", "SMS", "--ids-from", ids)
	assert.Equal(t, 1, code, "one ID was not found")
	assert.Equal(t, r.ID+"\tredacted\nnot-an-id\tnot_found\tredaction: ID \"not-an-id\" could not be found (type=MT)\n", out)
	code, out, _ = cli(t, "", "--db", db, "redact", "-w", "acme", "--product", "sms", r.ID)
	assert.Equal(t, 0, code)
	assert.Equal(t, r.ID+"\tunchanged\n", out)
	code, _, stderr := cli(t, "", "--db", db, "redact", "-w", "acme", "--product", "sms2", r.ID)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `no product corresponding to supplied string "sms2"`)
}

func TestPolicyHoldOptoutSweepScrubBackup(t *testing.T) {
	db := fixtureDB(t, 600)
	code, out, stderr := cli(t, "", "--db", db, "policy", "set", "-w", "acme", "--retention", "voice=24", "--auto-redact", "sms:any:content,address:6h")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "settings of acme changed (audit seq 2)", "after ingest's entry for the records it stored redacted")
	code, _, stderr = cli(t, "", "--db", db, "policy", "set", "-w", "acme", "--auto-redact", "sms:any:content:7h")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "hold must be 0 to 6h")

	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Direction == cdrstore.Outbound && r.To.IsValid() })
	code, out, _ = cli(t, "", "--db", db, "optout", "add", "-w", "acme", r.To.String())
	require.Equal(t, 0, code)
	assert.Contains(t, out, "is opted out of acme since 2026-11-01")
	assert.NotContains(t, out, r.To.String())
	code, out, _ = cli(t, "", "--db", db, "hold", "add", "-w", "acme", "--id", r.ID, "--reason", "litigation")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "id:"+r.ID)

	code, out, _ = cli(t, "", "--db", db, "sweep", "--dry-run", "--as-of", "2026-11-01T00:00:00Z")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "would delete")
	code, out, _ = cli(t, "", "--db", db, "autoredact", "--as-of", "2026-11-01T00:00:00Z")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "auto-redacted")
	code, out, _ = cli(t, "", "--db", db, "sweep", "--as-of", "2026-11-01T00:00:00Z")
	require.Equal(t, 0, code)
	assert.Regexp(t, `deleted \d+ expired records`, out)

	code, out, _ = cli(t, "", "--db", db, "check")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "integrity: ok")
	assert.Contains(t, out, "HMAC key")
	assert.Contains(t, out, "run cdradmin scrub")
	assert.Contains(t, out, "voice records are kept 24 months")

	code, out, stderr = cli(t, "", "--db", db, "scrub")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `^scrubbed \S+: \d+ free pages, \d+ zeroed \(\d+ bytes\), \d+ already zero, 0 left pinned \(0 bytes\); longest writer hold \S+; \d+ -> \d+ bytes\n$`, out)
	var before, after int64
	_, err := fmt.Sscanf(out[strings.LastIndex(out, "; ")+2:], "%d -> %d bytes", &before, &after)
	require.NoError(t, err)
	assert.Equal(t, before, after, "a scrub does not change the file's size")
	code, out, _ = cli(t, "", "--db", db, "check")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "run cdradmin scrub")
	code, out, stderr = cli(t, "", "--db", db, "scrub", "--json")
	require.Equal(t, 0, code, stderr)
	var sr map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &sr))
	for _, k := range []string{"size_before", "size_after", "free_pages", "pages_zeroed", "bytes_zeroed", "pages_clean", "pages_pinned", "bytes_pinned", "pages_reused", "chunks", "longest_hold_ns"} {
		assert.Contains(t, sr, k)
	}
	code, out, stderr = cli(t, "", "--db", db, "compact")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `^compacted \S+: \d+ free pages dropped, \d+ -> \d+ bytes\n$`, out)
	code, out, stderr = cli(t, "", "--db", db, "compact", "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"size_after":`)
	assert.NoFileExists(t, db+".compact")

	dst := filepath.Join(t.TempDir(), "backup.db")
	code, _, stderr = cli(t, "", "--db", db, "backup", "--to", dst)
	require.Equal(t, 0, code, stderr)
	code, _, _ = cli(t, "", "--db", dst, "audit", "verify")
	assert.Equal(t, 0, code)
	code, _, stderr = cli(t, "", "--db", db, "backup", "--to", dst)
	assert.Equal(t, 1, code, "never overwrites")
	assert.Contains(t, stderr, "exists")
}

func TestHelpAndUsage(t *testing.T) {
	for _, v := range verbs {
		code, out, _ := cli(t, "", v.name, "--help")
		assert.Equal(t, 0, code, v.name)
		assert.Contains(t, out, "usage: cdradmin [--db PATH] "+v.name, v.name)
		assert.Contains(t, out, "Example:\n  cdradmin ", v.name)
	}
	code, _, stderr := cli(t, "", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "frobnicate"`)
	code, _, _ = cli(t, "")
	assert.Equal(t, 2, code)
	code, _, stderr = cli(t, "", "get", "-w", "acme")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "cdradmin get: usage: need -w WS and one ID")
	code, _, stderr = cli(t, "", "--db", filepath.Join(t.TempDir(), "none.db"), "stats")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no store at")

	// The usage line says what validate requires.
	code, out, _ := cli(t, "", "audit", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: cdradmin [--db PATH] audit verify [-w WS] | list -w WS [--after SEQ] [--limit N] [--reverse]\n")
	code, _, stderr = cli(t, "", "audit", "list")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "list needs -w WS")
}

// An inspection command fails fast, with a message that names the cause
// (another process holds the store, and which one where the system says),
// when another process holds the store.
func TestInspectionFailsFastWhenLocked(t *testing.T) {
	db := fixtureDB(t, 100)
	s, err := cdrstore.Open(db, nil)
	require.NoError(t, err)
	defer s.Close()
	start := time.Now()
	code, _, stderr := cli(t, "", "--db", db, "stats")
	assert.Equal(t, 1, code)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, stderr, db+" is held by another process")
	assert.NotContains(t, stderr, "serve")
	assert.Contains(t, stderr, fmt.Sprintf("(pid %d: ", os.Getpid()))
}

func TestDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	code, out, stderr := cli(t, "", "--db", db, "demo", "--records", "5000")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"store ", "access ", "redact ", "(type=MO)", "you must wait", `{"erased":true`, "autoredact ", "sweep ", "scrub ", "erased recording URLs left in the file: 0", "audit "} {
		assert.Contains(t, out, want)
	}
	assert.NotRegexp(t, `\+\d{7,}`, out, "the demo prints no plaintext number")
	code, _, _ = cli(t, "", "--db", db, "check")
	assert.Equal(t, 0, code)
}

// keys revoke, backup and drain print JSON with --json, like every
// other command.
func TestJSONOfRevokeBackupDrain(t *testing.T) {
	db := fixtureDB(t, 400)
	code, out, stderr := cli(t, "", "--db", db, "keys", "add", "-w", "acme", "--json")
	require.Equal(t, 0, code, stderr)
	var k struct{ Key string }
	require.NoError(t, json.Unmarshal([]byte(out), &k))
	code, out, stderr = cli(t, "", "--db", db, "keys", "revoke", "-w", "acme", "--json", k.Key)
	require.Equal(t, 0, code, stderr)
	assert.JSONEq(t, fmt.Sprintf(`{"key":%q,"workspace":"acme","revoked":true}`, k.Key), out)

	dst := filepath.Join(t.TempDir(), "backup.db")
	code, out, stderr = cli(t, "", "--db", db, "backup", "--to", dst, "--json")
	require.Equal(t, 0, code, stderr)
	var b map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &b), out)
	assert.Equal(t, dst, b["to"])
	assert.Positive(t, b["bytes"])

	voice := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.RecordingURL != "" && r.To.IsValid() })
	code, _, stderr = cli(t, "", "--db", db, "erase", "-w", "acme", voice.To.String())
	require.Equal(t, 0, code, stderr)
	code, out, stderr = cli(t, "", "--db", db, "drain", "--log-only", "--json")
	require.Equal(t, 0, code, stderr)
	var urls []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var u struct{ URL string }
		require.NoError(t, json.Unmarshal([]byte(line), &u), line)
		urls = append(urls, u.URL)
	}
	assert.Contains(t, urls, voice.RecordingURL)
	var sum map[string]any
	require.NoError(t, json.Unmarshal([]byte(stderr), &sum), stderr)
	assert.Equal(t, map[string]any{"deleted": float64(len(urls)), "failed": float64(0), "pending": float64(0)}, sum)
}
