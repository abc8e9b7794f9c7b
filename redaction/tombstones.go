package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
)

// This file is the one home of what an erasure leaves behind for records
// that arrive after it (tombstones), and of what a write does to a record
// an erasure covered. cdrstore keeps the tombstones and calls writeHook
// from every write path.

// Tombstone kinds (cdrstore.Tombstone.Kind; part of format v3): what the
// erasure that left the tombstone does to a record it covers.
const (
	tombContact byte = 1 // EraseContact: content replaced by the placeholders
	tombRedact  byte = 2 // RedactByID: content and counterparty removed
	tombDelete  byte = 3 // DeleteRecord, DeleteConversation: not stored
)

// ActionTombstoneApply is the audit action of a write that stored records
// erased, or kept them out, because an erasure covered them or they were
// past the last sweep's cutoff. Its entry holds counts only.
const ActionTombstoneApply = "tombstone.apply"

// leaveTombstone records, in o's transaction, that records of workspace
// o.ws matching subject (by term) that started before the request's issue
// time are to be treated as kind erased them. A dry run leaves none.
func (o *op) leaveTombstone(term cdrstore.Term, kind byte, subject string) error {
	if o.res.DryRun {
		return nil
	}
	if err := o.step("tombstone"); err != nil {
		return err
	}
	return o.tx.PutTombstone(o.ws, cdrstore.Tombstone{Term: term, Kind: kind, Subject: o.tx.SubjectHMAC(subject), At: issuedAt(o.ctx, o.now)})
}

// issuedAt is when the request on ctx was issued (Request.IssuedAt), or
// now when it carries none or a time after now: a tombstone never covers
// records that started after the request was made, so replaying an old
// request reaches no newer record.
func issuedAt(ctx context.Context, now time.Time) time.Time {
	at := requestFrom(ctx).IssuedAt
	if at.IsZero() || at.After(now) {
		return now
	}
	return at.UTC()
}

// writeHook is the cdrstore.WriteHook a Redactor installs on its store.
type writeHook struct{ r *Redactor }

func (h writeHook) Begin(tx *cdrstore.Tx) (cdrstore.WriteFilter, error) {
	return &writeFilter{r: h.r, tx: tx, now: tx.Now(), ws: map[string]*wsFilter{}}, nil
}

// writeFilter applies tombstones to the records of one write transaction.
type writeFilter struct {
	r   *Redactor
	tx  *cdrstore.Tx
	now time.Time
	ws  map[string]*wsFilter
	// last is the workspace of the previous record: batches hold runs of
	// one workspace.
	last *wsFilter
}

// wsFilter is the state of one workspace within a write.
type wsFilter struct {
	o      *op // for holds, the outbox and the step hook
	floors map[cdrstore.Product]time.Time
	// settings and passes are the workspace's auto-redaction policies
	// (the overrides pass first).
	settings Settings
	passes   []pass
	counts   cdrstore.WriteResult
	auto     AutoRedactResult // what the policies did at write time
	autoRecs int              // records they changed
}

func (f *writeFilter) workspace(ws string) (*wsFilter, error) {
	if f.last != nil && f.last.o.ws == ws {
		return f.last, nil
	}
	w := f.ws[ws]
	if w == nil {
		floors, err := loadFloors(f.tx, ws)
		if err != nil {
			return nil, err
		}
		settings, err := LoadSettings(f.tx, ws)
		if err != nil {
			return nil, err
		}
		w = &wsFilter{o: &op{r: f.r, ctx: context.Background(), tx: f.tx, ws: ws, now: f.now}, floors: floors,
			settings: settings, passes: settings.passes()}
		f.ws[ws] = w
	}
	f.last = w
	return w, nil
}

// Filter stores rec as the erasures that cover it left it: deleted (not
// stored, its blobs to the outbox), redacted (content and counterparty
// removed) or erased (content replaced by the placeholders). A record that
// started before the cutoff of the workspace's last completed sweep (for
// its product) is not stored either: Expire. A legal hold wins: a held
// record is stored as given.
func (f *writeFilter) Filter(rec *cdrstore.Record, m cdrstore.Match) (cdrstore.Verdict, error) {
	w, err := f.workspace(rec.Workspace)
	if err != nil {
		return cdrstore.Keep, err
	}
	floor := w.floors[rec.Product]
	expired := !floor.IsZero() && rec.StartedAt.Before(floor)
	if len(m.Tombstones) == 0 && !expired {
		if m.Stored {
			// A record stored before is the auto-redaction runs'
			// business (and the operations' own writes pass here).
			return cdrstore.Keep, nil
		}
		return f.autoRedact(w, rec)
	}
	o := w.o
	if _, held, err := o.heldReason(rec); err != nil || held {
		return cdrstore.Keep, err
	}
	if expired {
		// A record the last sweep would have deleted does not come
		// back; its recording and media exist outside the store.
		if _, err := o.discardContent(rec, false); err != nil {
			return cdrstore.Keep, err
		}
		w.counts.Expired++
		return cdrstore.Expire, nil
	}
	var contact, redact, del bool
	for _, t := range m.Tombstones {
		switch t.Kind {
		case tombContact:
			contact = true
		case tombRedact:
			redact = true
		case tombDelete:
			del = true
		default:
			return cdrstore.Keep, &cdrstore.CorruptionError{Workspace: rec.Workspace, Bucket: "tombstones", Err: fmt.Errorf("unknown tombstone kind %d", t.Kind)}
		}
	}
	if del {
		// Its recording and media exist outside the store: they go too.
		if _, err := o.discardContent(rec, false); err != nil {
			return cdrstore.Keep, err
		}
		w.counts.Dropped++
		return cdrstore.Drop, nil
	}
	changed := false
	if contact {
		c, err := o.discardContent(rec, true)
		if err != nil {
			return cdrstore.Keep, err
		}
		changed = changed || c
	}
	if redact {
		c, err := o.discardContent(rec, false)
		if err != nil {
			return cdrstore.Keep, err
		}
		changed = o.removeCounterparty(rec) || c || changed
	}
	if !changed {
		return cdrstore.Keep, nil
	}
	w.counts.Changed++
	return cdrstore.Changed, nil
}

// autoRedact applies to rec, a record not stored before, every
// auto-redaction pass whose window it is already past (a CDR that arrives
// late, or a policy with no hold): it is stored redacted, as a run would
// have left it. A held record is stored as given.
func (f *writeFilter) autoRedact(w *wsFilter, rec *cdrstore.Record) (cdrstore.Verdict, error) {
	changed := false
	for _, p := range w.passes {
		if rec.StartedAt.Add(p.hold).After(f.now) {
			continue
		}
		c, err := w.o.applyPolicy(rec, f.now, w.settings, p, &w.auto)
		if err != nil {
			return cdrstore.Keep, err
		}
		changed = changed || c
	}
	if !changed {
		return cdrstore.Keep, nil
	}
	w.autoRecs++
	return cdrstore.Changed, nil
}

// Finish appends, for each workspace where the write erased or kept out
// records, one audit entry with the counts, and one for the records
// auto-redaction policies redacted as they were written.
func (f *writeFilter) Finish() error {
	for ws, w := range f.ws {
		if w.autoRecs > 0 {
			if err := w.o.step("audit"); err != nil {
				return err
			}
			a := w.auto
			e := audit.Entry{Action: ActionAutoRedact, Time: f.now, Count: uint64(w.autoRecs),
				Detail: fmt.Sprintf("at write: content %d, addresses %d, media %d", a.ContentDiscarded, a.AddressesObfuscated, a.MediaExpired)}
			if _, err := f.tx.AppendAudit(ws, e); err != nil {
				return err
			}
		}
		c := w.counts
		n := c.Changed + c.Dropped + c.Expired
		if n == 0 {
			continue
		}
		if err := w.o.step("audit"); err != nil {
			return err
		}
		e := audit.Entry{Action: ActionTombstoneApply, Time: f.now, Count: uint64(n),
			Detail: fmt.Sprintf("erased %d, not stored %d, expired %d", c.Changed, c.Dropped, c.Expired)}
		if _, err := f.tx.AppendAudit(ws, e); err != nil {
			return err
		}
	}
	return nil
}

// sweptKey is the settings key that keeps, per product, the cutoff of the
// workspace's last completed sweep (JSON object of RFC 3339 times): a
// record that started before it is not stored again.
var sweptKey = []byte("swept")

// sweptThrough records that a sweep of ws completed with cutoffs: each
// product's floor rises to its cutoff (never falls, so a swept record
// cannot come back through a later sweep with a longer retention), and
// the tombstones issued at or before the lowest floor go, since every
// record they cover is now kept out as expired.
func (r *Redactor) sweptThrough(ctx context.Context, ws string, cutoffs map[cdrstore.Product]time.Time) error {
	_, err := r.run(ctx, ws, call{action: ActionRetentionSweep}, func(o *op) error {
		o.noAudit = true
		floors, err := loadFloors(o.tx, ws)
		if err != nil {
			return err
		}
		changed := false
		for p, c := range cutoffs {
			if c.After(floors[p]) {
				floors[p], changed = c, true
			}
		}
		if changed {
			if err := o.step("sweep floor"); err != nil {
				return err
			}
			raw, err := json.Marshal(floors)
			if err != nil {
				return err
			}
			kv, err := o.tx.Bucket(ws, cdrstore.BucketSettings)
			if err != nil {
				return err
			}
			if err := kv.Put(sweptKey, raw); err != nil {
				return err
			}
		}
		lowest := time.Time{}
		for _, p := range cdrstore.Products() {
			if f := floors[p]; lowest.IsZero() || f.Before(lowest) {
				lowest = f
			}
		}
		if lowest.IsZero() {
			return nil
		}
		if err := o.step("drop tombstones"); err != nil {
			return err
		}
		if _, err := o.tx.DropTombstones(ws, lowest); err != nil {
			return err
		}
		// A fleet may replay a request as old as the longest retention:
		// results kept before the lowest cutoff go, none sooner.
		return o.pruneRequests(lowest)
	})
	return err
}

// loadFloors returns the per-product cutoffs of ws's last completed sweep
// (an empty map when it was never swept).
func loadFloors(tx *cdrstore.Tx, ws string) (map[cdrstore.Product]time.Time, error) {
	floors := map[cdrstore.Product]time.Time{}
	kv, err := tx.Bucket(ws, cdrstore.BucketSettings)
	if err != nil {
		return nil, err
	}
	if raw := kv.Get(sweptKey); raw != nil {
		if err := json.Unmarshal(raw, &floors); err != nil {
			return nil, &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketSettings), Key: string(sweptKey), Err: err}
		}
	}
	return floors, nil
}

// pruneRequests deletes the request results of o.ws kept before cutoff. A
// result kept before format v3 carries no time: it gets o.now, and goes
// once that is before a later sweep's cutoff.
func (o *op) pruneRequests(cutoff time.Time) error {
	kv, err := o.tx.Bucket(o.ws, cdrstore.BucketRequests)
	if err != nil {
		return err
	}
	var gone [][]byte
	stamp := map[string][]byte{}
	for k, v := range kv.Scan(nil, nil) {
		var st storedResult
		if err := json.Unmarshal(v, &st); err != nil {
			return &cdrstore.CorruptionError{Workspace: o.ws, Bucket: string(cdrstore.BucketRequests), Err: err}
		}
		switch {
		case st.At.IsZero():
			st.At = o.now
			raw, err := json.Marshal(st)
			if err != nil {
				return err
			}
			stamp[string(k)] = raw
		case st.At.Before(cutoff):
			gone = append(gone, k)
		}
	}
	if len(gone)+len(stamp) == 0 {
		return nil
	}
	if err := o.step("requests"); err != nil {
		return err
	}
	for _, k := range gone {
		if err := kv.Delete(k); err != nil {
			return err
		}
	}
	for k, v := range stamp {
		if err := kv.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}
