package redaction

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Audit actions written by the operations.
const (
	ActionRedactTransaction = "redact.transaction"
	ActionDataErasure       = "data.erasure"
	ActionAutoRedact        = "policy.auto_redact"
	ActionRetentionSweep    = "retention.sweep"
	ActionRecordDelete      = "record.delete"
	ActionSettingsChange    = "settings.change"
	ActionOptOut            = "optout.change"
	ActionHold              = "hold.change"
)

// Redacted content placeholders of the contact-erasure contract.
const (
	RedactedBody = "[REDACTED]"
)

// Options configures a Redactor. The zero value is valid.
type Options struct {
	// SigningKey signs every erasure receipt with Ed25519 when set.
	SigningKey ed25519.PrivateKey
}

// Redactor runs the operations with legal meaning on a Store: redaction by
// transaction ID, contact erasure, deletion of voice legs, auto-redaction,
// retention sweeps, opt-outs and legal holds. It is safe for concurrent
// use; each operation is one write transaction.
type Redactor struct {
	s    *cdrstore.Store
	opts Options

	// hook, when set (by tests), runs before each write step of an
	// operation; an error it returns aborts the operation.
	hook func(step string) error
}

// New returns a Redactor on s. A nil opts means the zero Options. It
// installs on s the write hook that applies erasures' tombstones to every
// record written afterwards (see cdrstore.WriteHook), whoever writes it.
func New(s *cdrstore.Store, opts *Options) *Redactor {
	r := &Redactor{s: s}
	if opts != nil {
		r.opts = *opts
	}
	s.SetWriteHook(writeHook{r})
	return r
}

// Store returns the store the Redactor works on.
func (r *Redactor) Store() *cdrstore.Store { return r.s }

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

func requestFrom(ctx context.Context) Request {
	req, _ := ctx.Value(requestKey{}).(Request)
	return req
}

// Skipped names a record an operation left alone, and why.
type Skipped struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// maxSkippedListed bounds Result.Skipped; SkippedCount has the total.
const maxSkippedListed = 1000

// Result is what an operation did.
type Result struct {
	Workspace    string         `json:"workspace"`
	Action       string         `json:"action"`
	Affected     int            `json:"affected"`
	Skipped      []Skipped      `json:"skipped,omitempty"`
	SkippedCount int            `json:"skipped_count,omitempty"`
	AuditSeq     uint64         `json:"audit_seq,omitempty"`
	AuditHash    string         `json:"audit_hash,omitempty"` // hex SHA-256 of the audit entry
	Receipt      *audit.Receipt `json:"receipt,omitempty"`
	Replayed     bool           `json:"replayed,omitempty"`
	DryRun       bool           `json:"dry_run,omitempty"`
}

// EraseResult is the result of EraseContact, in the contact-erasure
// contract's terms.
type EraseResult struct {
	Result
	// Erased is true when every record of the contact was erased (or
	// already was); false when a legal hold kept some (see Skipped), and
	// on a dry run, which erases nothing.
	Erased          bool        `json:"erased"`
	E164            e164.Number `json:"e164"`
	RecordsAffected int         `json:"records_affected"`
}

// op is the state of one running operation.
type op struct {
	r       *Redactor
	ctx     context.Context
	tx      *cdrstore.Tx
	ws      string
	now     time.Time
	res     Result
	entry   audit.Entry
	noAudit bool // the operation changed nothing and writes no entry
	held    map[string]string
	n       int
}

// step runs the test hook before a write step.
func (o *op) step(name string) error {
	if o.r.hook != nil {
		return o.r.hook(name)
	}
	return nil
}

// tick checks the context every 128 records.
func (o *op) tick() error {
	if o.n++; o.n%128 == 0 {
		if err := o.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (o *op) skip(id, reason string) {
	o.res.SkippedCount++
	if len(o.res.Skipped) < maxSkippedListed {
		o.res.Skipped = append(o.res.Skipped, Skipped{ID: id, Reason: reason})
	}
}

// storedResult is what the requests bucket keeps for a request ID: the
// operation's action, the keyed HMAC of its arguments (so that the ID
// replays only the request it was first given with) and its result, which
// holds no plaintext number.
type storedResult struct {
	Action      string          `json:"action"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	Result      json.RawMessage `json:"result"`
}

// call describes an operation to run.
type call struct {
	action string
	// args are the operation's arguments in one canonical string. A
	// request ID replays only a call with the same action and args; a
	// different one is refused with ErrRequestConflict. Empty for
	// operations whose replay does not depend on them (a sweep "now").
	args string
	// erasure marks the operations of an erasure request: they get a
	// receipt, and refuse a workspace that does not exist with an error
	// matching cdrstore.ErrNotFound (an erasure in a mistyped workspace
	// must fail, not create it and hand out a receipt for nothing).
	erasure bool
	// dryRun runs the operation in a read-only transaction: it counts
	// what it would change, writes nothing, and keeps no request ID.
	dryRun bool
	// createWorkspace lets an erasure create the workspace it names
	// rather than refuse it (EraseContactOptions.AheadOfWorkspace).
	createWorkspace bool
}

// run executes fn as one write transaction on workspace ws: it replays a
// known request ID, runs fn, appends the audit entry (unless fn set
// noAudit), signs a receipt, and records the request ID — all committed
// together. A cancelled ctx rolls everything back.
func (r *Redactor) run(ctx context.Context, ws string, c call, fn func(*op) error) (Result, error) {
	var res Result
	err := r.runWith(ctx, ws, c, fn, &res, func(o *op) any { return o.res })
	return res, err
}

// runWith is run with a caller-chosen result value: final builds what is
// returned and stored for replays, and out receives it once the
// transaction has committed (an error leaves out as it was: no receipt for
// an entry that was rolled back).
func (r *Redactor) runWith(ctx context.Context, ws string, c call, fn func(*op) error, out any, final func(*op) any) error {
	if err := cdrstore.ValidateWorkspace(ws); err != nil {
		return err
	}
	action := c.action
	req := requestFrom(ctx)
	if len(req.ID) > MaxRequestIDLen || len(req.Actor) > MaxRequestIDLen {
		return fmt.Errorf("redaction: request ID or actor over %d bytes: %w", MaxRequestIDLen, cdrstore.ErrInvalidRecord)
	}
	var result []byte // out, once the transaction has committed
	begin := r.s.Update
	if c.dryRun {
		begin = r.s.View
	}
	err := begin(func(tx *cdrstore.Tx) error {
		if c.erasure {
			found, err := tx.HasWorkspace(ws)
			if err != nil {
				return err
			}
			switch {
			case !found && c.createWorkspace && !c.dryRun:
				if err := tx.CreateWorkspace(ws); err != nil {
					return err
				}
			case !found:
				return fmt.Errorf("redaction: workspace %q: %w", ws, cdrstore.ErrNotFound)
			}
		}
		var fp string
		if req.ID != "" {
			fp = fingerprint(tx, c)
			replayed, err := replay(tx, ws, req.ID, action, fp, out)
			if err != nil || replayed {
				return err
			}
		}
		o := &op{r: r, ctx: ctx, tx: tx, ws: ws, now: tx.Now(), res: Result{Workspace: ws, Action: action, DryRun: c.dryRun}}
		o.entry = audit.Entry{Action: action, Actor: req.Actor, RequestID: req.ID}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !o.noAudit && !o.res.DryRun {
			if err := o.step("audit"); err != nil {
				return err
			}
			o.entry.Time = o.now
			o.entry.Count = uint64(o.res.Affected)
			e, err := tx.AppendAudit(ws, o.entry)
			if err != nil {
				return err
			}
			o.res.AuditSeq, o.res.AuditHash = e.Seq, hex.EncodeToString(e.Hash[:])
			if c.erasure {
				rc := audit.Receipt{Workspace: ws, Operation: action, Subject: e.Subject, RecordsAffected: e.Count, Seq: e.Seq, Hash: e.Hash, Time: e.Time}
				if r.opts.SigningKey != nil {
					rc = audit.SignReceipt(rc, r.opts.SigningKey)
				}
				o.res.Receipt = &rc
			}
		}
		raw, err := json.Marshal(final(o))
		if err != nil {
			return err
		}
		result = raw
		if req.ID != "" && !o.res.DryRun {
			if err := o.step("request"); err != nil {
				return err
			}
			kv, err := tx.Bucket(ws, cdrstore.BucketRequests)
			if err != nil {
				return err
			}
			stored, err := json.Marshal(storedResult{Action: action, Fingerprint: fp, Result: raw})
			if err != nil {
				return err
			}
			return kv.Put([]byte(req.ID), stored)
		}
		return nil
	})
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("redaction: %s: %w", action, err)
	}
	if err != nil || result == nil {
		return err // on a replay, out holds the first result already
	}
	return json.Unmarshal(result, out)
}

// result lets runWith reach the Result inside Result and EraseResult.
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
	raw := kv.Get([]byte(id))
	if raw == nil {
		return false, nil
	}
	var st storedResult
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketRequests), Key: id, Err: err}
	}
	if st.Action != action {
		return false, fmt.Errorf("%w: %q was %s", ErrRequestConflict, id, st.Action)
	}
	if st.Fingerprint != "" && st.Fingerprint != fingerprint {
		return false, fmt.Errorf("%w: %q was %s with other arguments", ErrRequestConflict, id, action)
	}
	if err := json.Unmarshal(st.Result, out); err != nil {
		return false, err
	}
	if rs, ok := out.(resulter); ok {
		rs.result().Replayed = true
	}
	return true, nil
}
