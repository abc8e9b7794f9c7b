package cdrstore

import "testing"

// HasMigration reports whether format v has a migration to v+1.
func HasMigration(v uint32) bool { _, ok := migrations[v]; return ok }

// SetSyncDir makes Scrub sync its directory through f until the test ends.
func SetSyncDir(t testing.TB, f func(dir string) error) {
	old := syncDir
	syncDir = f
	t.Cleanup(func() { syncDir = old })
}

// SetGroupCommitPanic makes every group commit panic once its calls have
// run, just before it commits, until the test ends.
func SetGroupCommitPanic(t testing.TB) {
	old := beforeGroupCommit
	beforeGroupCommit = func() { panic("injected panic in a group commit") }
	t.Cleanup(func() { beforeGroupCommit = old })
}
