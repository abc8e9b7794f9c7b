package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A line over the 8 MiB limit is rejected by number, like any bad line;
// the lines before it (in its batch) and after it are stored.
func TestIngestRejectsAnOverlongLineAndGoesOn(t *testing.T) {
	good := fixtureLines(t, 6)
	long := `{"id":"` + strings.Repeat("x", 9<<20) + `"}`
	lines := append(append(append([]string{}, good[:3]...), long), good[3:]...)
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	code, out, stderr := cli(t, strings.Join(lines, "\n")+"\n", "--db", db, "ingest", "--json")
	assert.Equal(t, 1, code, "the exit status says a line was rejected")
	var res control.IngestResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, control.IngestResult{Read: 7, Stored: 6, Rejected: 1}, res)
	assert.Contains(t, stderr, "line 4: longer than 8 MiB\n")
	assert.Less(t, len(stderr), 1000, "the line itself is not echoed")

	assert.Equal(t, 6, storedRecords(t, db))

	// The last line may lack its newline, and CRLF line ends are accepted.
	db2 := filepath.Join(t.TempDir(), "crlf.db")
	code, out, stderr = cli(t, strings.Join(good[:2], "\r\n"), "--db", db2, "ingest")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "read 2 lines: 2 stored, 0 rejected\n", out)
}
