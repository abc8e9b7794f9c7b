package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --help prints the usage once, on stdout, and exits 0: for the program
// and for every command.
func TestHelpOnceOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, stderr := cli(t, "", args...)
		assert.Equal(t, 0, code, args)
		assert.Empty(t, stderr, args)
		assert.Equal(t, 1, strings.Count(out, "usage: cdradmin"), args)
	}
	for _, v := range verbs {
		for _, args := range [][]string{{v.name, "--help"}, {"--db", "x.db", v.name, "-h"}} {
			code, out, stderr := cli(t, "", args...)
			assert.Equal(t, 0, code, args)
			assert.Empty(t, stderr, args)
			assert.Equal(t, 1, strings.Count(out, "usage: cdradmin [--db PATH] "+v.name+" "), args)
			assert.Contains(t, out, "Example:\n  "+v.example+"\n", args)
		}
	}
	// A mistake prints the usage once too, on stderr.
	code, out, stderr := cli(t, "", "stats", "--nope")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Equal(t, 1, strings.Count(stderr, "usage: cdradmin"))
	assert.Contains(t, stderr, "flag provided but not defined: -nope")
}

// --db may come before or after the command name.
func TestDBBeforeOrAfterCommand(t *testing.T) {
	db := fixtureDB(t, 100)
	code, before, stderr := cli(t, "", "--db", db, "stats", "--json")
	require.Equal(t, 0, code, stderr)
	for _, args := range [][]string{{"stats", "--db", db, "--json"}, {"stats", "--json", "--db=" + db}} {
		code, after, stderr := cli(t, "", args...)
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, before, after)
	}
}

// fullWriter fails every write, as /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// A command whose output could not be written exits 1 and says so: drain
// hands nothing over (the outbox keeps its entries), and a report that
// was lost is not a success.
func TestOutputToAFullDeviceFails(t *testing.T) {
	db := fixtureDB(t, 400)
	voice := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.RecordingURL != "" && r.To.IsValid() })
	code, _, stderr := cli(t, "", "--db", db, "erase", "-w", "acme", voice.To.String())
	require.Equal(t, 0, code, stderr)

	full := func(args ...string) (int, string) {
		var errb strings.Builder
		code := runWithClock(t.Context(), args, strings.NewReader(""), fullWriter{}, &errb, func() time.Time { return fixedNow })
		return code, errb.String()
	}
	code, stderr = full("--db", db, "drain", "--log-only")
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "cdradmin drain: ")
	assert.Contains(t, stderr, "no space left on device")
	code, out, stderr := cli(t, "", "--db", db, "drain", "--log-only")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, voice.RecordingURL, "the failed drain kept the entries")

	for _, args := range [][]string{{"stats"}, {"audit", "verify"}, {"get", "-w", "acme", voice.ID}} {
		code, stderr = full(append([]string{"--db", db}, args...)...)
		assert.Equal(t, 1, code, args)
		assert.Equal(t, fmt.Sprintf("cdradmin %s: write output: no space left on device\n", args[0]), stderr)
	}
}

// A --db that is not a store says what it is, and changes nothing.
func TestDBThatIsNotAStore(t *testing.T) {
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "cdrs.jsonl")
	require.NoError(t, os.WriteFile(jsonFile, []byte(`{"id":"x","workspace":"acme"}`+"\n"), 0o600))
	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat("not a store\n", 1000)), 0o600))
	for _, tc := range []struct{ path, want string }{
		{dir, dir + " is a directory, not a store file"},
		{jsonFile, jsonFile + " is a JSON file, not a store (cdradmin ingest reads JSON Lines into one)"},
		{empty, empty + " is an empty file, not a store (cdradmin ingest creates one)"},
		{text, text + " is not a store (not a bbolt file)"},
	} {
		for _, args := range [][]string{{"stats"}, {"erase", "-w", "acme", "+2348031234567"}, {"scrub"}} {
			var before [32]byte
			if tc.path != dir {
				before = fileHash(t, tc.path)
			}
			code, out, stderr := cli(t, "", append([]string{"--db", tc.path}, args...)...)
			assert.Equal(t, 1, code, args)
			assert.Empty(t, out)
			assert.Equal(t, "cdradmin "+args[0]+": "+tc.want+"\n", stderr)
			if tc.path != dir {
				assert.Equal(t, before, fileHash(t, tc.path), "unchanged")
			}
		}
	}
}
