package bench

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Engine is one storage engine under test. Every write is durable when it
// returns; cdrvault's single-record ingest and its redactions share their
// commits with concurrent callers (group commit). Every method is safe
// for concurrent use: the concurrent phases call Ingest and Redact from
// many goroutines (each engine serialises its writers its own way: bbolt's
// one writer lock, SQLite's one connection).
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
	// Redacted reports whether r's stored record has no content (body,
	// transcript, recording) and no counterparty number: what Redact
	// leaves.
	Redacted(r cdrstore.Record) (bool, error)
	// Erase replaces the content of every record holding n with the
	// [REDACTED] placeholders, in one transaction, and counts them.
	Erase(ws string, n e164.Number) (int, error)
	// Sweep deletes every record that started before cutoff, at most
	// batch records per transaction.
	Sweep(cutoff time.Time, batch int) (int, error)
	// Size is the bytes on disk.
	Size() (int64, error)
	// Memory is the bytes the engine holds its data in: the resident
	// pages of its file maps, and the limit of any page cache of its own.
	Memory() (int64, error)
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

// mappedResident is the resident size of this process's maps of the files
// at paths, from /proc/self/smaps (0 where there is none: not Linux).
func mappedResident(paths ...string) (int64, error) {
	want := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return 0, err
		}
		want[abs] = true
	}
	f, err := os.Open("/proc/self/smaps")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	counting := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		switch {
		case len(fields) >= 6 && bytes.IndexByte(fields[0], '-') > 0 && !bytes.HasSuffix(fields[0], []byte(":")):
			// A map's header: address range, permissions, offset, device, inode, path.
			counting = want[string(bytes.Join(fields[5:], []byte(" ")))]
		case len(fields) >= 5 && bytes.IndexByte(fields[0], '-') > 0 && !bytes.HasSuffix(fields[0], []byte(":")):
			counting = false // an anonymous map
		case counting && len(fields) == 3 && string(fields[0]) == "Rss:":
			kb, err := strconv.ParseInt(string(fields[1]), 10, 64)
			if err != nil {
				return 0, err
			}
			total += kb << 10
		}
	}
	return total, sc.Err()
}
