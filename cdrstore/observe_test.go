package cdrstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// events collects what a store reports to Options.Observer.
type events struct {
	mu  sync.Mutex
	evs []cdrstore.Event
}

func (e *events) observe(ev cdrstore.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *events) kinds() map[cdrstore.EventKind]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[cdrstore.EventKind]int{}
	for _, ev := range e.evs {
		m[ev.Kind]++
	}
	return m
}

// steppingClock advances by step at every call.
func steppingClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := t2026
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

func TestCountsKeptByCommits(t *testing.T) {
	var ev events
	path := filepath.Join(t.TempDir(), "s.db")
	opts := &cdrstore.Options{NoSync: true, Observer: ev.observe, Now: steppingClock(time.Millisecond)}
	s, err := cdrstore.Open(path, opts)
	require.NoError(t, err)

	counts := func() map[string]cdrstore.WorkspaceCounts {
		m, ok := s.Counts()
		require.True(t, ok)
		return m
	}
	assert.Empty(t, counts())
	require.NoError(t, s.PutBatch([]cdrstore.Record{sms("a1", t2026, ada, "hi"), sms("a2", t2026, bob, "yo")}))
	require.NoError(t, s.Put(sms("a1", t2026, ada, "hi again"))) // a replace
	_, err = s.CreateWorkspace("empty")
	require.NoError(t, err)
	assert.Equal(t, map[string]cdrstore.WorkspaceCounts{"acme": {Records: 2}, "empty": {}}, counts())

	// Outbox items are counted as they are queued and removed.
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket("acme", cdrstore.BucketOutbox)
		require.NoError(t, err)
		require.NoError(t, kv.Put([]byte{1}, []byte("x")))
		require.NoError(t, kv.Put([]byte{1}, []byte("y"))) // the same item
		return kv.Put([]byte{2}, []byte("z"))
	}))
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket("acme", cdrstore.BucketOutbox)
		require.NoError(t, err)
		require.NoError(t, kv.Delete([]byte{9})) // absent
		return kv.Delete([]byte{1})
	}))
	// A rolled-back transaction changes no count.
	require.Error(t, s.Update(func(tx *cdrstore.Tx) error {
		require.NoError(t, tx.Put(sms("a3", t2026, ada, "x")))
		return cdrstore.ErrNotFound
	}))
	_, err = s.Delete("acme", "a2")
	require.NoError(t, err)
	require.NoError(t, s.PutGrouped([]cdrstore.Record{sms("a4", t2026, ada, "x")}))
	// The audit head follows the entries appended.
	for range 2 {
		require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
			_, err := tx.AppendAudit("acme", audit.Entry{Action: "test", Time: t2026})
			return err
		}))
	}
	want := map[string]cdrstore.WorkspaceCounts{"acme": {Records: 2, Outbox: 1, AuditSeq: 2}, "empty": {}}
	assert.Equal(t, want, counts())

	// Reopened, the store counts the same from the file.
	require.NoError(t, s.Close())
	s, err = cdrstore.Open(path, opts)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, want, counts())

	k := ev.kinds()
	assert.Equal(t, 3, k[cdrstore.EventIngest]) // PutBatch, Put, PutGrouped
	assert.GreaterOrEqual(t, k[cdrstore.EventCommit], 6)
	for _, e := range ev.evs {
		if e.Kind == cdrstore.EventCommit {
			assert.Positive(t, e.Duration, "the stepping clock moved during the commit")
		}
	}

	// Without an Observer, no counts are kept.
	plain := storetest.Open(t, &cdrstore.Options{NoSync: true})
	_, ok := plain.Counts()
	assert.False(t, ok)
}

func TestSlowCommitWarns(t *testing.T) {
	var logs bytes.Buffer
	s := storetest.Open(t, &cdrstore.Options{
		NoSync: true, Now: steppingClock(40 * time.Millisecond), SlowCommit: 30 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, s.Put(sms("a1", t2026, ada, "secret body")))
	assert.Contains(t, logs.String(), `"msg":"slow commit"`)
	assert.Contains(t, logs.String(), `"level":"DEBUG","msg":"ingest","workspace":"acme","records":1`)
	assert.NotContains(t, logs.String(), "secret body")
	assert.NotContains(t, logs.String(), "8031234567")
}

func TestResidue(t *testing.T) {
	var ev events
	s := storetest.Open(t, &cdrstore.Options{NoSync: true, Now: steppingClock(time.Second), Observer: ev.observe})
	for i := range 200 {
		require.NoError(t, s.Put(sms(string(rune('a'+i%26))+string(rune('a'+i/26)), t2026, ada, string(bytes.Repeat([]byte("b"), 500)))))
	}
	_, err := s.Delete("acme", "aa")
	require.NoError(t, err)
	n, since, err := s.Residue()
	require.NoError(t, err)
	require.Positive(t, n, "rewrites and a deletion leave free pages")
	require.False(t, since.IsZero())

	_, err = s.Scrub(context.Background())
	require.NoError(t, err)
	n, since, err = s.Residue()
	require.NoError(t, err)
	assert.Zero(t, n, "a scrub leaves no old bytes")
	assert.True(t, since.IsZero())
	assert.Equal(t, 1, ev.kinds()[cdrstore.EventScrub])

	_, err = s.Delete("acme", "ba")
	require.NoError(t, err)
	n, since, err = s.Residue()
	require.NoError(t, err)
	assert.Positive(t, n, "a deletion after the scrub leaves old bytes again")
	assert.False(t, since.IsZero())

	_, err = s.Compact(context.Background())
	require.NoError(t, err)
	n, _, err = s.Residue()
	require.NoError(t, err)
	assert.Zero(t, n, "a compacted file holds no old bytes")
	assert.Equal(t, 1, ev.kinds()[cdrstore.EventCompact])
}
