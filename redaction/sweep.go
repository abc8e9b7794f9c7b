package redaction

import (
	"context"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// Cutoff returns the instant months calendar months before asOf, with the
// day clamped to the end of the target month: as of 2026-03-31T10:00Z, 13
// months give 2025-02-28T10:00Z. Records that started before it expire.
func Cutoff(asOf time.Time, months int) time.Time {
	asOf = asOf.UTC()
	y, m, d := asOf.Date()
	first := time.Date(y, m-time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	h, mi, s := asOf.Clock()
	return time.Date(first.Year(), first.Month(), min(d, last), h, mi, s, asOf.Nanosecond(), time.UTC)
}

// SweepOptions tunes Sweep.
type SweepOptions struct {
	DryRun    bool // count what would be deleted; write nothing
	BatchSize int  // records per transaction; 0 means DefaultBatchSize
}

// SweepResult counts what Sweep did (or would do, in a dry run).
type SweepResult struct {
	Deleted      int            `json:"deleted"`
	Skipped      []Skipped      `json:"skipped,omitempty"`       // the first 1,000 held records left alone
	SkippedCount int            `json:"skipped_count,omitempty"` // every held record left alone
	Batches      int            `json:"batches"`
	ByWorkspace  map[string]int `json:"by_workspace,omitempty"`
	DryRun       bool           `json:"dry_run,omitempty"`
	Replayed     bool           `json:"replayed,omitempty"` // a workspace's figures are its first result under the request ID
}

func (res *SweepResult) add(ws string, w *SweepResult, replayed bool) {
	res.Replayed = res.Replayed || replayed
	res.Deleted += w.Deleted
	res.Batches += w.Batches
	res.ByWorkspace[ws] = w.ByWorkspace[ws]
	addSkipped(&res.Skipped, &res.SkippedCount, w.Skipped, w.SkippedCount)
}

func (res *SweepResult) kept() SweepResult {
	k := *res
	k.Skipped = nil
	return k
}

// tally adds the result of one batch of workspace ws.
func (res *SweepResult) tally(ws string, batch Result) {
	if res.ByWorkspace == nil {
		res.ByWorkspace = map[string]int{}
	}
	res.Deleted += batch.Affected
	res.ByWorkspace[ws] += batch.Affected
	addSkipped(&res.Skipped, &res.SkippedCount, batch.Skipped, batch.SkippedCount)
	if batch.Affected > 0 {
		res.Batches++
	}
}

// Sweep deletes, in every workspace, each record that started before its
// product's retention cutoff (see Cutoff and Settings.RetentionMonths),
// with its index entries; recordings and media go to the outbox. It walks
// the time-ordered records up to the latest cutoff of any product, so its
// cost grows with what expires, not with the store, as long as every
// product keeps the same retention; where one keeps longer (voice 24
// months, SMS 13), each sweep also reads, and keeps, the records between
// the two cutoffs, as it does held records. Each batch of at most BatchSize
// deletions is one transaction with one "retention.sweep" audit entry
// carrying its count. Records under legal hold are skipped, counted
// (SkippedCount) and the first 1,000 listed. A cancelled ctx stops between
// (and rolls back within) batches; batches already committed stay. A dry
// run reads in read-only transactions and writes nothing.
//
// A request ID on ctx names the whole sweep, not a batch: each workspace
// keeps it with its figures once its last batch is done, and a replay
// reports those figures (Replayed) and deletes nothing there.
func (r *Redactor) Sweep(ctx context.Context, asOf time.Time, o SweepOptions) (SweepResult, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	res := SweepResult{ByWorkspace: map[string]int{}, DryRun: o.DryRun}
	err := inWorkspaces(r, ctx, ActionRetentionSweep, o.DryRun, &res, func(ctx context.Context, ws string, w *SweepResult) error {
		return r.sweepWorkspace(ctx, ws, asOf, o, w)
	})
	return res, err
}

func (r *Redactor) sweepWorkspace(ctx context.Context, ws string, asOf time.Time, o SweepOptions, res *SweepResult) error {
	settings, err := r.Settings(ws)
	if err != nil {
		return err
	}
	cutoffs := map[cdrstore.Product]time.Time{}
	var latest time.Time
	for _, p := range cdrstore.Products() {
		c := Cutoff(asOf, settings.RetentionMonths(p))
		cutoffs[p] = c
		if c.After(latest) {
			latest = c
		}
	}
	err = r.runPass(ctx, ws, batchPass{
		call: call{action: ActionRetentionSweep, dryRun: o.DryRun},
		size: o.BatchSize,
		from: func(_ *op, cursor string) (cdrstore.Query, error) {
			return cdrstore.Query{Until: latest, Cursor: cursor, Limit: 4 * o.BatchSize}, nil
		},
		take: func(op *op, rec *cdrstore.Record) (bool, error) {
			if !rec.StartedAt.Before(cutoffs[rec.Product]) {
				return false, nil
			}
			why, held, err := op.heldReason(rec)
			if held {
				op.skip(rec.ID, why)
			}
			return err == nil && !held, err
		},
		write: func(op *op, expired []cdrstore.Record) error {
			op.entry.Detail = fmt.Sprintf("cutoff %s", latest.Format(time.RFC3339))
			if len(expired) == 0 {
				return nil
			}
			return op.deleteAll(expired)
		},
		tally: func(batch Result) { res.tally(ws, batch) },
	})
	if err != nil || o.DryRun {
		return err
	}
	return r.sweptThrough(ctx, ws, cutoffs)
}
