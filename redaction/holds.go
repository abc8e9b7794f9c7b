package redaction

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Hold is a legal hold: while it stands, erasure, redaction, auto-redaction
// and sweeps leave the records it covers alone and report them as skipped.
type Hold struct {
	// Key names what is held: "id:<transaction ID>" for one record, or
	// "number:<hex HMAC of the number>" for every record holding a number
	// (the number itself is never stored).
	Key    string    `json:"key"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// HoldKeyForID returns the hold key of one record.
func HoldKeyForID(id string) string { return "id:" + id }

// HoldKeyForNumber returns the hold key of a number in workspaces of store
// s: its keyed HMAC, so the holds bucket holds no plaintext number.
func HoldKeyForNumber(s *cdrstore.Store, n e164.Number) string {
	return holdKeyForMAC(s.SubjectHMAC(n.String()))
}

// holdKeyForMAC is the hold key of the number whose keyed HMAC is h.
func holdKeyForMAC(h []byte) string { return "number:" + hex.EncodeToString(h) }

// HoldRecord places a legal hold on record id of workspace ws. reason is
// free text with at most six digits (see ErrInvalidReason). Placing a hold
// that exists with the same reason changes nothing; with another reason it
// takes the new one and keeps its first Since.
func (r *Redactor) HoldRecord(ctx context.Context, ws, id, reason string) (Result, error) {
	if err := cdrstore.ValidateID(id); err != nil {
		return Result{}, err
	}
	return r.setHold(ctx, ws, HoldKeyForID(id), reason)
}

// HoldNumber places a legal hold on every record of workspace ws that
// holds number n, now or later.
func (r *Redactor) HoldNumber(ctx context.Context, ws string, n e164.Number, reason string) (Result, error) {
	if !n.IsValid() {
		return Result{}, fmt.Errorf("redaction: hold: %w", e164.ErrInvalidNumber)
	}
	return r.setHold(ctx, ws, HoldKeyForNumber(r.s, n), reason)
}

// ReleaseHold removes the hold with key (see Hold.Key). Releasing a hold
// that does not exist changes nothing. The records it held become
// eligible for auto-redaction again: the next AutoRedact run starts each
// pass from the beginning of the workspace.
func (r *Redactor) ReleaseHold(ctx context.Context, ws, key string) (Result, error) {
	return r.run(ctx, ws, call{action: ActionHold, args: "release\x00" + key, grouped: true}, func(o *op) error {
		kv, err := o.tx.Bucket(ws, cdrstore.BucketHolds)
		if err != nil {
			return err
		}
		if kv.Get([]byte(key)) == nil {
			o.noAudit = true
			return nil
		}
		o.entry.Detail = "release " + holdKind(key)
		o.entry.Subject = holdSubject(o.tx, key)
		if err := o.step("hold"); err != nil {
			return err
		}
		if err := kv.Delete([]byte(key)); err != nil {
			return err
		}
		// The records the hold kept may be behind the auto-redaction
		// watermarks: the next run starts every pass from the beginning.
		if err := o.step("watermark"); err != nil {
			return err
		}
		settings, err := o.tx.Bucket(ws, cdrstore.BucketSettings)
		if err != nil {
			return err
		}
		return resetWatermarks(settings)
	})
}

func holdKind(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}

// holdSubject is the audit subject of the hold with key, placed or
// released: the subject of what it holds, as every other entry about it
// has it. That is the number's keyed HMAC (which the key holds) for a
// number hold, and the transaction ID's keyed HMAC for a record hold (as
// RedactByID and DeleteRecord write); the key's keyed HMAC otherwise.
func holdSubject(tx *cdrstore.Tx, key string) []byte {
	if rest, ok := strings.CutPrefix(key, "number:"); ok {
		if b, err := hex.DecodeString(rest); err == nil {
			return b
		}
	}
	if id, ok := strings.CutPrefix(key, "id:"); ok {
		return tx.SubjectHMAC(id)
	}
	return tx.SubjectHMAC(key)
}

// validateHoldReason checks a hold's reason: free text of 1 to 256 bytes
// (its first 128 go to the audit log) with at most six digits, so that it
// cannot hold a phone number. The error matches ErrInvalidReason.
func validateHoldReason(reason string) error {
	if reason == "" || len(reason) > 256 {
		return fmt.Errorf("%w: a hold reason must be 1 to 256 bytes", ErrInvalidReason)
	}
	if mayHoldNumber(reason) {
		return fmt.Errorf("%w: a hold reason holds more than %d digits (it must not hold a number)", ErrInvalidReason, maxReasonDigits)
	}
	return nil
}

func (r *Redactor) setHold(ctx context.Context, ws, key, reason string) (Result, error) {
	if err := validateHoldReason(reason); err != nil {
		return Result{}, err
	}
	return r.run(ctx, ws, call{action: ActionHold, args: "place\x00" + key + "\x00" + reason, grouped: true}, func(o *op) error {
		kv, err := o.tx.Bucket(ws, cdrstore.BucketHolds)
		if err != nil {
			return err
		}
		h := Hold{Key: key, Reason: reason, Since: o.now}
		if old := kv.Get([]byte(key)); old != nil {
			var prev Hold
			if err := json.Unmarshal(old, &prev); err != nil {
				return &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketHolds), Err: err}
			}
			if prev.Reason == reason {
				o.noAudit = true // placed already: nothing changes
				return nil
			}
			h.Since = prev.Since // a new reason for the same hold
		}
		raw, err := json.Marshal(h)
		if err != nil {
			return err
		}
		o.entry.Detail = "place " + holdKind(key)
		o.entry.Reason = truncate(reason, 128)
		o.entry.Subject = holdSubject(o.tx, key)
		if err := o.step("hold"); err != nil {
			return err
		}
		return kv.Put([]byte(key), raw)
	})
}

// Holds lists the holds of workspace ws.
func (r *Redactor) Holds(ws string) ([]Hold, error) {
	var hs []Hold
	err := r.s.View(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket(ws, cdrstore.BucketHolds)
		if err != nil {
			return err
		}
		for _, v := range kv.Scan(nil, nil) {
			var h Hold
			if err := json.Unmarshal(v, &h); err != nil {
				return &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketHolds), Err: err}
			}
			hs = append(hs, h)
		}
		return nil
	})
	return hs, err
}

// heldReason reports whether rec is under a hold, and the hold's reason.
func (o *op) heldReason(rec *cdrstore.Record) (string, bool, error) {
	if o.held == nil {
		o.held = map[string]string{}
		kv, err := o.tx.Bucket(o.ws, cdrstore.BucketHolds)
		if err != nil {
			return "", false, err
		}
		for k, v := range kv.Scan(nil, nil) {
			var h Hold
			if err := json.Unmarshal(v, &h); err != nil {
				return "", false, &cdrstore.CorruptionError{Workspace: o.ws, Bucket: string(cdrstore.BucketHolds), Err: err}
			}
			o.held[string(k)] = h.Reason
		}
		o.held[""] = "" // loaded marker
	}
	if len(o.held) == 1 {
		return "", false, nil
	}
	if reason, ok := o.held[HoldKeyForID(rec.ID)]; ok {
		return "legal hold: " + reason, true, nil
	}
	for _, n := range rec.Numbers() {
		if reason, ok := o.held[HoldKeyForNumber(o.r.s, n)]; ok {
			return "legal hold: " + reason, true, nil
		}
	}
	// A number the record lost to a redaction while it kept content still
	// names its subject: a hold on that number holds it too.
	links, err := o.tx.Links(rec)
	if err != nil {
		return "", false, err
	}
	for _, h := range links {
		if reason, ok := o.held[holdKeyForMAC(h)]; ok {
			return "legal hold: " + reason, true, nil
		}
	}
	return "", false, nil
}
