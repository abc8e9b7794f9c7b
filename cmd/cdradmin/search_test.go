package main

import (
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --limit must be positive: 0 would mean the store's default of 1,000
// and the 'more:' cursor line would never be printed.
func TestSearchLimit(t *testing.T) {
	db := fixtureDB(t, 400)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Direction == cdrstore.Outbound && r.To.IsValid() })
	for _, limit := range []string{"0", "-1"} {
		code, out, stderr := cli(t, "", "--db", db, "search", "-w", "acme", "--number", r.To.String(), "--limit", limit)
		assert.Equal(t, 2, code, limit)
		assert.Empty(t, out, limit)
		assert.Contains(t, stderr, "cdradmin search: usage: --limit must be at least 1", limit)
	}
	// A truncated page ends with the cursor of the next one.
	code, out, stderr := cli(t, "", "--db", db, "search", "-w", "acme", "--number", r.To.String(), "--limit", "1")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 1, strings.Count(out, "\n"))
	assert.Regexp(t, `^more: --cursor \S+\n$`, stderr)
}
