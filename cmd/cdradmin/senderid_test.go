package main

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Real SMS traffic: the platform's side is an alphanumeric sender ID or a
// short code. Every line is stored, shown as given by get, search and
// export (JSON and CSV), and erasing the counterparty reaches them all.
func TestIngestSenderIDsAndShortCodes(t *testing.T) {
	lines := []string{
		`{"id":"mt-1","workspace":"acme","product":"sms","direction":"outbound","from":"ACME","to":"+33612345678","body":"Your code is 1234","started_at":"2026-10-01T10:00:00Z"}`,
		`{"id":"mt-2","workspace":"acme","product":"sms","direction":"outbound","from":"32665","to":"+33612345678","body":"Reply STOP to end","started_at":"2026-10-01T10:01:00Z"}`,
		`{"id":"mo-1","workspace":"acme","product":"sms","direction":"inbound","from":"+33612345678","to":"32665","body":"STOP","started_at":"2026-10-01T10:02:00Z"}`,
		`{"id":"mt-3","workspace":"acme","product":"sms","direction":"outbound","from":"Bank Alert","to":"+33612345678","body":"SECRET-1","started_at":"2026-10-01T10:03:00Z"}`,
	}
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	code, out, stderr := cli(t, strings.Join(lines, "\n"), "--db", db, "ingest")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "read 4 lines: 4 stored, 0 rejected\n", out)

	code, out, stderr = cli(t, "", "--db", db, "get", "-w", "acme", "mt-1")
	require.Equal(t, 0, code, stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "ACME", got["from"])

	code, out, stderr = cli(t, "", "--db", db, "search", "-w", "acme", "--number", "+33612345678")
	require.Equal(t, 0, code, stderr)
	var froms, tos []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		froms, tos = append(froms, r["from"].(string)), append(tos, r["to"].(string))
	}
	assert.Equal(t, []string{"ACME", "32665", "+33612345678", "Bank Alert"}, froms)
	assert.Equal(t, []string{"+33612345678", "+33612345678", "32665", "+33612345678"}, tos)

	code, out, stderr = cli(t, "", "--db", db, "export", "-w", "acme", "--number", "+33612345678", "--format", "csv")
	require.Equal(t, 0, code, stderr)
	cr := csv.NewReader(strings.NewReader(out))
	cr.FieldsPerRecord = -1 // the first row is the export's header
	rows, err := cr.ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 6)
	assert.Equal(t, []string{"mt-1", "sms", "outbound", "ACME", "+33612345678"}, rows[2][:5])
	assert.Equal(t, []string{"mo-1", "sms", "inbound", "+33612345678", "32665"}, rows[4][:5])

	// A sender ID is not a number: it is neither searched nor erased.
	code, _, stderr = cli(t, "", "--db", db, "search", "-w", "acme", "--number", "ACME")
	assert.Equal(t, 2, code, stderr)

	code, out, stderr = cli(t, "", "--db", db, "erase", "-w", "acme", "--json", "+33612345678")
	require.Equal(t, 0, code, stderr)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, float64(4), res["records_affected"])
	code, out, _ = cli(t, "", "--db", db, "get", "-w", "acme", "mt-3")
	require.Equal(t, 0, code)
	assert.Contains(t, out, `"body":"[REDACTED]"`)
	assert.Contains(t, out, `"from":"Bank Alert"`)
}

// A counterparty that is not a number is refused by line, its input
// masked, never shown as "".
func TestIngestRefusesAnAliasAsCounterparty(t *testing.T) {
	lines := []string{
		`{"id":"mt-1","workspace":"acme","product":"sms","direction":"outbound","from":"+14155552671","to":"ACME","started_at":"2026-10-01T10:00:00Z"}`,
		`{"id":"mt-2","workspace":"acme","product":"sms","direction":"outbound","from":"ACME","to":"+33612345678","started_at":"2026-10-01T10:00:00Z"}`,
	}
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	code, out, stderr := cli(t, strings.Join(lines, "\n"), "--db", db, "ingest")
	assert.Equal(t, 1, code)
	assert.Equal(t, "read 2 lines: 1 stored, 1 rejected\n", out)
	assert.Contains(t, stderr, `line 1: to: e164: invalid number "****"`)
	assert.NotContains(t, stderr, `""`)
}
