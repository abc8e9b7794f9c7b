package cdrstore

import (
	"testing"
	"time"
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
