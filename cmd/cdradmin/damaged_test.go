package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On a store with a damaged page (check: "corrupt (pages)"), every
// command fails with one line naming the corruption, exit 1: no Go stack
// trace, no hang, no file left behind (a backup's output, scrub's copy),
// and the store's bytes and modification time as they were.
func TestDamagedStoreFailsCleanly(t *testing.T) {
	src := fixtureDB(t, 400)
	storetest.DamagePage(t, src, "ws")
	lines := fixtureLines(t, 1)
	for _, args := range [][]string{
		{"backup", "--to", "BACKUP"},
		{"scrub"},
		{"check"},
		{"stats"},
		{"get", "-w", "acme", "x"},
		{"search", "-w", "acme", "--number", "+2348031234567"},
		{"export", "-w", "acme", "--number", "+2348031234567"},
		{"erase", "-w", "acme", "+2348031234567"},
		{"erase", "-w", "acme", "--dry-run", "+2348031234567"},
		{"redact", "-w", "acme", "--product", "sms", "209ab3c7536542b91e8b5aef032f6861"},
		{"sweep"},
		{"autoredact"},
		{"drain", "--log-only"},
		{"audit", "verify"},
		{"audit", "list", "-w", "acme"},
		{"hold", "list", "-w", "acme"},
		{"keys", "list"},
		{"policy", "show", "-w", "acme"},
		{"ingest"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "cdrvault.db")
			storetest.CopyFile(t, src, db)
			old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			require.NoError(t, os.Chtimes(db, old, old))
			before := fileHash(t, db)
			backup := filepath.Join(dir, "backup.db")
			for i, a := range args {
				if a == "BACKUP" {
					args[i] = backup
				}
			}
			code, _, stderr := cli(t, strings.Join(lines, "\n"), append([]string{"--db", db}, args...)...)
			assert.Equal(t, 1, code, stderr)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)
			assert.Contains(t, stderr, "cdradmin "+args[0]+": ")
			assert.Contains(t, stderr, "corrupt (pages)")
			assert.NotContains(t, stderr, "goroutine")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no file left beside the store")
			assert.Equal(t, before, fileHash(t, db), "the store's bytes are unchanged")
			fi, err := os.Stat(db)
			require.NoError(t, err)
			assert.Equal(t, old, fi.ModTime().UTC(), "the store's mtime is unchanged")
		})
	}
}
