package redaction

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// This file holds request IDs: what an operation keeps under one, and how a
// repeat of the ID replays it.

// MaxRequestIDLen bounds Request.ID and Request.Actor, in bytes.
const MaxRequestIDLen = 128

// Request carries request-scoped metadata of an operation.
type Request struct {
	// ID is an idempotency key (≤ 128 bytes): replaying it returns the
	// first result and applies nothing.
	ID string
	// Actor names who asked (an API key ID, "cdradmin"); it goes to the
	// audit entry.
	Actor string
	// IssuedAt is when the request was made (zero: now). The tombstone
	// an erasure leaves covers the records that started before it, so a
	// request replayed later, from a bus say, never reaches records that
	// started after it was made. A time after now counts as now.
	IssuedAt time.Time
}

type requestKey struct{}

// WithRequest returns a context carrying req for the operations it is
// passed to.
func WithRequest(ctx context.Context, req Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// RequestFrom returns the Request ctx carries (the zero Request when none).
func RequestFrom(ctx context.Context) Request { return requestFrom(ctx) }

func requestFrom(ctx context.Context) Request {
	req, _ := ctx.Value(requestKey{}).(Request)
	return req
}

// storedResult is what the requests bucket keeps for a request ID: the
// operation's action, the keyed HMAC of its arguments (so that the ID
// replays only the request it was first given with) and its result, which
// holds no plaintext number.
type storedResult struct {
	Action      string          `json:"action"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	Result      json.RawMessage `json:"result"`
	// At is when the result was kept (format v3; absent before), so that
	// the sweep prunes it once it is older than the longest retention.
	At time.Time `json:"at,omitzero"`
}

// keepRequest keeps result v of the operation under request ID id, with
// fingerprint fp, in the operation's transaction.
func (o *op) keepRequest(id, fp string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := o.step("request"); err != nil {
		return err
	}
	kv, err := o.tx.Bucket(o.ws, cdrstore.BucketRequests)
	if err != nil {
		return err
	}
	stored, err := json.Marshal(storedResult{Action: o.res.Action, Fingerprint: fp, Result: raw, At: o.now})
	if err != nil {
		return err
	}
	// Keyed by the ID's HMAC: the file holds no caller-chosen string.
	return kv.Put(o.tx.RequestKey(id), stored)
}

// result lets replay reach the Result inside Result and EraseResult.
func (r *Result) result() *Result { return r }

type resulter interface{ result() *Result }

// fingerprint is the keyed HMAC of c's action and arguments, in hex: what
// binds a request ID to the request it was first given with.
func fingerprint(tx *cdrstore.Tx, c call) string {
	return hex.EncodeToString(tx.SubjectHMAC("request\x00" + c.action + "\x00" + c.args))
}

// replay loads the stored result of request ID id into out. A request ID
// stored with another action or other arguments is ErrRequestConflict.
// (Results stored before fingerprints existed carry none, and replay on
// the action alone.)
func replay(tx *cdrstore.Tx, ws, id, action, fingerprint string, out any) (bool, error) {
	kv, err := tx.Bucket(ws, cdrstore.BucketRequests)
	if err != nil {
		return false, err
	}
	key := tx.RequestKey(id)
	raw := kv.Get(key)
	if raw == nil {
		return false, nil
	}
	var st storedResult
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketRequests), Key: hex.EncodeToString(key), Err: err}
	}
	if st.Action != action {
		// The ID is the caller's own string: it is not repeated here, as
		// the error travels to logs, sockets and fleet reports.
		return false, fmt.Errorf("%w: it was %s", ErrRequestConflict, st.Action)
	}
	if st.Fingerprint != "" && st.Fingerprint != fingerprint {
		return false, fmt.Errorf("%w: it was %s with other arguments", ErrRequestConflict, action)
	}
	if err := json.Unmarshal(st.Result, out); err != nil {
		return false, err
	}
	if rs, ok := out.(resulter); ok {
		rs.result().Replayed = true
	}
	return true, nil
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
	_, err := run(r, WithRequest(ctx, Request{ID: id, Actor: requestFrom(ctx).Actor}), ws, call{action: action},
		func(o *op) error { o.noAudit = true; return nil }, func(*op) any { return v })
	return err
}

// auditRequestID is what an audit entry keeps of request ID id: the hex
// keyed HMAC under which the requests bucket keeps it (64 characters), not
// the caller's string. An auditor holding the ID finds its entries by
// computing the same HMAC.
func auditRequestID(tx *cdrstore.Tx, id string) string {
	if id == "" {
		return ""
	}
	return hex.EncodeToString(tx.RequestKey(id))
}

// isRequestHMAC reports whether an audit entry's request ID is a keyed
// HMAC (written since format v3) rather than the caller's own string.
func isRequestHMAC(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// PlaintextRequestIDs counts, per workspace, the audit entries that hold a
// caller-chosen request ID as it was given (written before format v3;
// entries keep their bytes, so that the hash chain and receipts stay
// verifiable). Such an ID may hold a phone number. An ID of 64 lowercase
// hex digits is taken for an HMAC.
func (r *Redactor) PlaintextRequestIDs(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := r.s.View(func(tx *cdrstore.Tx) error {
		n := 0
		for _, ws := range tx.Workspaces() {
			for e, err := range tx.AuditEntries(ws, 0) {
				if err != nil {
					return err
				}
				if n++; n%128 == 0 && ctx.Err() != nil {
					return fmt.Errorf("redaction: audit request IDs: %w", ctx.Err())
				}
				if e.RequestID != "" && !isRequestHMAC(e.RequestID) {
					out[ws]++
				}
			}
		}
		return nil
	})
	return out, err
}
