package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A command other than ingest and demo, given a path with no store (a
// mistyped --db), fails with one line on stderr and creates no file.
func TestCommandsOnAMissingStoreCreateNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"erase", []string{"erase", "-w", "acme", "+2348031234567"}},
		{"sweep", []string{"sweep"}},
		{"keys add", []string{"keys", "add", "-w", "acme"}},
		{"redact", []string{"redact", "-w", "acme", "--product", "sms", "209ab3c7536542b91e8b5aef032f6861"}},
		{"autoredact", []string{"autoredact"}},
		{"drain", []string{"drain", "--log-only"}},
		{"scrub", []string{"scrub"}},
		{"compact", []string{"compact"}},
		{"policy set", []string{"policy", "set", "-w", "acme", "--retention-months", "12"}},
		{"optout add", []string{"optout", "add", "-w", "acme", "+2348031234567"}},
		{"hold add", []string{"hold", "add", "-w", "acme", "--id", "x", "--reason", "litigation"}},
		{"keys list", []string{"keys", "list"}},
		{"stats", []string{"stats"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "typo.db")
			code, out, stderr := cli(t, "", append([]string{"--db", db}, tc.args...)...)
			assert.Equal(t, 1, code, stderr)
			assert.Empty(t, out)
			verb, _, _ := strings.Cut(tc.name, " ")
			assert.Equal(t, "cdradmin "+verb+": no store at "+db+" (cdradmin ingest creates one)\n", stderr)
			assert.NoFileExists(t, db)
		})
	}
	t.Run("serve", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "typo.db")
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a serve that got as far as listening stops at once
		var out, errb strings.Builder
		code := runWithClock(ctx, []string{"--db", db, "serve", "--addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errb,
			func() time.Time { return fixedNow })
		assert.Equal(t, 1, code, errb.String())
		assert.Equal(t, "cdradmin serve: no store at "+db+" (cdradmin ingest creates one)\n", errb.String())
		assert.NoFileExists(t, db)
	})
	t.Run("ingest creates one", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "new.db")
		code, _, stderr := cli(t, strings.Join(fixtureLines(t, 3), "\n"), "--db", db, "ingest")
		require.Equal(t, 0, code, stderr)
		assert.FileExists(t, db)
	})
}
