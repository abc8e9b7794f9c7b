package redaction

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Opt-outs (a number that sent STOP) are kept under the keyed HMAC of the
// number, so the optout bucket holds no plaintext number, and they are
// checked by HMAC, so they keep working after erasure or auto-redaction
// removed or obfuscated the number in the records. No erasure touches them.

// OptOut records that number n of workspace ws opted out. Repeating it
// keeps the first time.
func (r *Redactor) OptOut(ctx context.Context, ws string, n e164.Number) (Result, error) {
	if !n.IsValid() {
		return Result{}, fmt.Errorf("redaction: opt-out: %w", e164.ErrInvalidNumber)
	}
	return r.run(ctx, ws, call{action: ActionOptOut, args: "add\x00" + n.String(), grouped: true}, func(o *op) error {
		kv, err := o.tx.Bucket(ws, cdrstore.BucketOptout)
		if err != nil {
			return err
		}
		k := o.tx.SubjectHMAC(n.String())
		if kv.Get(k) != nil {
			o.noAudit = true
			return nil
		}
		o.entry.Subject, o.entry.Detail = k, "add"
		if err := o.step("optout"); err != nil {
			return err
		}
		return kv.Put(k, binary.BigEndian.AppendUint64(nil, uint64(o.now.UnixNano())))
	})
}

// RemoveOptOut removes the opt-out of n, a separate, deliberate operation:
// no erasure does it.
func (r *Redactor) RemoveOptOut(ctx context.Context, ws string, n e164.Number) (Result, error) {
	if !n.IsValid() {
		return Result{}, fmt.Errorf("redaction: opt-out: %w", e164.ErrInvalidNumber)
	}
	return r.run(ctx, ws, call{action: ActionOptOut, args: "remove\x00" + n.String(), grouped: true}, func(o *op) error {
		kv, err := o.tx.Bucket(ws, cdrstore.BucketOptout)
		if err != nil {
			return err
		}
		k := o.tx.SubjectHMAC(n.String())
		if kv.Get(k) == nil {
			o.noAudit = true
			return nil
		}
		o.entry.Subject, o.entry.Detail = k, "remove"
		if err := o.step("optout"); err != nil {
			return err
		}
		return kv.Delete(k)
	})
}

// IsOptedOut reports whether n opted out of workspace ws, and since when.
func (r *Redactor) IsOptedOut(ws string, n e164.Number) (bool, time.Time, error) {
	var (
		ok    bool
		since time.Time
	)
	err := r.s.View(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket(ws, cdrstore.BucketOptout)
		if err != nil {
			return err
		}
		v := kv.Get(tx.SubjectHMAC(n.String()))
		if v == nil {
			return nil
		}
		if len(v) != 8 {
			return &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketOptout), Err: fmt.Errorf("value of %d bytes", len(v))}
		}
		ok, since = true, time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		return nil
	})
	return ok, since, err
}
