package cdrstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// When syncing the directory fails after the compacted copy was renamed
// over the store, Compact reports the error but the store still moves to the
// file at its path: a write acknowledged afterwards is there after Close
// and reopen, not lost with the unlinked old file.
func TestCompactDirSyncFailureKeepsLaterWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Put(sms("before", t2026, ada, "hello")))

	errSync := errors.New("injected directory sync failure")
	cdrstore.SetSyncDir(t, func(string) error { return errSync })
	_, err = s.Compact(context.Background())
	require.ErrorIs(t, err, errSync)
	at, err := s.ScrubbedAt()
	require.NoError(t, err)
	assert.True(t, at.IsZero(), "a compaction that failed is not recorded as done")

	require.NoError(t, s.Put(sms("after", t2026.Add(time.Minute), bob, "still here")))
	require.NoError(t, s.Close())

	s, err = cdrstore.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	for _, id := range []string{"before", "after"} {
		got, err := s.Get("acme", id)
		require.NoError(t, err, id)
		assert.Equal(t, id, got.ID)
	}
	require.NoError(t, s.Check(context.Background()))
}
