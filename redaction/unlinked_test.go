package redaction_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A record that format v2 obfuscated while keeping its content cannot be
// linked to its number by the migration: Unlinked counts it, no erasure
// reaches it, and DiscardUnlinked (an operator's decision) discards its
// content with an audit entry; records obfuscated since are linked and
// not counted.
func TestUnlinkedV2Records(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "ops.db")
	storetest.CopyFile(t, opsFixture, dst)
	s, err := cdrstore.Open(dst, &cdrstore.Options{SubjectKey: opsKey, Now: func() time.Time { return opsNow }})
	require.NoError(t, err)
	defer s.Close()
	rd := redaction.New(s, nil)

	n, err := rd.Unlinked(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"acme": 2}, n, "obf-1 and stop-1, obfuscated by v2's auto-redaction")
	res, err := rd.EraseContactDryRun(ctx, "acme", carol)
	require.NoError(t, err)
	assert.Zero(t, res.RecordsAffected, "no erasure can name it")

	// One obfuscated under v3 is linked, and not counted.
	late := cdrstore.Record{ID: "obf-2", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: plat, To: carol, Body: "SECRET-9", StartedAt: opsNow.Add(-time.Hour)}
	require.NoError(t, s.Put(late))
	_, err = rd.AutoRedact(ctx, opsNow.Add(6*time.Hour), redaction.AutoRedactOptions{})
	require.NoError(t, err)
	n, err = rd.Unlinked(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"acme": 2}, n)

	entries := len(storetest.AuditEntries(t, s, "acme"))
	d, err := rd.DiscardUnlinked(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, 2, d.Affected)
	assert.NotNil(t, d.Receipt)
	got, err := s.Get("acme", "obf-1")
	require.NoError(t, err)
	assert.Empty(t, got.Body)
	all := storetest.AuditEntries(t, s, "acme")
	require.Len(t, all, entries+1)
	assert.Equal(t, redaction.ActionDiscardUnlinked, all[len(all)-1].Action)
	n, err = rd.Unlinked(ctx)
	require.NoError(t, err)
	assert.Empty(t, n)
	again, err := rd.DiscardUnlinked(ctx, "acme")
	require.NoError(t, err)
	assert.Zero(t, again.Affected)
	got, err = s.Get("acme", "obf-2")
	require.NoError(t, err)
	assert.Equal(t, "SECRET-9", got.Body, "linked records are the erasures' business")
	require.NoError(t, s.Check(ctx))
}
