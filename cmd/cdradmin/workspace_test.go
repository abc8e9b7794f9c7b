package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every command given a mistyped workspace fails naming it, and the file
// keeps every byte: a hold placed in "acmee" would protect nothing in
// "acme", and a later erasure would go ahead.
func TestNoWorkspaceByTypo(t *testing.T) {
	db := fixtureDB(t, 50)
	before := fileHash(t, db)
	for _, args := range [][]string{
		{"hold", "add", "-w", "acmee", "--id", "x1", "--reason", "litigation"},
		{"hold", "add", "-w", "acmee", "--number", "+2348031234567", "--reason", "litigation"},
		{"hold", "remove", "-w", "acmee", "id:x1"},
		{"hold", "list", "-w", "acmee"},
		{"optout", "add", "-w", "acmee", "+2348031234567"},
		{"optout", "remove", "-w", "acmee", "+2348031234567"},
		{"optout", "check", "-w", "acmee", "+2348031234567"},
		{"policy", "set", "-w", "acmee", "--retention-months", "6"},
		{"policy", "show", "-w", "acmee"},
		{"keys", "add", "-w", "acmee"},
		{"search", "-w", "acmee", "--number", "+2348031234567"},
		{"export", "-w", "acmee", "--number", "+2348031234567"},
		{"erase", "-w", "acmee", "+2348031234567"},
		{"workspace", "show", "acmee"},
	} {
		t.Run(strings.Join(args[:2], "_"), func(t *testing.T) {
			code, out, stderr := cli(t, "", append([]string{"--db", db}, args...)...)
			assert.Equal(t, 1, code, stderr)
			assert.Contains(t, stderr, `workspace "acmee" does not exist`)
			assert.Empty(t, out)
		})
	}
	assert.Equal(t, before, fileHash(t, db), "a refused command wrote to the file")

	code, out, stderr := cli(t, "", "--db", db, "workspace", "list", "--json")
	require.Equal(t, 0, code, stderr)
	var list []control.WorkspaceStats
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 2)
	assert.Equal(t, "acme", list[0].Workspace)
	assert.Positive(t, list[0].Records)
}

func TestWorkspaceCreateListShow(t *testing.T) {
	db := fixtureDB(t, 10)
	code, out, stderr := cli(t, "", "--db", db, "workspace", "create", "initech")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "created workspace initech\n", out)
	code, out, _ = cli(t, "", "--db", db, "workspace", "create", "initech")
	require.Equal(t, 0, code)
	assert.Equal(t, "workspace initech exists already\n", out)

	code, out, _ = cli(t, "", "--db", db, "workspace", "list")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "initech\t0 records\n")
	code, out, _ = cli(t, "", "--db", db, "workspace", "show", "initech")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "workspace initech\n  records   0\n")

	// Configuring it works now; a hold ahead of ingest warns.
	code, _, stderr = cli(t, "", "--db", db, "hold", "add", "-w", "initech", "--id", "late-1", "--reason", "litigation")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, `warning: no record "late-1" in workspace initech yet`)
	code, _, stderr = cli(t, "", "--db", db, "policy", "set", "-w", "initech", "--retention-months", "6")
	require.Equal(t, 0, code, stderr)

	// Releasing a hold that is not there is an operator's typo.
	before := fileHash(t, db)
	code, _, stderr = cli(t, "", "--db", db, "hold", "remove", "-w", "initech", "id:late-2")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `no hold "id:late-2" in workspace initech`)
	assert.Equal(t, before, fileHash(t, db))
	code, _, stderr = cli(t, "", "--db", db, "hold", "remove", "-w", "initech", "id:late-1")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
}

// workspace create makes the store when there is none, like ingest.
func TestWorkspaceCreateMakesTheStore(t *testing.T) {
	db := t.TempDir() + "/new.db"
	code, _, stderr := cli(t, "", "--db", db, "workspace", "create", "acme", "--json")
	require.Equal(t, 0, code, stderr)
	code, out, _ := cli(t, "", "--db", db, "workspace", "list")
	require.Equal(t, 0, code)
	assert.Equal(t, "acme\t0 records\n", out)
}
