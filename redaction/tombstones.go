package redaction

import (
	"context"
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
	counts cdrstore.WriteResult
}

func (f *writeFilter) workspace(ws string) *wsFilter {
	if f.last != nil && f.last.o.ws == ws {
		return f.last
	}
	w := f.ws[ws]
	if w == nil {
		w = &wsFilter{o: &op{r: f.r, ctx: context.Background(), tx: f.tx, ws: ws, now: f.now}}
		f.ws[ws] = w
	}
	f.last = w
	return w
}

// Filter stores rec as the erasures that cover it left it: deleted (not
// stored, its blobs to the outbox), redacted (content and counterparty
// removed) or erased (content replaced by the placeholders). A legal hold
// wins: a held record is stored as given.
func (f *writeFilter) Filter(rec *cdrstore.Record, m cdrstore.Match) (cdrstore.Verdict, error) {
	if len(m.Tombstones) == 0 {
		return cdrstore.Keep, nil
	}
	w := f.workspace(rec.Workspace)
	o := w.o
	if _, held, err := o.heldReason(rec); err != nil || held {
		return cdrstore.Keep, err
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

// Finish appends, for each workspace where the write erased or kept out
// records, one audit entry with the counts.
func (f *writeFilter) Finish() error {
	for ws, w := range f.ws {
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
