package cdrstore

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// HasMigration reports whether format v has a migration to v+1.
func HasMigration(v uint32) bool { _, ok := migrations[v]; return ok }

// SetSyncDir makes Scrub sync its directory through f until the test ends.
func SetSyncDir(t testing.TB, f func(dir string) error) {
	old := syncDir
	syncDir = f
	t.Cleanup(func() { syncDir = old })
}

// SetScrubChunk makes Scrub's chunks at most pages pages and d long until
// the test ends.
func SetScrubChunk(t testing.TB, pages int, d time.Duration) {
	oldPages, oldTime := scrubChunkPages, scrubChunkTime
	scrubChunkPages, scrubChunkTime = pages, d
	t.Cleanup(func() { scrubChunkPages, scrubChunkTime = oldPages, oldTime })
}

// SetGroupCommitPanic makes every write transaction (a group commit or
// an Update) panic once its calls have run, just before it commits, until
// the test ends or the function it returns is called.
func SetGroupCommitPanic(t testing.TB) (restore func()) {
	old := beforeCommit
	beforeCommit = func() { panic("injected panic in a group commit") }
	restore = func() { beforeCommit = old }
	t.Cleanup(restore)
	return restore
}

// AuxBuckets returns the auxiliary bucket names.
func AuxBuckets() []Name { return auxBuckets }

// Record codec versions.
const (
	CodecV1     = codecV1
	CodecV2     = codecV2
	CodecNewest = codecNewest
)

// SetV3Steps replaces the steps of the v2 -> v3 migration until the test
// ends.
func SetV3Steps(t testing.TB, steps ...func(btx *bolt.Tx, ws []byte, root *bolt.Bucket) error) {
	old := v3Steps
	v3Steps = nil
	for i, f := range steps {
		v3Steps = append(v3Steps, migrationStep{name: fmt.Sprintf("test step %d", i), workspace: func(m *migration, ws []byte, root *bolt.Bucket) error {
			return f(m.btx, ws, root)
		}})
	}
	t.Cleanup(func() { v3Steps = old })
}

// FailAfterV3Steps appends to the real steps of the v2 -> v3 migration one
// that fails with err, until the test ends.
func FailAfterV3Steps(t testing.TB, err error) {
	old := v3Steps
	v3Steps = append(append([]migrationStep(nil), old...), migrationStep{name: "failing test step", store: func(*migration) error { return err }})
	t.Cleanup(func() { v3Steps = old })
}
