package bench

import (
	"context"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
)

type cdrvault struct {
	s  *cdrstore.Store
	rd *redaction.Redactor
}

// Now is the clock of every engine: the end of the generated history.
var Now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// OpenCdrvault opens a cdrvault store in dir, configured as a long-running
// service would be: its file mapped whole (PopulateMmap), so that reads
// after the bulk load take no page faults. OpenCdrvaultFaulting is the same
// without it.
func OpenCdrvault(dir string) (Engine, error) { return openCdrvault(dir, true) }

// OpenCdrvaultFaulting opens a cdrvault store in dir with the default
// options, where the first read of each page takes a page fault.
func OpenCdrvaultFaulting(dir string) (Engine, error) { return openCdrvault(dir, false) }

func openCdrvault(dir string, populate bool) (Engine, error) {
	s, err := cdrstore.Open(filepath.Join(dir, "cdrvault.db"), &cdrstore.Options{Now: func() time.Time { return Now }, PopulateMmap: populate})
	if err != nil {
		return nil, err
	}
	return &cdrvault{s: s, rd: redaction.New(s, nil)}, nil
}

// Ingest stores a batch in one transaction. A single record, as the 16
// goroutines of the concurrent ingest write them, goes through group
// commit: concurrent callers share a transaction and its fsyncs.
func (c *cdrvault) Ingest(batch []cdrstore.Record) error {
	if len(batch) == 1 {
		return c.s.PutGrouped(batch)
	}
	return c.s.PutBatch(batch)
}
func (c *cdrvault) Get(ws, id string) error {
	_, err := c.s.Get(ws, id)
	return err
}

func (c *cdrvault) List(ws string, n e164.Number, limit int) (int, error) {
	count := 0
	err := c.s.View(func(tx *cdrstore.Tx) error {
		for _, err := range tx.ByNumber(ws, n, cdrstore.Query{Limit: limit}) {
			if err != nil {
				return err
			}
			count++
		}
		return nil
	})
	return count, err
}

// Redact is the Redact API's redaction, which shares its commit with
// concurrent callers (group commit).
func (c *cdrvault) Redact(r cdrstore.Record) error {
	_, err := c.rd.RedactByID(context.Background(), r.Workspace, r.ID, r.Product, r.Direction)
	return err
}

func (c *cdrvault) Redacted(r cdrstore.Record) (bool, error) {
	rec, err := c.s.Get(r.Workspace, r.ID)
	if err != nil {
		return false, err
	}
	return rec.Body == "" && len(rec.Transcript) == 0 && rec.RecordingURL == "" && len(rec.Media) == 0 &&
		!redaction.Counterparty(&rec).IsValid(), nil
}

func (c *cdrvault) Erase(ws string, n e164.Number) (int, error) {
	res, err := c.rd.EraseContact(context.Background(), ws, n, "gdpr_art17")
	return res.RecordsAffected, err
}

func (c *cdrvault) Sweep(_ time.Time, batch int) (int, error) {
	// The library's sweep, in batches of batch deletions (one transaction
	// each), from the same cutoff of 13 months as of Now that the other
	// engines are given: every engine sweeps the same records.
	res, err := c.rd.Sweep(context.Background(), Now, redaction.SweepOptions{BatchSize: batch})
	return res.Deleted, err
}

func (c *cdrvault) Size() (int64, error) {
	return fileSize(c.s.Path())
}

// Memory is the resident part of the file's map: all of it with
// PopulateMmap, what reads and writes touched without.
func (c *cdrvault) Memory() (int64, error) { return mappedResident(c.s.Path()) }

func (c *cdrvault) Close() error { return c.s.Close() }
