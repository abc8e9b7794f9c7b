package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo builds its store in a temporary directory and removes it,
// unless --keep; a --db the user gives is used, kept, and never
// overwritten, even when it names the default file.
func TestDemoKeepsTheUsersDB(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("CDRVAULT_DB", "")

	code, out, stderr := cli(t, "", "demo", "--records", "1000")
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, out, "kept ")
	assert.NoFileExists(t, filepath.Join(dir, "cdrvault.db"))

	code, out, stderr = cli(t, "", "--db", "cdrvault.db", "demo", "--records", "1000")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "kept       cdrvault.db")
	require.FileExists(t, filepath.Join(dir, "cdrvault.db"))

	before := fileHash(t, filepath.Join(dir, "cdrvault.db"))
	code, _, stderr = cli(t, "", "--db", "cdrvault.db", "demo", "--records", "1000")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "cdrvault.db exists")
	assert.Equal(t, before, fileHash(t, filepath.Join(dir, "cdrvault.db")), "an existing store is never touched")

	code, out, stderr = cli(t, "", "demo", "--records", "1000", "--keep")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `kept       (\S+demo\.db)`, out)
	kept := regexp.MustCompile(`kept       (\S+demo\.db)`).FindStringSubmatch(out)[1]
	assert.FileExists(t, kept)
	require.NoError(t, os.RemoveAll(filepath.Dir(kept)))
}
