// Package storetest opens temporary stores for tests. Each store's cleanup
// runs Store.Check (every index against the records, every audit chain)
// before closing, so every test gets the invariant check for free.
package storetest

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	bolt "go.etcd.io/bbolt"
)

// Epoch is the fixed "now" of test stores unless the options set a clock.
var Epoch = time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)

// AuditEntries reads the audit log of workspace ws of s.
func AuditEntries(t testing.TB, s *cdrstore.Store, ws string) []audit.Entry {
	t.Helper()
	var entries []audit.Entry
	if err := s.View(func(tx *cdrstore.Tx) error {
		for e, err := range tx.AuditEntries(ws, 0) {
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		return nil
	}); err != nil {
		t.Fatalf("storetest: audit entries: %v", err)
	}
	return entries
}

// Options returns the options Open gives a store when it is given none, for
// a test to change one of them.
func Options() *cdrstore.Options {
	return &cdrstore.Options{NoSync: true, Now: func() time.Time { return Epoch }, Logger: Logger(), Observer: func(cdrstore.Event) {}}
}

// Open creates a store in t.TempDir(). A nil opts gets NoSync, a fixed
// clock at Epoch, the log scan's Logger and an Observer that ignores what
// it is told (so that the store keeps its counts). Cleanup checks the
// store and, when it keeps counts, that they equal a walk of the file;
// then it closes it.
func Open(t testing.TB, opts *cdrstore.Options) *cdrstore.Store {
	t.Helper()
	if opts == nil {
		opts = Options()
	}
	path := filepath.Join(t.TempDir(), "cdrvault.db")
	s, err := cdrstore.Open(path, opts)
	if err != nil {
		t.Fatalf("storetest: open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Check(context.Background()); err != nil && !isClosed(err) {
			t.Errorf("storetest: check at cleanup: %v", err)
		}
		if err := checkCounts(s); err != nil && !isClosed(err) {
			t.Errorf("storetest: counts at cleanup: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close: %v", err)
		}
	})
	return s
}

func isClosed(err error) bool { return err == cdrstore.ErrClosed }

// checkCounts compares the counts s keeps (Store.Counts) with a walk of
// the file; nil when it keeps none.
func checkCounts(s *cdrstore.Store) error {
	kept, ok := s.Counts()
	if !ok {
		return nil
	}
	walked := map[string]cdrstore.WorkspaceCounts{}
	err := s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			n, err := tx.Count(ws)
			if err != nil {
				return err
			}
			kv, err := tx.Bucket(ws, cdrstore.BucketOutbox)
			if err != nil {
				return err
			}
			head, _, err := tx.AuditHead(ws)
			if err != nil {
				return err
			}
			walked[ws] = cdrstore.WorkspaceCounts{Records: int64(n), Outbox: int64(kv.Len()), AuditSeq: head.Seq}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !maps.Equal(kept, walked) {
		return fmt.Errorf("kept %v, walked %v", kept, walked)
	}
	return nil
}

// InOneGroup runs each of fns in a goroutine of its own, one after
// another, while a transaction holds the writer of s, so that the
// [cdrstore.Store.UpdateGrouped] calls they make queue in that order and
// share the next transaction; it returns when every fn has. It must run in
// a testing/synctest bubble: each fn is started once the one before it is
// blocked (queued).
func InOneGroup(s *cdrstore.Store, fns ...func()) {
	gate := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.UpdateGrouped(func(*cdrstore.Tx) error { <-gate; return nil }) })
	synctest.Wait()
	for _, fn := range fns {
		wg.Go(fn)
		synctest.Wait()
	}
	close(gate)
	wg.Wait()
}

// Dump returns the logical image of s (see Store.Dump): two stores with
// equal dumps hold the same data.
func Dump(t testing.TB, s *cdrstore.Store) string {
	t.Helper()
	var b strings.Builder
	if err := s.Dump(&b); err != nil {
		t.Fatalf("storetest: dump: %v", err)
	}
	return b.String()
}

// workspaceBuckets are the buckets every workspace holds (format v3).
var workspaceBuckets = []string{"records", "by_id", "by_number", "by_conversation", "audit", "settings", "optout", "holds", "outbox", "requests", "keys"}

// PlantWorkspaces creates, in the closed store file at path and behind
// the library's back, a workspace bucket for each name with every bucket
// a workspace holds: the way to make the stores that older code or a
// damaged file leave (names no write path accepts today).
func PlantWorkspaces(t testing.TB, path string, names ...string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("storetest: plant workspaces: %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, ws := range names {
			root, err := tx.Bucket([]byte("ws")).CreateBucket([]byte(ws))
			if err != nil {
				return err
			}
			for _, name := range workspaceBuckets {
				if _, err := root.CreateBucket([]byte(name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("storetest: plant workspaces: %v", err)
	}
}

// FixtureKey is the subject key of the frozen format fixtures
// (cdrstore/testdata/format).
var FixtureKey = []byte("format-fixture-key-0123456789abcdef")
