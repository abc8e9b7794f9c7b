package cdrstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
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

// damagedStore opens a copy of a generated store whose "ws" bucket page
// (every workspace goes through it) is damaged. Open succeeds: it reads
// only the meta bucket.
func damagedStore(t *testing.T) (*cdrstore.Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.db")
	storetest.CopyFile(t, storetest.BuildFixture(t, 3000).Path, p)
	storetest.DamagePage(t, p, "ws")
	s, err := cdrstore.Open(p, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, p
}

// Every exported Store method that reads pages turns bbolt's panic on a
// damaged page into an error matching ErrCorrupt, leaves the file's bytes
// as they were and the store usable (Close does not hang), and names no
// key bytes.
func TestDamagedPageIsErrCorrupt(t *testing.T) {
	ctx := context.Background()
	rec := sms("m1", t2026, ada, "hello")
	for _, tc := range []struct {
		name string
		call func(s *cdrstore.Store) error
	}{
		{"View", func(s *cdrstore.Store) error {
			return s.View(func(tx *cdrstore.Tx) error {
				for _, err := range tx.ByTime("acme", cdrstore.Query{}) {
					return err
				}
				return nil
			})
		}},
		{"Update", func(s *cdrstore.Store) error { return s.Update(func(tx *cdrstore.Tx) error { return tx.Put(rec) }) }},
		{"Get", func(s *cdrstore.Store) error { _, err := s.Get("acme", "m1"); return err }},
		{"Put", func(s *cdrstore.Store) error { return s.Put(rec) }},
		{"PutBatch", func(s *cdrstore.Store) error { return s.PutBatch([]cdrstore.Record{rec}) }},
		{"PutGrouped", func(s *cdrstore.Store) error { return s.PutGrouped([]cdrstore.Record{rec}) }},
		{"Delete", func(s *cdrstore.Store) error { _, err := s.Delete("acme", "m1"); return err }},
		{"Workspaces", func(s *cdrstore.Store) error { _, err := s.Workspaces(); return err }},
		{"Dump", func(s *cdrstore.Store) error { return s.Dump(new(bytes.Buffer)) }},
		{"FreeBytes", func(s *cdrstore.Store) error { _, err := s.FreeBytes(); return err }},
		{"Check", func(s *cdrstore.Store) error { return s.Check(ctx) }},
		{"Backup", func(s *cdrstore.Store) error {
			var out bytes.Buffer
			_, err := s.Backup(ctx, &out)
			assert.Zero(t, out.Len(), "no partial backup")
			return err
		}},
		{"Scrub", func(s *cdrstore.Store) error { _, err := s.Scrub(ctx); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := damagedStore(t)
			before, err := os.ReadFile(p)
			require.NoError(t, err)
			err = tc.call(s)
			require.ErrorIs(t, err, cdrstore.ErrCorrupt)
			var ce *cdrstore.CorruptionError
			require.ErrorAs(t, err, &ce)
			assert.NotContains(t, err.Error(), "+")
			entries, err := os.ReadDir(filepath.Dir(p))
			require.NoError(t, err)
			require.Len(t, entries, 1, "no temporary file is left behind")
			require.NoError(t, s.Close(), "Close does not wait on a lock the panic left held")
			after, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(before, after), "the file's bytes are unchanged")
		})
	}
}

// Open of a file whose root page (holding the meta bucket) is damaged
// returns an error matching ErrCorrupt, read-only or not, and lets go of
// the file.
func TestOpenDamagedRootPage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.db")
	storetest.CopyFile(t, storetest.BuildFixture(t, 3000).Path, p)
	storetest.DamagePage(t, p)
	for _, ro := range []bool{true, false} {
		_, err := cdrstore.Open(p, &cdrstore.Options{ReadOnly: ro, LockTimeout: 100 * time.Millisecond})
		require.ErrorIs(t, err, cdrstore.ErrCorrupt, "read-only: %v", ro)
		assert.NotErrorIs(t, err, cdrstore.ErrLocked)
	}
}

// A panic while a group commit commits (on a goroutine of the store's
// own, where no caller could recover it) does not kill the process: every
// caller of that commit gets an error matching ErrHalted, which says why,
// every later write is refused the same way, and reads go on. Reopening
// the store lifts it.
func TestPanicInGroupCommitHaltsWrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(p, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Put(sms("m0", t2026, ada, "kept")))

	stopPanics := cdrstore.SetGroupCommitPanic(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.PutGrouped([]cdrstore.Record{sms("g"+string(rune('a'+i)), t2026.Add(time.Duration(i+1)*time.Minute), bob, "x")})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, cdrstore.ErrHalted)
		var he *cdrstore.HaltedError
		require.ErrorAs(t, err, &he)
		assert.Contains(t, err.Error(), "reopen")
	}
	for name, write := range map[string]func() error{
		"Put":        func() error { return s.Put(sms("m1", t2026, bob, "no")) },
		"PutGrouped": func() error { return s.PutGrouped([]cdrstore.Record{sms("m2", t2026, bob, "no")}) },
		"Update":     func() error { return s.Update(func(*cdrstore.Tx) error { return nil }) },
		"Scrub":      func() error { _, err := s.Scrub(context.Background()); return err },
	} {
		assert.ErrorIs(t, write(), cdrstore.ErrHalted, name)
	}
	got, err := s.Get("acme", "m0")
	require.NoError(t, err, "reads go on")
	assert.Equal(t, "kept", got.Body)

	require.NoError(t, s.Close())
	stopPanics()
	s, err = cdrstore.Open(p, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Put(sms("m1", t2026, bob, "yes")), "a reopened store writes again")
	require.NoError(t, s.Check(context.Background()))
}

// A commit that meets a damaged page (bbolt merges a leaf emptied by the
// transaction with its damaged sibling) fails with an error matching
// ErrCorrupt and ErrHalted, and the store refuses writes until reopened;
// reads of intact pages go on, and the rolled-back deletions are not
// applied.
func TestPanicInCommitHaltsWrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(p, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	var rs []cdrstore.Record
	for i := range 300 {
		rs = append(rs, sms(fmt.Sprintf("m%04d", i), t2026.Add(time.Duration(i)*time.Second), ada, "hello there"))
	}
	require.NoError(t, s.PutBatch(rs))
	require.NoError(t, s.Close())
	firstLeaf := storetest.DamageSecondLeaf(t, p, "ws", "acme", "records")
	require.Greater(t, firstLeaf, 2)

	s, err = cdrstore.Open(p, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	err = s.Update(func(tx *cdrstore.Tx) error {
		for _, r := range rs[:firstLeaf-1] {
			if _, err := tx.Delete("acme", r.ID); err != nil {
				return err
			}
		}
		return nil
	})
	require.ErrorIs(t, err, cdrstore.ErrHalted)
	require.ErrorIs(t, err, cdrstore.ErrCorrupt, "it says why")
	assert.ErrorIs(t, s.Put(sms("new", t2026, bob, "no")), cdrstore.ErrHalted)
	got, err := s.Get("acme", rs[0].ID)
	require.NoError(t, err, "reads go on, and the deletion was rolled back")
	assert.Equal(t, "hello there", got.Body)
}

// An Update, or a group commit, that writes nothing commits nothing: the
// file's bytes and modification time stay as they were. Each kind of
// write still commits.
func TestWriteOfNothingCommitsNothing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(p, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Put(sms("m0", t2026, ada, "kept")))
	state := func() string {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		return fmt.Sprintf("%x %d", sha256.Sum256(raw), fi.ModTime().UnixNano())
	}
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	touch := func() { require.NoError(t, os.Chtimes(p, old, old)) }

	touch()
	before := state()
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		_, err := tx.Get("acme", "m0")
		return err
	}))
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		_, err := tx.Delete("acme", "nope")
		assert.ErrorIs(t, err, cdrstore.ErrNotFound)
		return nil
	}))
	require.NoError(t, s.PutGrouped(nil))
	require.NoError(t, s.UpdateGrouped(func(tx *cdrstore.Tx) error {
		_, err := tx.Get("acme", "m0")
		return err
	}))
	assert.Equal(t, before, state(), "nothing was committed")

	for _, w := range []struct {
		name  string
		write func(tx *cdrstore.Tx) error
	}{
		{"put", func(tx *cdrstore.Tx) error { return tx.Put(sms("m1", t2026, bob, "new")) }},
		{"delete", func(tx *cdrstore.Tx) error { _, err := tx.Delete("acme", "m1"); return err }},
		{"workspace", func(tx *cdrstore.Tx) error { _, err := tx.CreateWorkspace("globex"); return err }},
		{"audit", func(tx *cdrstore.Tx) error {
			_, err := tx.AppendAudit("acme", audit.Entry{Action: "test", Time: t2026})
			return err
		}},
		{"kv put", func(tx *cdrstore.Tx) error {
			kv, err := tx.Bucket("acme", cdrstore.BucketHolds)
			if err != nil {
				return err
			}
			return kv.Put([]byte("k"), []byte("v"))
		}},
		{"kv delete", func(tx *cdrstore.Tx) error {
			kv, err := tx.Bucket("acme", cdrstore.BucketHolds)
			if err != nil {
				return err
			}
			return kv.Delete([]byte("k"))
		}},
		{"sequence", func(tx *cdrstore.Tx) error {
			kv, err := tx.Bucket("acme", cdrstore.BucketOutbox)
			if err != nil {
				return err
			}
			_, err = kv.NextSequence()
			return err
		}},
	} {
		touch()
		before := state()
		require.NoError(t, s.Update(w.write), w.name)
		assert.NotEqual(t, before, state(), "%s was committed", w.name)
	}

	// Tombstones last: once the store holds one, records need a hook.
	tomb := func(at time.Time) func(tx *cdrstore.Tx) error {
		return func(tx *cdrstore.Tx) error {
			return tx.PutTombstone("acme", cdrstore.Tombstone{Term: cdrstore.TermID, Kind: 'd', Subject: tx.SubjectHMAC("m9"), At: at})
		}
	}
	drop := func(tx *cdrstore.Tx) error { _, err := tx.DropTombstones("acme", t2026); return err }
	for _, w := range []struct {
		name    string
		write   func(tx *cdrstore.Tx) error
		changes bool
	}{
		{"tombstone", tomb(t2026.Add(time.Hour)), true},
		{"tombstone older than the one kept", tomb(t2026), false},
		{"tombstones dropped: none", drop, false},
		{"tombstone later", tomb(t2026.Add(2 * time.Hour)), true},
	} {
		for _, update := range []func(func(*cdrstore.Tx) error) error{s.Update, s.UpdateGrouped} {
			touch()
			before := state()
			require.NoError(t, update(w.write), w.name)
			if w.changes {
				assert.NotEqual(t, before, state(), "%s was committed", w.name)
				w.changes = false // the same again changes nothing
			} else {
				assert.Equal(t, before, state(), "%s: nothing was committed", w.name)
			}
		}
	}
}
