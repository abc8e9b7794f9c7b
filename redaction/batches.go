package redaction

import (
	"context"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// This file is the one driver of the operations that run in batches, each
// its own transaction (Sweep, AutoRedact): workspace by workspace under
// the request ID of the whole run, and within a workspace batch by batch
// over the time-ordered records.

// DefaultBatchSize is how many records one transaction of Sweep or
// AutoRedact changes at most.
const DefaultBatchSize = 1000

// figures is the result of a batched operation, for one workspace or for
// the whole run.
type figures[R any] interface {
	*R
	// add adds the figures w of workspace ws to the run's total; replayed
	// says they are the workspace's first result under the request ID.
	add(ws string, w *R, replayed bool)
	// kept is what a request ID keeps of a workspace's figures: all but
	// the listed skipped records (SkippedCount keeps their number).
	kept() R
}

// inWorkspaces runs each (one workspace's part of a batched operation) in
// every workspace, adding its figures to total. A request ID on ctx names
// the whole run (see wholeRequest); a dry run keeps none.
func inWorkspaces[R any, P figures[R]](r *Redactor, ctx context.Context, action string, dryRun bool, total P, each func(ctx context.Context, ws string, w P) error) error {
	var workspaces []string
	if err := r.s.View(func(tx *cdrstore.Tx) error { workspaces = tx.Workspaces(); return nil }); err != nil {
		return err
	}
	ctx, id := wholeRequest(ctx)
	if dryRun {
		id = ""
	}
	for _, ws := range workspaces {
		w := P(new(R))
		replayed, err := r.inWorkspace(ctx, ws, id, action, w,
			func() error { return each(ctx, ws, w) },
			func() any { return w.kept() })
		if err != nil {
			return err
		}
		total.add(ws, w, replayed)
	}
	return nil
}

// addSkipped adds the held records of a batch or a workspace (list, the
// first ones, and n, all of them) to a total: the list up to
// maxSkippedListed records (a sweep of a store under a wide hold lists the
// first ones, not all of them), the count whole.
func addSkipped(total *[]Skipped, totalN *int, list []Skipped, n int) {
	*total = append(*total, list[:min(len(list), max(0, maxSkippedListed-len(*total)))]...)
	*totalN += n
}

// batchPass is one pass of a batched operation over the time-ordered
// records of a workspace. Each batch is one transaction that first reads
// its records, then writes: nothing is written under a live cursor.
type batchPass struct {
	call call
	// size is how many records a batch takes at most.
	size int
	// from returns the query of a batch's read: its Limit bounds how many
	// records the batch reads; cursor is where the previous batch of this
	// pass stopped, "" for the first.
	from func(o *op, cursor string) (cdrstore.Query, error)
	// take reports whether the batch takes rec (and may list it as
	// skipped); nil takes every record.
	take func(o *op, rec *cdrstore.Record) (bool, error)
	// write changes the records the batch took.
	write func(o *op, recs []cdrstore.Record) error
	// tally receives the result of each committed batch.
	tally func(Result)
}

// runPass runs p batch by batch until a batch reads to the end of its
// query without filling up. A cancelled ctx stops between (and rolls back
// within) batches; batches already committed stay.
func (r *Redactor) runPass(ctx context.Context, ws string, p batchPass) error {
	cursor := ""
	for {
		var (
			examined, limit int
			full            bool
		)
		res, err := r.run(ctx, ws, p.call, func(o *op) error {
			q, err := p.from(o, cursor)
			if err != nil {
				return err
			}
			examined, limit, full = 0, q.Limit, false
			var took []cdrstore.Record
			for rec, err := range o.tx.ByTime(ws, q) {
				if err != nil {
					return err
				}
				if err := o.tick(); err != nil {
					return err
				}
				examined++
				cursor = rec.Cursor()
				keep := true
				if p.take != nil {
					if keep, err = p.take(o, &rec); err != nil {
						return err
					}
				}
				if keep {
					took = append(took, rec)
					if full = len(took) == p.size; full {
						break
					}
				}
			}
			if err := p.write(o, took); err != nil {
				return err
			}
			o.noAudit = o.res.Affected == 0
			return nil
		})
		if err != nil {
			return err
		}
		p.tally(res)
		if examined < limit && !full {
			return nil
		}
	}
}
