package cdrstore_test

import (
	"context"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookalikes are workspace names an operator cannot tell from "acme" (or
// that paint the terminal): none may be created, on any path.
var lookalikes = []struct{ name, ws, reason string }{
	{"trailing newline", "acme\n", "control character U+000A"},
	{"leading space", " acme", "begins or ends with whitespace"},
	{"trailing space", "acme ", "begins or ends with whitespace"},
	{"bidi override", "acme\u202e", "format character U+202E"},
	{"zero-width space", "ac\u200bme", "format character U+200B"},
	{"ANSI escape", "\x1b[31macme", "control character U+001B"},
	{"C1 control", "acme\u009b", "control character U+009B"},
	{"no-break space", "ac\u00a0me", "not printable U+00A0"},
	{"not NFC", "cafe\u0301", "not in Unicode NFC"},
	{"empty", "", "empty"},
}

func TestNewWorkspaceNames(t *testing.T) {
	for _, ok := range []string{"acme", "Acme Corp", "café", "東京-1", "a.b_c"} {
		assert.NoError(t, cdrstore.ValidateNewWorkspace(ok), ok)
	}
	for _, tc := range lookalikes {
		t.Run(tc.name, func(t *testing.T) {
			err := cdrstore.ValidateNewWorkspace(tc.ws)
			require.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
			var ve *cdrstore.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "workspace", ve.Field)
			assert.Contains(t, ve.Reason, tc.reason)

			// Every path that creates a workspace refuses it, writing nothing.
			s := storetest.Open(t, nil)
			before := storetest.Dump(t, s)
			r := sms("m1", t2026, ada, "hello")
			r.Workspace = tc.ws
			assert.ErrorIs(t, s.Put(r), cdrstore.ErrInvalidRecord, "Put")
			assert.ErrorIs(t, s.PutBatch([]cdrstore.Record{r}), cdrstore.ErrInvalidRecord, "PutBatch")
			assert.ErrorIs(t, s.PutGrouped([]cdrstore.Record{r}), cdrstore.ErrInvalidRecord, "PutGrouped")
			_, err = s.CreateWorkspace(tc.ws)
			assert.ErrorIs(t, err, cdrstore.ErrInvalidRecord, "CreateWorkspace")
			assert.Equal(t, before, storetest.Dump(t, s))
		})
	}
}

// A workspace stored before the rule existed, under a name it refuses,
// stays usable: it is listed, read, written and deleted from like any
// other, and is not corruption.
func TestLegacyWorkspaceNamesStayUsable(t *testing.T) {
	path := oneRecordFile(t)
	legacy := []string{"acme\n", " acme", "acme\u202e", "\x1b[31macme"}
	storetest.PlantWorkspaces(t, path, legacy...)
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	names, err := s.Workspaces()
	require.NoError(t, err, "legacy names are not corruption")
	assert.Len(t, names, len(legacy)+1)
	for _, ws := range legacy {
		r := sms("m1", t2026, ada, "hello")
		r.Workspace = ws
		require.NoError(t, s.Put(r), "writing to a stored workspace")
		got, err := s.Get(ws, "m1")
		require.NoError(t, err)
		assert.Equal(t, "hello", got.Body)
		_, err = s.Delete(ws, "m1")
		require.NoError(t, err)
		require.NoError(t, s.Put(r))
	}
	require.NoError(t, s.Check(context.Background()))
	for _, ws := range legacy {
		assert.Error(t, cdrstore.ValidateNewWorkspace(ws), "the rule for new names still refuses %q", ws)
	}
}
