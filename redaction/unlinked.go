package redaction

import (
	"context"
	"fmt"
	"iter"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// ActionDiscardUnlinked is the audit action of DiscardUnlinked.
const ActionDiscardUnlinked = "data.discard_unlinked"

// Records that lost their counterparty's number to a redaction while they
// kept content are linked to the number's keyed HMAC (the subject index),
// so an erasure of that number still finds them. Records that format v2
// obfuscated are not: the number was gone before the index existed, and
// no erasure can reach their content. This file finds them, and lets an
// operator discard their content.

// unlinked yields the records of ws that lost a number to a redaction,
// still hold content, and are linked to no number.
func unlinked(o *op) iter.Seq2[cdrstore.Record, error] {
	return func(yield func(cdrstore.Record, error) bool) {
		for rec, err := range o.tx.ByTime(o.ws, cdrstore.Query{}) {
			if err != nil {
				yield(rec, err)
				return
			}
			if err := o.tick(); err != nil {
				yield(rec, err)
				return
			}
			if !rec.Redacted.LostNumber() || contentLeft(&rec, true) == 0 {
				continue
			}
			links, err := o.tx.Links(&rec)
			if err != nil {
				yield(rec, err)
				return
			}
			if len(links) == 0 && !yield(rec, nil) {
				return
			}
		}
	}
}

// Unlinked counts, per workspace, the records no erasure can reach: they
// lost their counterparty's number before format v3 linked such records
// to it (see DiscardUnlinked), and still hold content. It writes nothing;
// a workspace with none is left out.
func (r *Redactor) Unlinked(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := r.s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			o := &op{r: r, ctx: ctx, tx: tx, ws: ws, res: Result{DryRun: true}}
			for _, err := range unlinked(o) {
				if err != nil {
					return fmt.Errorf("redaction: unlinked records: %w", err)
				}
				out[ws]++
			}
		}
		return nil
	})
	return out, err
}

// DiscardUnlinked discards the content (body, transcript, recording and
// media, to the outbox) of every record of workspace ws that Unlinked
// counts, skipping held ones: an operator's decision, since these records
// belong to people no erasure can name. One transaction, audited as
// "data.discard_unlinked" with the count, with a receipt. Repeating it
// changes nothing.
func (r *Redactor) DiscardUnlinked(ctx context.Context, ws string) (Result, error) {
	return r.run(ctx, ws, call{action: ActionDiscardUnlinked, erasure: true}, func(o *op) error {
		recs, err := o.collect(unlinked(o))
		if err != nil {
			return err
		}
		return o.forUnheld(recs, func(rec *cdrstore.Record) error {
			if _, err := o.discardContent(rec, false); err != nil {
				return err
			}
			o.res.Affected++
			return o.put(*rec)
		})
	})
}
