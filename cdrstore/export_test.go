package cdrstore

// HasMigration reports whether format v has a migration to v+1.
func HasMigration(v uint32) bool { _, ok := migrations[v]; return ok }
