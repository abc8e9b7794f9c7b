package redaction

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// AutoRedactOptions tunes AutoRedact.
type AutoRedactOptions struct {
	DryRun    bool // count what would be redacted; write nothing
	BatchSize int  // records per transaction; 0 means DefaultBatchSize
}

// AutoRedactResult counts what AutoRedact did (or would do, in a dry run).
type AutoRedactResult struct {
	ContentDiscarded    int            `json:"content_discarded"`
	AddressesObfuscated int            `json:"addresses_obfuscated"`
	MediaExpired        int            `json:"media_expired"`
	Records             int            `json:"records"`
	Skipped             []Skipped      `json:"skipped,omitempty"`       // the first 1,000 held records left alone
	SkippedCount        int            `json:"skipped_count,omitempty"` // every held record left alone
	ByWorkspace         map[string]int `json:"by_workspace,omitempty"`
	DryRun              bool           `json:"dry_run,omitempty"`
	Replayed            bool           `json:"replayed,omitempty"` // a workspace's figures are its first result under the request ID
}

func (res *AutoRedactResult) add(ws string, w *AutoRedactResult, replayed bool) {
	res.Replayed = res.Replayed || replayed
	res.ContentDiscarded += w.ContentDiscarded
	res.AddressesObfuscated += w.AddressesObfuscated
	res.MediaExpired += w.MediaExpired
	res.Records += w.Records
	res.ByWorkspace[ws] = w.ByWorkspace[ws]
	addSkipped(&res.Skipped, &res.SkippedCount, w.Skipped, w.SkippedCount)
}

func (res *AutoRedactResult) kept() AutoRedactResult {
	k := *res
	k.Skipped = nil
	return k
}

// tally adds the result of one batch of workspace ws, whose counts are
// counts.
func (res *AutoRedactResult) tally(ws string, batch Result, counts AutoRedactResult) {
	if res.ByWorkspace == nil {
		res.ByWorkspace = map[string]int{}
	}
	res.ContentDiscarded += counts.ContentDiscarded
	res.AddressesObfuscated += counts.AddressesObfuscated
	res.MediaExpired += counts.MediaExpired
	res.Records += batch.Affected
	res.ByWorkspace[ws] += batch.Affected
	addSkipped(&res.Skipped, &res.SkippedCount, batch.Skipped, batch.SkippedCount)
}

// AutoRedact applies every workspace's auto-redaction policies as of asOf:
// once a record is older than a policy's hold, its content (body,
// transcript, recording, media) is discarded and its counterparty's number
// replaced by the obfuscated form (last four digits X), whose by_number
// entry goes. Per-record overrides win either way: content_retention
// retain/discard, address_retention retain/obfuscate; discard and
// obfuscate apply at once, with no hold, whatever the policies' holds (the
// record asked for it). Media are also removed once they expire (see
// mediaExpiry).
//
// Each policy keeps a watermark in the settings bucket, and a run starts
// AutoRedactLookback behind it: it visits the records that became
// eligible since the last run and those that arrived late by up to the
// lookback; changing the settings resets the watermarks. The overrides
// pass's watermark stays before the first record whose media have yet to
// expire, so that a later run removes them. Held records are skipped,
// counted (SkippedCount) and the first 1,000 listed; releasing a hold
// resets the workspace's watermarks, so the next run reaches them. A
// record already past a pass's window when it is written is redacted as
// it is written (the Redactor's write hook), so no record a policy covers
// waits behind a watermark: none keeps its content past the window plus
// one run, whatever order records arrive in (Overdue counts any that
// did). Audit action "policy.auto_redact", one entry per batch
// of at most BatchSize records. A dry run reads in read-only transactions
// and writes nothing, watermarks included. A request ID on ctx names the
// whole run, as for Sweep.
func (r *Redactor) AutoRedact(ctx context.Context, asOf time.Time, o AutoRedactOptions) (AutoRedactResult, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	res := AutoRedactResult{ByWorkspace: map[string]int{}, DryRun: o.DryRun}
	err := inWorkspaces(r, ctx, ActionAutoRedact, o.DryRun, &res, func(ctx context.Context, ws string, w *AutoRedactResult) error {
		return r.autoRedactWorkspace(ctx, ws, asOf, o, w)
	})
	return res, err
}

// autoRedactWorkspace runs every pass of workspace ws.
func (r *Redactor) autoRedactWorkspace(ctx context.Context, ws string, asOf time.Time, o AutoRedactOptions, res *AutoRedactResult) error {
	settings, err := r.Settings(ws)
	if err != nil {
		return err
	}
	for _, p := range settings.passes() {
		if err := r.autoRedactPass(ctx, ws, asOf, settings, p, o, res); err != nil {
			return err
		}
	}
	return nil
}

// passes returns the auto-redaction passes of settings: the overrides
// pass, then one per policy.
func (s Settings) passes() []pass {
	passes := []pass{{name: "overrides"}}
	for i := range s.AutoRedact {
		p := &s.AutoRedact[i]
		passes = append(passes, pass{name: p.passName(), hold: time.Duration(p.Hold), policy: p})
	}
	return passes
}

// pass is one sweep of AutoRedact over the records older than asOf-hold,
// resuming from its own watermark.
type pass struct {
	name   string
	hold   time.Duration
	policy *AutoRedactPolicy // nil: the per-record overrides and media expiry
}

func watermarkKey(name string) []byte { return []byte("wm/" + name) }

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
// redacted by the next run; one that arrives already past the window is
// redacted as it is written. Records re-read in the window are already
// redacted and cost a read each.
const AutoRedactLookback = 24 * time.Hour

// covers reports whether policy p applies to rec.
func (p *AutoRedactPolicy) covers(rec *cdrstore.Record) bool {
	return p.Product == rec.Product && (p.Direction == "" || p.Direction == rec.Direction)
}

func (r *Redactor) autoRedactPass(ctx context.Context, ws string, asOf time.Time, settings Settings, p pass, opts AutoRedactOptions, res *AutoRedactResult) error {
	var (
		counts AutoRedactResult // of the running batch
		wm     string           // the pass's watermark as the batch found it
		pinned bool             // a record still holds media that expire later
	)
	return r.runPass(ctx, ws, batchPass{
		call: call{action: ActionAutoRedact, dryRun: opts.DryRun},
		size: opts.BatchSize,
		from: func(o *op, cursor string) (cdrstore.Query, error) {
			counts = AutoRedactResult{}
			kv, err := o.tx.Bucket(ws, cdrstore.BucketSettings)
			if err != nil {
				return cdrstore.Query{}, err
			}
			wm = string(kv.Get(watermarkKey(p.name)))
			q := cdrstore.Query{Until: asOf.Add(-p.hold), Limit: opts.BatchSize}
			switch {
			case cursor != "":
				q.Cursor = cursor
			case wm != "":
				t, err := cdrstore.CursorTime(wm)
				if err != nil {
					return q, &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketSettings), Key: string(watermarkKey(p.name)), Err: err}
				}
				if since := t.Add(-AutoRedactLookback); since.After(time.Unix(0, 0)) {
					q.Since = since
				}
			}
			return q, nil
		},
		write: func(o *op, recs []cdrstore.Record) error {
			if len(recs) == 0 {
				return nil
			}
			// The watermark advances over every record this pass is done
			// with. In the overrides pass, which removes expired media, it
			// stops before the first record whose media expire later, so
			// that a later run comes back to it.
			save := wm
			for i := range recs {
				rec := &recs[i]
				cursor := rec.Cursor()
				changed, err := o.applyPolicy(rec, asOf, settings, p, &counts)
				if err != nil {
					return err
				}
				if changed {
					o.res.Affected++
					if err := o.put(*rec); err != nil {
						return err
					}
				}
				if p.policy == nil && !pinned && mediaPending(rec, asOf, settings) {
					pinned = true
				}
				if !pinned {
					save = cursor
				}
			}
			if save != wm && !o.res.DryRun {
				if err := o.step("watermark"); err != nil {
					return err
				}
				kv, err := o.tx.Bucket(ws, cdrstore.BucketSettings)
				if err != nil {
					return err
				}
				if err := kv.Put(watermarkKey(p.name), []byte(save)); err != nil {
					return err
				}
			}
			o.entry.Detail = "pass " + p.name
			return nil
		},
		tally: func(batch Result) { res.tally(ws, batch, counts) },
	})
}

// mediaExpiry returns when media m of rec expires: at its own expires_at
// or ttl after the record started (the workspace's Settings.MediaExpiry,
// which the overrides pass applies; 0 for none), whichever comes first.
// The zero time means never. It is the one rule for "media expired".
func mediaExpiry(rec *cdrstore.Record, m cdrstore.Media, ttl Duration) time.Time {
	t := m.ExpiresAt
	if ttl > 0 {
		if byAge := rec.StartedAt.Add(time.Duration(ttl)); t.IsZero() || byAge.Before(t) {
			t = byAge
		}
	}
	return t
}

// mediaExpired reports whether media m of rec has expired as of asOf.
func mediaExpired(rec *cdrstore.Record, m cdrstore.Media, asOf time.Time, ttl Duration) bool {
	t := mediaExpiry(rec, m, ttl)
	return !t.IsZero() && !t.After(asOf)
}

// mediaPending reports whether rec still holds media that expire after
// asOf.
func mediaPending(rec *cdrstore.Record, asOf time.Time, settings Settings) bool {
	return slices.ContainsFunc(rec.Media, func(m cdrstore.Media) bool {
		return mediaExpiry(rec, m, settings.MediaExpiry).After(asOf)
	})
}

// applyPolicy applies pass p to rec and reports whether rec changed.
func (o *op) applyPolicy(rec *cdrstore.Record, asOf time.Time, settings Settings, p pass, counts *AutoRedactResult) (bool, error) {
	var content, address bool
	var ttl Duration // the workspace's media expiry is the overrides pass's
	if p.policy == nil {
		content = rec.ContentRetention == cdrstore.ContentDiscard
		address = rec.AddressRetention == cdrstore.AddressObfuscate
		ttl = settings.MediaExpiry
	} else if p.policy.covers(rec) {
		content = p.policy.Content && rec.ContentRetention != cdrstore.ContentRetain
		address = p.policy.Address && rec.AddressRetention != cdrstore.AddressRetain
	}
	expired := func(m cdrstore.Media) bool { return mediaExpired(rec, m, asOf, ttl) }
	needContent := content && contentLeft(rec, false) != 0
	needAddress := address && Counterparty(rec).IsValid()
	needMedia := slices.ContainsFunc(rec.Media, expired)
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
			if expired(m) {
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

// Overdue counts, per workspace, the records an auto-redaction policy (or
// a per-record override, or media expiry) should have redacted as of asOf
// and has not: past a pass's window, not held, and still holding what the
// pass removes. It reads every record and writes nothing; a workspace
// with none is left out. It checks ctx every 128 records.
func (r *Redactor) Overdue(ctx context.Context, asOf time.Time) (map[string]int, error) {
	out := map[string]int{}
	err := r.s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			settings, err := LoadSettings(tx, ws)
			if err != nil {
				return err
			}
			passes := settings.passes()
			o := &op{r: r, ctx: ctx, tx: tx, ws: ws, now: asOf, res: Result{DryRun: true}}
			var counts AutoRedactResult
			for rec, err := range tx.ByTime(ws, cdrstore.Query{Until: asOf}) {
				if err != nil {
					return err
				}
				if err := o.tick(); err != nil {
					return fmt.Errorf("redaction: overdue: %w", err)
				}
				for _, p := range passes {
					if rec.StartedAt.Add(p.hold).After(asOf) {
						continue
					}
					due, err := o.applyPolicy(&rec, asOf, settings, p, &counts)
					if err != nil {
						return err
					}
					if due {
						out[ws]++
						break
					}
				}
			}
		}
		return nil
	})
	return out, err
}
