package cdrstore_test

import (
	"context"
	"errors"
	"io"
	"os"
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

// Scrub and Compact refuse a closed store, a read-only one and a context
// already done, and change no byte of the file.
func TestScrubAndCompactRefuse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Put(sms("a", t2026, ada, "hello")))
	require.NoError(t, s.Put(sms("a", t2026, ada, "hello again")))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = s.Scrub(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Compact(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	require.NoError(t, s.Close())

	_, err = s.Scrub(context.Background())
	require.ErrorIs(t, err, cdrstore.ErrClosed)
	_, err = s.Compact(context.Background())
	require.ErrorIs(t, err, cdrstore.ErrClosed)
	_, err = s.Backup(context.Background(), io.Discard)
	require.ErrorIs(t, err, cdrstore.ErrClosed)

	ro, err := cdrstore.Open(path, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	_, err = ro.Scrub(context.Background())
	require.ErrorIs(t, err, cdrstore.ErrReadOnly)
	_, err = ro.Compact(context.Background())
	require.ErrorIs(t, err, cdrstore.ErrReadOnly)
	after, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	_, err = cdrstore.Open(path, &cdrstore.Options{ScrubReaderWait: -time.Second})
	require.ErrorContains(t, err, "ScrubReaderWait")
}

// Compact replaces a temporary file a crash left behind, and leaves none;
// Backup leaves none either.
func TestCompactLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	require.NoError(t, os.WriteFile(path+".compact", []byte("half a copy"), 0o600))
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Put(sms("a", t2026, ada, "hello")))
	_, err = s.Compact(context.Background())
	require.NoError(t, err)
	_, err = s.Backup(context.Background(), io.Discard)
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "s.db", entries[0].Name())
	got, err := s.Get("acme", "a")
	require.NoError(t, err)
	assert.Equal(t, "hello", got.Body)
}
