package bench

import (
	"os"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Engine is one storage engine under test. Every write is durable when it
// returns; cdrvault's single-record ingest shares its commit with
// concurrent callers (group commit).
type Engine interface {
	// Ingest stores a batch in one durable transaction, which an engine
	// may share with concurrent callers (group commit).
	Ingest(batch []cdrstore.Record) error
	// Get reads one record by workspace and ID.
	Get(ws, id string) error
	// List reads up to limit records holding number n, in time order.
	List(ws string, n e164.Number, limit int) (int, error)
	// Redact removes r's content and counterparty number (with its index
	// entries), as the Redact API does.
	Redact(r cdrstore.Record) error
	// Erase replaces the content of every record holding n with the
	// [REDACTED] placeholders, in one transaction, and counts them.
	Erase(ws string, n e164.Number) (int, error)
	// Sweep deletes every record that started before cutoff.
	Sweep(cutoff time.Time) (int, error)
	// Size is the bytes on disk.
	Size() (int64, error)
	Close() error
}

// Factory opens an engine in an empty directory.
type Factory struct {
	Name string
	Open func(dir string) (Engine, error)
}

// Factories lists every engine, cdrvault first. cdrvault-faulting is
// cdrvault without Options.PopulateMmap, to show what page faults cost.
func Factories() []Factory {
	return []Factory{
		{"cdrvault", OpenCdrvault},
		{"cdrvault-faulting", OpenCdrvaultFaulting},
		{"sqlite-full", func(dir string) (Engine, error) { return OpenSQLite(dir, "FULL") }},
		{"sqlite-normal", func(dir string) (Engine, error) { return OpenSQLite(dir, "NORMAL") }},
		{"bolthold", OpenBolthold},
		{"bbolt-json", OpenBoltJSON},
	}
}

// fileSize is the size of the file at path.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
