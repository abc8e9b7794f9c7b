package redaction

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// OutboxItem is an external blob (a recording, a media file) whose
// reference was removed from a record and which must still be deleted
// where it lives.
type OutboxItem struct {
	Workspace string    `json:"-"`
	Seq       uint64    `json:"-"`
	URL       string    `json:"url"`
	RecordID  string    `json:"record_id"`
	Kind      string    `json:"kind"` // "recording" or "media"
	Since     time.Time `json:"since"`
}

// Deleter deletes an external blob. DeleteBlob must be idempotent: an item
// may be handed over more than once (after a crash between the deletion and
// the removal of the outbox entry).
type Deleter interface {
	DeleteBlob(ctx context.Context, url string) error
}

// DeleterFunc adapts a function to Deleter.
type DeleterFunc func(ctx context.Context, url string) error

// DeleteBlob calls f.
func (f DeleterFunc) DeleteBlob(ctx context.Context, url string) error { return f(ctx, url) }

// DrainResult counts what DrainOutbox did.
type DrainResult struct {
	Deleted int `json:"deleted"`
	Failed  int `json:"failed"`
	Pending int `json:"pending"`
}

// enqueue writes an outbox entry for url in the operation's transaction
// (a dry run writes nothing).
func (o *op) enqueue(recordID, kind, url string) error {
	if o.res.DryRun {
		return nil
	}
	kv, err := o.tx.Bucket(o.ws, cdrstore.BucketOutbox)
	if err != nil {
		return err
	}
	seq, err := kv.NextSequence()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(OutboxItem{URL: url, RecordID: recordID, Kind: kind, Since: o.now})
	if err != nil {
		return err
	}
	return kv.Put(binary.BigEndian.AppendUint64(nil, seq), raw)
}

// Outbox returns up to limit pending items of workspace ws, oldest first.
func (r *Redactor) Outbox(ws string, limit int) ([]OutboxItem, error) {
	var items []OutboxItem
	err := r.s.View(func(tx *cdrstore.Tx) error {
		var err error
		items, err = pending(tx, ws, 0, limit)
		return err
	})
	return items, err
}

// pending returns up to limit items with a seq greater than after.
func pending(tx *cdrstore.Tx, ws string, after uint64, limit int) ([]OutboxItem, error) {
	kv, err := tx.Bucket(ws, cdrstore.BucketOutbox)
	if err != nil {
		return nil, err
	}
	var items []OutboxItem
	for k, v := range kv.Scan(nil, binary.BigEndian.AppendUint64(nil, after+1)) {
		if len(items) == limit {
			break
		}
		var it OutboxItem
		if err := json.Unmarshal(v, &it); err != nil || len(k) != 8 {
			return nil, &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketOutbox), Err: errors.New("malformed entry")}
		}
		it.Workspace, it.Seq = ws, binary.BigEndian.Uint64(k)
		items = append(items, it)
	}
	return items, nil
}

// DrainOutbox hands the pending items of workspace ws (every workspace
// when ws is empty) to del, oldest first, and removes each item only after
// del succeeded: delivery is at least once and survives a crash. A failed
// item stays for the next drain. It stops early, returning the wrapped
// ctx.Err(), when ctx is cancelled.
func (r *Redactor) DrainOutbox(ctx context.Context, ws string, del Deleter) (DrainResult, error) {
	var res DrainResult
	workspaces := []string{ws}
	if ws == "" {
		if err := r.s.View(func(tx *cdrstore.Tx) error { workspaces = tx.Workspaces(); return nil }); err != nil {
			return res, err
		}
	}
	for _, w := range workspaces {
		var after uint64
		for {
			var items []OutboxItem
			err := r.s.View(func(tx *cdrstore.Tx) error {
				var err error
				items, err = pending(tx, w, after, 256)
				return err
			})
			if err != nil {
				return res, err
			}
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				after = it.Seq
				if err := ctx.Err(); err != nil {
					return res, fmt.Errorf("redaction: drain outbox: %w", err)
				}
				if err := del.DeleteBlob(ctx, it.URL); err != nil {
					res.Failed++
					continue
				}
				err := r.s.Update(func(tx *cdrstore.Tx) error {
					kv, err := tx.Bucket(w, cdrstore.BucketOutbox)
					if err != nil {
						return err
					}
					return kv.Delete(binary.BigEndian.AppendUint64(nil, it.Seq))
				})
				if err != nil {
					return res, err
				}
				res.Deleted++
			}
		}
	}
	err := r.s.View(func(tx *cdrstore.Tx) error {
		for _, w := range workspaces {
			kv, err := tx.Bucket(w, cdrstore.BucketOutbox)
			if err != nil {
				return err
			}
			res.Pending += kv.Len()
		}
		return nil
	})
	return res, err
}
