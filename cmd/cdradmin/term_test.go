package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShow(t *testing.T) {
	for in, want := range map[string]string{
		"acme":         "acme",
		"Acme Corp":    "Acme Corp",
		"café":         "café",
		"acme\n":       `"acme\n"`,
		" acme":        `" acme"`,
		"acme\u202e":   `"acme\u202e"`,
		"\x1b[31macme": `"\x1b[31macme"`,
		"":             "",
	} {
		assert.Equal(t, want, show(in), "%q", in)
	}
}

// The stream guard escapes what would act on a terminal, and leaves JSON
// valid and equal.
func TestTermWriter(t *testing.T) {
	var b bytes.Buffer
	w := newTermWriter(&b)
	v := map[string]string{"ws": "acme\u202e\u009b\x1b[2J\U000e0041", "ok": "café 東京"}
	require.NoError(t, encodeJSON(w, v))
	out := b.String()
	for _, bad := range []string{"\u202e", "\u009b", "\x1b", "\U000e0041"} {
		assert.NotContains(t, out, bad)
	}
	assert.Contains(t, out, "café 東京")
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, v, got)

	// A rune split between writes is written whole, once.
	b.Reset()
	raw := []byte("x\u202ey é")
	for i := range raw {
		_, err := w.Write(raw[i : i+1])
		require.NoError(t, err)
	}
	assert.Equal(t, `x\u202ey é`, b.String())
}

// Workspaces stored under names the rule now refuses stay usable, and
// every command that prints one escapes it; check lists them.
func TestLegacyWorkspaceNamesAreEscaped(t *testing.T) {
	db := fixtureDB(t, 20)
	legacy := []string{"acme\n", " acme", "acme\u202e", "\x1b[2Jacme"}
	storetest.PlantWorkspaces(t, db, legacy...)
	s, err := cdrstore.Open(db, nil)
	require.NoError(t, err)
	r := firstRecordIn(t, s, "acme")
	number := redaction.Counterparty(&r).String()
	for _, ws := range legacy {
		r.Workspace = ws
		require.NoError(t, s.Put(r))
	}
	require.NoError(t, s.Close())

	for _, args := range [][]string{{"stats"}, {"workspace", "list"}, {"check"}, {"audit", "verify"}, {"stats", "--json"}, {"check", "--json"}} {
		code, out, stderr := cli(t, "", append([]string{"--db", db}, args...)...)
		require.Contains(t, []int{0, 1}, code, stderr)
		for _, bad := range []string{"acme\n", "\u202e", "\x1b"} {
			assert.NotContains(t, out+stderr, bad, "%v", args)
		}
	}
	code, out, _ := cli(t, "", "--db", db, "check")
	assert.Equal(t, 0, code, out)
	for _, ws := range legacy {
		assert.Contains(t, out, show(ws))
	}
	assert.Contains(t, out, "integrity: ok")

	// They are erasable and sweepable like any other.
	for _, ws := range legacy {
		code, out, stderr := cli(t, "", "--db", db, "erase", "-w", ws, "--json", number)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, out, `"records_affected":1`, "%q", ws)
	}
	code, _, stderr := cli(t, "", "--db", db, "sweep") // as of now: the first record is past 13 months
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 0, countIn(t, db, legacy[0]))
}

func firstRecordIn(t *testing.T, s *cdrstore.Store, ws string) cdrstore.Record {
	t.Helper()
	var found cdrstore.Record
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for r, err := range tx.ByTime(ws, cdrstore.Query{Limit: 1}) {
			found = r
			return err
		}
		return nil
	}))
	require.NotEmpty(t, found.ID)
	return found
}

func countIn(t *testing.T, db, ws string) int {
	t.Helper()
	s, err := cdrstore.Open(db, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	var n int
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		n, err = tx.Count(ws)
		return err
	}))
	return n
}
