package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

// DefaultBatchSize is how many records one transaction of Sweep or
// AutoRedact changes at most.
const DefaultBatchSize = 1000

// SweepOptions tunes Sweep.
type SweepOptions struct {
	DryRun    bool // count what would be deleted; write nothing
	BatchSize int  // records per transaction; 0 means DefaultBatchSize
}

// SweepResult counts what Sweep did (or would do, in a dry run).
type SweepResult struct {
	Deleted     int            `json:"deleted"`
	Skipped     []Skipped      `json:"skipped,omitempty"` // the first 1,000 held records left alone
	Batches     int            `json:"batches"`
	ByWorkspace map[string]int `json:"by_workspace,omitempty"`
	DryRun      bool           `json:"dry_run,omitempty"`
	Replayed    bool           `json:"replayed,omitempty"` // a workspace's figures are its first result under the request ID
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
// carrying its count. Records under legal hold are skipped and listed. A
// cancelled ctx stops between (and rolls back within) batches; batches
// already committed stay.
//
// A request ID on ctx names the whole sweep, not a batch: each workspace
// keeps it with its figures once its last batch is done, and a replay
// reports those figures (Replayed) and deletes nothing there.
func (r *Redactor) Sweep(ctx context.Context, asOf time.Time, o SweepOptions) (SweepResult, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	res := SweepResult{ByWorkspace: map[string]int{}, DryRun: o.DryRun}
	var workspaces []string
	if err := r.s.View(func(tx *cdrstore.Tx) error { workspaces = tx.Workspaces(); return nil }); err != nil {
		return res, err
	}
	ctx, id := wholeRequest(ctx)
	if o.DryRun {
		id = ""
	}
	for _, ws := range workspaces {
		wr := SweepResult{ByWorkspace: map[string]int{}}
		replayed, err := r.inWorkspace(ctx, ws, id, ActionRetentionSweep, &wr,
			func() error { return r.sweepWorkspace(ctx, ws, asOf, o, &wr) },
			func() any { kept := wr; kept.Skipped = nil; return kept })
		if err != nil {
			return res, err
		}
		res.Replayed = res.Replayed || replayed
		res.Deleted += wr.Deleted
		res.Batches += wr.Batches
		res.ByWorkspace[ws] = wr.ByWorkspace[ws]
		res.Skipped = appendSkipped(res.Skipped, wr.Skipped)
	}
	return res, nil
}

// appendSkipped appends src to dst up to maxSkippedListed records: a sweep
// of a store under a wide hold lists the first ones, not all of them.
func appendSkipped(dst, src []Skipped) []Skipped {
	return append(dst, src[:min(len(src), max(0, maxSkippedListed-len(dst)))]...)
}

// wholeRequest takes the request ID off ctx for an operation that runs in
// batches, each its own transaction: the batches run without it (else the
// second would replay the first and stop), and the operation keeps the ID
// per workspace once that workspace is done (storedRequest,
// recordRequest). Such operations are idempotent for the same asOf, so a
// crash between the last batch and the record only costs a replay that
// finds nothing left to do.
func wholeRequest(ctx context.Context) (context.Context, string) {
	req := requestFrom(ctx)
	id := req.ID
	req.ID = ""
	return WithRequest(ctx, req), id
}

// inWorkspace runs one workspace of a batched operation under request ID
// id (see wholeRequest): when the workspace kept figures under id, it
// loads them into out and reports true; otherwise it runs run and keeps
// what keep returns (the figures, without their skipped records) under id.
// An empty id keeps and finds nothing.
func (r *Redactor) inWorkspace(ctx context.Context, ws, id, action string, out any, run func() error, keep func() any) (replayed bool, err error) {
	if replayed, err = r.storedRequest(ws, id, action, out); err != nil || replayed {
		return replayed, err
	}
	if err := run(); err != nil {
		return false, err
	}
	return false, r.recordRequest(ctx, ws, id, action, keep())
}

// storedRequest loads into out the figures request ID id of action kept in
// ws, and reports whether there were any. An empty id finds nothing.
func (r *Redactor) storedRequest(ws, id, action string, out any) (found bool, err error) {
	if id == "" {
		return false, nil
	}
	err = r.s.View(func(tx *cdrstore.Tx) error {
		found, err = replay(tx, ws, id, action, fingerprint(tx, call{action: action}), out)
		return err
	})
	return found, err
}

// recordRequest keeps v as the figures of request ID id of action in ws,
// with no audit entry of its own (the batches wrote theirs).
func (r *Redactor) recordRequest(ctx context.Context, ws, id, action string, v any) error {
	if id == "" {
		return nil
	}
	var discard json.RawMessage
	return r.runWith(WithRequest(ctx, Request{ID: id, Actor: requestFrom(ctx).Actor}), ws, call{action: action},
		func(o *op) error { o.noAudit = true; return nil }, &discard, func(*op) any { return v })
}

func (r *Redactor) sweepWorkspace(ctx context.Context, ws string, asOf time.Time, o SweepOptions, res *SweepResult) error {
	var (
		settings Settings
		cursor   string
	)
	if err := r.s.View(func(tx *cdrstore.Tx) error {
		var err error
		settings, err = LoadSettings(tx, ws)
		return err
	}); err != nil {
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
	for {
		examined := 0
		batch, err := r.run(ctx, ws, call{action: ActionRetentionSweep, dryRun: o.DryRun}, func(op *op) error {
			var expired []cdrstore.Record
			for rec, err := range op.tx.ByTime(ws, cdrstore.Query{Until: latest, Cursor: cursor, Limit: 4 * o.BatchSize}) {
				if err != nil {
					return err
				}
				if err := op.tick(); err != nil {
					return err
				}
				examined++
				cursor = rec.Cursor()
				if !rec.StartedAt.Before(cutoffs[rec.Product]) {
					continue
				}
				if why, held, err := op.heldReason(&rec); err != nil {
					return err
				} else if held {
					op.skip(rec.ID, why)
					continue
				}
				expired = append(expired, rec)
				if len(expired) == o.BatchSize {
					break
				}
			}
			if len(expired) > 0 {
				if err := op.deleteAll(expired); err != nil {
					return err
				}
			}
			op.noAudit = op.res.Affected == 0
			op.entry.Detail = fmt.Sprintf("cutoff %s", latest.Format(time.RFC3339))
			return nil
		})
		if err != nil {
			return err
		}
		res.Deleted += batch.Affected
		res.ByWorkspace[ws] += batch.Affected
		res.Skipped = appendSkipped(res.Skipped, batch.Skipped)
		if batch.Affected > 0 {
			res.Batches++
		}
		if examined == 0 {
			return nil
		}
	}
}

// AutoRedactResult counts what AutoRedact did.
type AutoRedactResult struct {
	ContentDiscarded    int            `json:"content_discarded"`
	AddressesObfuscated int            `json:"addresses_obfuscated"`
	MediaExpired        int            `json:"media_expired"`
	Records             int            `json:"records"`
	Skipped             []Skipped      `json:"skipped,omitempty"` // the first 1,000 held records left alone
	ByWorkspace         map[string]int `json:"by_workspace,omitempty"`
	Replayed            bool           `json:"replayed,omitempty"` // a workspace's figures are its first result under the request ID
}

// pass is one sweep of AutoRedact over the records older than asOf-hold,
// resuming from its own watermark.
type pass struct {
	name   string
	hold   time.Duration
	policy *AutoRedactPolicy // nil: the per-record overrides and media expiry
}

func watermarkKey(name string) []byte { return []byte("wm/" + name) }

// AutoRedact applies every workspace's auto-redaction policies as of asOf:
// once a record is older than a policy's hold, its content (body,
// transcript, recording, media) is discarded and its counterparty's number
// replaced by the obfuscated form (last four digits X), whose by_number
// entry goes. Per-record overrides win either way: content_retention
// retain/discard, address_retention retain/obfuscate; discard and
// obfuscate apply at once, with no hold, whatever the policies' holds (the
// record asked for it). Media are also removed
// once their own expires_at has passed, or MediaExpiry after started_at.
//
// Each policy keeps a watermark in the settings bucket, and a run starts
// AutoRedactLookback behind it: it visits the records that became
// eligible since the last run and those that arrived late by up to the
// lookback; changing the settings resets the watermarks. The overrides
// pass's watermark stays before the first record whose media have yet to
// expire, so that a later run removes them. Held records are skipped (and,
// once behind the watermark and its lookback, are not revisited: erase them
// explicitly once released). Audit action "policy.auto_redact", one entry
// per batch. A request ID on ctx names the whole run, as for Sweep.
func (r *Redactor) AutoRedact(ctx context.Context, asOf time.Time) (AutoRedactResult, error) {
	res := AutoRedactResult{ByWorkspace: map[string]int{}}
	var workspaces []string
	if err := r.s.View(func(tx *cdrstore.Tx) error { workspaces = tx.Workspaces(); return nil }); err != nil {
		return res, err
	}
	ctx, id := wholeRequest(ctx)
	for _, ws := range workspaces {
		wr := AutoRedactResult{ByWorkspace: map[string]int{}}
		replayed, err := r.inWorkspace(ctx, ws, id, ActionAutoRedact, &wr,
			func() error { return r.autoRedactWorkspace(ctx, ws, asOf, &wr) },
			func() any { kept := wr; kept.Skipped = nil; return kept })
		if err != nil {
			return res, err
		}
		res.Replayed = res.Replayed || replayed
		res.ContentDiscarded += wr.ContentDiscarded
		res.AddressesObfuscated += wr.AddressesObfuscated
		res.MediaExpired += wr.MediaExpired
		res.Records += wr.Records
		res.ByWorkspace[ws] = wr.ByWorkspace[ws]
		res.Skipped = appendSkipped(res.Skipped, wr.Skipped)
	}
	return res, nil
}

// autoRedactWorkspace runs every pass of workspace ws.
func (r *Redactor) autoRedactWorkspace(ctx context.Context, ws string, asOf time.Time, res *AutoRedactResult) error {
	settings, err := r.Settings(ws)
	if err != nil {
		return err
	}
	passes := []pass{{name: "overrides"}}
	for i := range settings.AutoRedact {
		p := &settings.AutoRedact[i]
		passes = append(passes, pass{name: p.passName(), hold: time.Duration(p.Hold), policy: p})
	}
	for _, p := range passes {
		if err := r.autoRedactPass(ctx, ws, asOf, settings, p, res); err != nil {
			return err
		}
	}
	return nil
}

// passName names p's pass and so its watermark: two policies that differ
// in anything, what they redact included, are two passes.
func (p *AutoRedactPolicy) passName() string {
	what := ""
	if p.Content {
		what += "content"
	}
	if p.Address {
		what += "+address"
	}
	return fmt.Sprintf("%s/%s/%s/%s", p.Product, p.Direction, time.Duration(p.Hold), strings.TrimPrefix(what, "+"))
}

// AutoRedactLookback is how far behind its watermark each auto-redaction
// pass starts again. A record that arrives up to this late (a call's CDR
// is written when the call ends, a delivery report lags) is still
// redacted by the next run; one that arrives later than that behind a
// pass is not, and needs RedactByID or EraseContact. Records re-read in
// the window are already redacted and cost a read each.
const AutoRedactLookback = 24 * time.Hour

func (r *Redactor) autoRedactPass(ctx context.Context, ws string, asOf time.Time, settings Settings, p pass, res *AutoRedactResult) error {
	until := asOf.Add(-p.hold)
	var (
		cursor  string // where the next batch of this run resumes
		started bool   // a batch ran: resume from cursor, not from the watermark
		pinned  bool   // a record still holds media that expire later
	)
	for {
		var (
			examined int
			counts   AutoRedactResult
		)
		batch, err := r.run(ctx, ws, call{action: ActionAutoRedact}, func(o *op) error {
			examined, counts = 0, AutoRedactResult{}
			kv, err := o.tx.Bucket(ws, cdrstore.BucketSettings)
			if err != nil {
				return err
			}
			wm := string(kv.Get(watermarkKey(p.name)))
			q := cdrstore.Query{Until: until, Limit: DefaultBatchSize}
			switch {
			case started:
				q.Cursor = cursor
			case wm != "":
				t, err := cdrstore.CursorTime(wm)
				if err != nil {
					return &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketSettings), Key: string(watermarkKey(p.name)), Err: err}
				}
				if since := t.Add(-AutoRedactLookback); since.After(time.Unix(0, 0)) {
					q.Since = since
				}
			}
			// The watermark advances over every record this pass is done
			// with. In the overrides pass, which removes expired media, it
			// stops before the first record whose media expire later, so
			// that a later run comes back to it.
			save := wm
			for rec, err := range o.tx.ByTime(ws, q) {
				if err != nil {
					return err
				}
				if err := o.tick(); err != nil {
					return err
				}
				examined++
				cursor = rec.Cursor()
				changed, err := o.applyPolicy(&rec, asOf, settings, p, &counts)
				if err != nil {
					return err
				}
				if changed {
					o.res.Affected++
					if err := o.put(rec); err != nil {
						return err
					}
				}
				if p.policy == nil && !pinned && mediaPending(&rec, asOf, settings) {
					pinned = true
				}
				if !pinned {
					save = cursor
				}
			}
			if examined == 0 {
				o.noAudit = true
				return nil
			}
			if save != wm {
				if err := o.step("watermark"); err != nil {
					return err
				}
				if err := kv.Put(watermarkKey(p.name), []byte(save)); err != nil {
					return err
				}
			}
			if o.res.Affected == 0 {
				o.noAudit = true
			}
			o.entry.Detail = "pass " + p.name
			return nil
		})
		if err != nil {
			return err
		}
		started = true
		res.ContentDiscarded += counts.ContentDiscarded
		res.AddressesObfuscated += counts.AddressesObfuscated
		res.MediaExpired += counts.MediaExpired
		res.Records += batch.Affected
		res.ByWorkspace[ws] += batch.Affected
		res.Skipped = appendSkipped(res.Skipped, batch.Skipped)
		if examined < DefaultBatchSize {
			return nil
		}
	}
}

// mediaPending reports whether rec still holds media that expire after
// asOf, by their own expires_at or by Settings.MediaExpiry.
func mediaPending(rec *cdrstore.Record, asOf time.Time, settings Settings) bool {
	if len(rec.Media) == 0 {
		return false
	}
	if settings.MediaExpiry > 0 && rec.StartedAt.Add(time.Duration(settings.MediaExpiry)).After(asOf) {
		return true
	}
	for _, m := range rec.Media {
		if m.ExpiresAt.After(asOf) {
			return true
		}
	}
	return false
}

// covers reports whether policy p applies to rec.
func (p *AutoRedactPolicy) covers(rec *cdrstore.Record) bool {
	return p.Product == rec.Product && (p.Direction == "" || p.Direction == rec.Direction)
}

// applyPolicy applies pass p to rec and reports whether rec changed.
func (o *op) applyPolicy(rec *cdrstore.Record, asOf time.Time, settings Settings, p pass, counts *AutoRedactResult) (bool, error) {
	var content, address, media bool
	if p.policy == nil {
		content = rec.ContentRetention == cdrstore.ContentDiscard
		address = rec.AddressRetention == cdrstore.AddressObfuscate
		if settings.MediaExpiry > 0 && !rec.StartedAt.Add(time.Duration(settings.MediaExpiry)).After(asOf) {
			media = true
		}
	} else if p.policy.covers(rec) {
		content = p.policy.Content && rec.ContentRetention != cdrstore.ContentRetain
		address = p.policy.Address && rec.AddressRetention != cdrstore.AddressRetain
	}
	expiredMedia := 0
	for _, m := range rec.Media {
		if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(asOf) {
			expiredMedia++
		}
	}
	needContent := content && contentLeft(rec, false) != 0
	needAddress := address && Counterparty(rec).IsValid()
	needMedia := (media && len(rec.Media) > 0) || expiredMedia > 0
	if !needContent && !needAddress && !needMedia {
		return false, nil
	}
	if why, held, err := o.heldReason(rec); err != nil {
		return false, err
	} else if held {
		o.skip(rec.ID, why)
		return false, nil
	}
	if needContent {
		if _, err := o.discardContent(rec, false); err != nil {
			return false, err
		}
		counts.ContentDiscarded++
	} else if needMedia {
		if err := o.step("outbox"); err != nil {
			return false, err
		}
		var keep []cdrstore.Media
		for _, m := range rec.Media {
			if media || (!m.ExpiresAt.IsZero() && !m.ExpiresAt.After(asOf)) {
				if err := o.enqueue(rec.ID, "media", m.URL); err != nil {
					return false, err
				}
				counts.MediaExpired++
				continue
			}
			keep = append(keep, m)
		}
		rec.Media = keep
		if len(keep) == 0 {
			rec.Media = nil
			rec.Redacted.Fields |= cdrstore.FieldMedia
		}
		rec.Redacted.At = o.now
	}
	if needAddress && o.obfuscateCounterparty(rec) {
		counts.AddressesObfuscated++
	}
	return true, nil
}
