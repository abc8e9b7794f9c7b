package redaction

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
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
	ActionSubjectAccess     = "subject.access"
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

// call describes an operation to run.
type call struct {
	action string
	// args are the operation's arguments in one canonical string. A
	// request ID replays only a call with the same action and args; a
	// different one is refused with ErrRequestConflict. Empty for
	// operations whose replay does not depend on them (a sweep "now").
	args string
	// erasure marks the operations of an erasure request: they get a
	// receipt. (Every operation refuses a workspace that does not exist
	// with a *cdrstore.NoWorkspaceError: an erasure in a mistyped
	// workspace must fail, not hand out a receipt for nothing, and a hold
	// placed in one would protect nothing.)
	erasure bool
	// dryRun runs the operation in a read-only transaction: it counts
	// what it would change, writes nothing, and keeps no request ID.
	dryRun bool
	// grouped lets the operation share its write transaction and commit
	// with concurrent ones (cdrstore.Store.UpdateGrouped): the point
	// operations, which write a few keys each, so that concurrent
	// requests pay one commit between them. Not the batched ones (sweep,
	// auto-redaction), whose transactions are large already.
	grouped bool
	// createWorkspace lets an erasure create the workspace it names
	// rather than refuse it (EraseContactOptions.AheadOfWorkspace).
	createWorkspace bool
}

// run executes fn as one transaction on workspace ws, which must exist
// (else a *cdrstore.NoWorkspaceError, matching cdrstore.ErrNotFound, and
// nothing written): it replays a known request ID, runs fn, appends the
// audit entry (unless fn set noAudit), signs a receipt, and records the
// request ID — all committed together. A cancelled ctx rolls everything
// back. A dry run (c.dryRun) runs in a read-only transaction and writes
// none of it. A grouped call (c.grouped) may share its transaction with
// concurrent calls; its transaction function may then run again after a
// rollback (see cdrstore.Store.UpdateGrouped), so every effect of fn must
// be a write in the transaction, and fn must start afresh from its op:
// state kept elsewhere would survive the rollback.
func (r *Redactor) run(ctx context.Context, ws string, c call, fn func(*op) error) (Result, error) {
	return run(r, ctx, ws, c, fn, func(o *op) Result { return o.res })
}

// run is Redactor.run with a result of the caller's type: final builds
// what is returned and, under a request ID, kept for replays (the only
// time it is serialised). An error returns the zero T: no receipt for an
// entry that was rolled back.
func run[T any](r *Redactor, ctx context.Context, ws string, c call, fn func(*op) error, final func(*op) T) (T, error) {
	var out T
	if err := cdrstore.ValidateWorkspace(ws); err != nil {
		return out, err
	}
	action := c.action
	req := requestFrom(ctx)
	if len(req.ID) > MaxRequestIDLen || len(req.Actor) > MaxRequestIDLen {
		return out, fmt.Errorf("redaction: request ID or actor over %d bytes: %w", MaxRequestIDLen, cdrstore.ErrInvalidRecord)
	}
	begin := r.s.Update
	switch {
	case c.dryRun:
		begin = r.s.View
	case c.grouped:
		begin = r.s.UpdateGrouped
	}
	err := begin(func(tx *cdrstore.Tx) error {
		out = *new(T) // a run again after a rollback starts afresh
		found, err := tx.HasWorkspace(ws)
		if err != nil {
			return err
		}
		switch {
		case !found && c.createWorkspace && !c.dryRun:
			if _, err := tx.CreateWorkspace(ws); err != nil {
				return err
			}
		case !found:
			return fmt.Errorf("redaction: %s: %w", action, &cdrstore.NoWorkspaceError{Workspace: ws})
		}
		var fp string
		if req.ID != "" {
			fp = fingerprint(tx, c)
			replayed, err := replay(tx, ws, req.ID, action, fp, &out)
			if err != nil || replayed {
				return err
			}
		}
		o := &op{r: r, ctx: ctx, tx: tx, ws: ws, now: tx.Now(), res: Result{Workspace: ws, Action: action, DryRun: c.dryRun}}
		o.entry = audit.Entry{Action: action, Actor: req.Actor, RequestID: auditRequestID(tx, req.ID)}
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
		out = final(o)
		if req.ID == "" || o.res.DryRun {
			return nil
		}
		return o.keepRequest(req.ID, fp, out)
	})
	if err != nil {
		var zero T
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return zero, fmt.Errorf("redaction: %s: %w", action, err)
		}
		return zero, err
	}
	return out, nil
}
