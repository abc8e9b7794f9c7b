package redaction

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// RedactByID redacts the record id of workspace ws the way the Vonage
// Redact API does: it removes the body, transcript, recording and media
// (each removed URL goes to the outbox) and the counterparty's number,
// whose by_number index entry goes with it. The product and direction must
// match the record, or the error is a *NotFoundError ("type=MT"/"type=MO"
// for SMS). It refuses a record younger than the workspace's premature
// window with a *PrematureRedactionError, a product the workspace is not
// provisioned for with a *NotProvisionedError, and a held record with a
// *HoldError. Repeating it changes no record (Affected 0) but, like every
// erasure request, is audited and gets a receipt.
func (r *Redactor) RedactByID(ctx context.Context, ws, id string, p cdrstore.Product, d cdrstore.Direction) (Result, error) {
	if err := cdrstore.ValidateID(id); err != nil {
		return Result{}, err
	}
	if !p.Valid() {
		return Result{}, productError(string(p))
	}
	if !d.Valid() {
		return Result{}, ErrInvalidDirection
	}
	c := call{action: ActionRedactTransaction, args: id + "\x00" + string(p) + "\x00" + string(d), erasure: true, grouped: true}
	return r.run(ctx, ws, c, func(o *op) error {
		settings, err := LoadSettings(o.tx, ws)
		if err != nil {
			return err
		}
		if !settings.Provisioned(p) {
			return &NotProvisionedError{Workspace: ws, Product: p}
		}
		rec, err := o.tx.Get(ws, id)
		if err != nil {
			if isNotFound(err) {
				return &NotFoundError{ID: id, Product: p, Direction: d}
			}
			return err
		}
		if rec.Product != p || rec.Direction != d {
			return &NotFoundError{ID: id, Product: p, Direction: d}
		}
		if eligible := rec.StartedAt.Add(settings.Premature()); o.now.Before(eligible) {
			return &PrematureRedactionError{ID: id, EligibleAt: eligible, Wait: eligible.Sub(o.now)}
		}
		if reason, held, err := o.heldReason(&rec); err != nil {
			return err
		} else if held {
			return &HoldError{ID: id, Reason: reason}
		}
		o.entry.Subject = o.tx.SubjectHMAC(id)
		changed, err := o.discardContent(&rec, false)
		if err != nil {
			return err
		}
		if o.removeCounterparty(&rec) {
			changed = true
		}
		if changed {
			o.res.Affected = 1
			if err := o.put(rec); err != nil {
				return err
			}
		}
		// A copy of the CDR delivered later comes in redacted.
		return o.leaveTombstone(cdrstore.TermID, tombRedact, id)
	})
}

func isNotFound(err error) bool {
	return err != nil && errors.Is(err, cdrstore.ErrNotFound)
}

// put writes rec (its indexes follow the diff) as one write step; a dry
// run writes nothing.
func (o *op) put(rec cdrstore.Record) error {
	if o.res.DryRun {
		return nil
	}
	if err := o.step("record"); err != nil {
		return err
	}
	return o.tx.Put(rec)
}

// EraseContact erases the content of every record of workspace ws where n
// is the From or To number, as the contact-erasure contract has it: bodies
// become "[REDACTED]", transcripts ["[REDACTED]"], recordings and media are
// removed (to the outbox). Numbers, index entries and opt-outs stay. Held
// records are skipped and listed, and Erased is then false: the contact's
// history was not all erased. RecordsAffected counts records actually
// changed, so a repeat returns 0 and no error. The audit entry
// ("data.erasure") carries reason (a code: see ValidateReason) and the
// keyed HMAC of n. A workspace that does not exist is an error matching
// cdrstore.ErrNotFound, and nothing is written.
func (r *Redactor) EraseContact(ctx context.Context, ws string, n e164.Number, reason string) (EraseResult, error) {
	return r.eraseContact(ctx, ws, n, reason, call{})
}

// EraseContactOptions tunes EraseContactWith.
type EraseContactOptions struct {
	// AheadOfWorkspace records the erasure in a workspace that does not
	// exist yet, creating it, instead of failing with an error matching
	// cdrstore.ErrNotFound: its tombstone then erases what is ingested
	// there later. It is meant for a fleet node that receives an erasure
	// for a workspace it has not seen yet; a local caller leaves it
	// false, so that a mistyped workspace fails instead of looking like
	// success.
	AheadOfWorkspace bool
}

// EraseContactWith is EraseContact with options.
func (r *Redactor) EraseContactWith(ctx context.Context, ws string, n e164.Number, reason string, o EraseContactOptions) (EraseResult, error) {
	return r.eraseContact(ctx, ws, n, reason, call{createWorkspace: o.AheadOfWorkspace})
}

// EraseContactDryRun counts what EraseContact would change, writing nothing.
func (r *Redactor) EraseContactDryRun(ctx context.Context, ws string, n e164.Number) (EraseResult, error) {
	return r.eraseContact(WithRequest(ctx, Request{Actor: requestFrom(ctx).Actor}), ws, n, "", call{dryRun: true})
}

// eraseContact runs EraseContact with the options of opt (dryRun,
// createWorkspace).
func (r *Redactor) eraseContact(ctx context.Context, ws string, n e164.Number, reason string, opt call) (EraseResult, error) {
	dryRun := opt.dryRun
	if !n.IsValid() {
		return EraseResult{}, fmt.Errorf("redaction: erase contact: %w", e164.ErrInvalidNumber)
	}
	if !dryRun {
		if err := ValidateReason(reason); err != nil {
			return EraseResult{}, err
		}
	}
	c := call{action: ActionDataErasure, args: n.String() + "\x00" + reason, erasure: true, dryRun: dryRun, grouped: true, createWorkspace: opt.createWorkspace}
	out, err := run(r, ctx, ws, c, func(o *op) error {
		o.entry.Reason = reason
		o.entry.Subject = o.tx.SubjectHMAC(n.String())
		recs, err := o.collect(o.tx.ByNumber(ws, n, cdrstore.Query{Limit: 1 << 62}))
		if err != nil {
			return err
		}
		err = o.forUnheld(recs, func(rec *cdrstore.Record) error {
			changed, err := o.discardContent(rec, true)
			if err != nil || !changed {
				return err
			}
			o.res.Affected++
			return o.put(*rec)
		})
		if err != nil {
			return err
		}
		// Records of the contact that started before the request and
		// arrive after it come in erased.
		return o.leaveTombstone(cdrstore.TermNumber, tombContact, n.String())
	}, func(o *op) EraseResult {
		// The number is set below, not here: this value is also what the
		// requests bucket keeps for a replay, and that holds no plaintext
		// number. A replay is bound to the same number by its fingerprint.
		return EraseResult{Result: o.res, Erased: !dryRun && o.res.SkippedCount == 0, RecordsAffected: o.res.Affected}
	})
	out.E164 = n
	return out, err
}

// DeleteRecord deletes record id of workspace ws (a voice leg, say) with
// its index entries; its recording and media go to the outbox. Deleting a
// record that does not exist is not an error: Affected is 0; a workspace
// that does not exist is (cdrstore.ErrNotFound). A held record is refused
// with a *HoldError.
func (r *Redactor) DeleteRecord(ctx context.Context, ws, id string) (Result, error) {
	if err := cdrstore.ValidateID(id); err != nil {
		return Result{}, err
	}
	return r.run(ctx, ws, call{action: ActionRecordDelete, args: "id\x00" + id, erasure: true, grouped: true}, func(o *op) error {
		o.entry.Subject = o.tx.SubjectHMAC(id)
		rec, err := o.tx.Get(ws, id)
		if err != nil && !isNotFound(err) {
			return err
		}
		if err == nil {
			if why, held, err := o.heldReason(&rec); err != nil {
				return err
			} else if held {
				return &HoldError{ID: id, Reason: why}
			}
			if err := o.delete(rec); err != nil {
				return err
			}
		}
		// The record, delivered again or for the first time, is not
		// stored.
		return o.leaveTombstone(cdrstore.TermID, tombDelete, id)
	})
}

// delete removes rec, queueing its blobs in the outbox.
func (o *op) delete(rec cdrstore.Record) error {
	return o.deleteAll([]cdrstore.Record{rec})
}

// deleteAll removes recs, queueing their blobs in the outbox (a dry run
// only counts them). recs were read in this transaction and
// discardContent changes only their content, so RemoveAll finds their
// index entries from them.
func (o *op) deleteAll(recs []cdrstore.Record) error {
	for i := range recs {
		if _, err := o.discardContent(&recs[i], false); err != nil {
			return err
		}
		if o.res.DryRun {
			continue
		}
		if err := o.step("record"); err != nil {
			return err
		}
	}
	if !o.res.DryRun {
		if err := o.tx.RemoveAll(recs); err != nil {
			return err
		}
	}
	o.res.Affected += len(recs)
	return nil
}

// DeleteConversation deletes every leg of conversation conv in workspace
// ws, as DeleteRecord does each; held legs are skipped and listed.
func (r *Redactor) DeleteConversation(ctx context.Context, ws, conv string) (Result, error) {
	if conv == "" || len(conv) > cdrstore.MaxConversationLen {
		return Result{}, fmt.Errorf("redaction: conversation ID empty or too long: %w", cdrstore.ErrInvalidRecord)
	}
	return r.run(ctx, ws, call{action: ActionRecordDelete, args: "conversation\x00" + conv, erasure: true, grouped: true}, func(o *op) error {
		o.entry.Subject = o.tx.SubjectHMAC(conv)
		o.entry.Detail = "conversation"
		legs, err := o.collect(o.tx.ByConversation(ws, conv, cdrstore.Query{Limit: 1 << 62}))
		if err != nil {
			return err
		}
		if err := o.forUnheld(legs, func(rec *cdrstore.Record) error { return o.delete(*rec) }); err != nil {
			return err
		}
		return o.leaveTombstone(cdrstore.TermConversation, tombDelete, conv)
	})
}

// collect reads seq to its end, checking the context, so that the records
// can be rewritten afterwards without writing under a running cursor.
func (o *op) collect(seq iter.Seq2[cdrstore.Record, error]) ([]cdrstore.Record, error) {
	var recs []cdrstore.Record
	for rec, err := range seq {
		if err != nil {
			return nil, err
		}
		if err := o.tick(); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// forUnheld calls fn for each record not under a legal hold and lists the
// held ones as skipped.
func (o *op) forUnheld(recs []cdrstore.Record, fn func(*cdrstore.Record) error) error {
	for i := range recs {
		if err := o.tick(); err != nil {
			return err
		}
		if why, held, err := o.heldReason(&recs[i]); err != nil {
			return err
		} else if held {
			o.skip(recs[i].ID, why)
			continue
		}
		if err := fn(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}
