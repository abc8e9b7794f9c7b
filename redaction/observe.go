package redaction

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Event reports one operation a Redactor ran, to Options.Observer. It
// holds no number, ID or body: Workspace is the only name in it, and the
// request ID is keyed.
type Event struct {
	Kind      string // one of the Kind constants
	Workspace string
	Outcome   string // one of the Outcome constants
	// Affected is how many records the operation changed (an audit
	// entry's count; a dry run's would-be count); 0 on a replay or an
	// error. DrainOutbox: the items deleted.
	Affected int
	// Failed is, for DrainOutbox, how many items the Deleter failed.
	Failed   int
	Duration time.Duration
	// Request is the hex keyed HMAC of the request ID, as the audit
	// entry's request_id holds it (cdrstore.Store.RequestKey); empty when
	// the operation had none.
	Request string
	Err     error
}

// Kinds of operation an Event reports. A batched operation (Sweep,
// AutoRedact) reports one Event per workspace.
const (
	KindRedact     = "redact"      // RedactByID
	KindErase      = "erase"       // EraseContact
	KindDelete     = "delete"      // DeleteRecord, DeleteConversation
	KindAutoRedact = "auto_redact" // AutoRedact
	KindSweep      = "sweep"       // Sweep
	KindSettings   = "settings"    // SetSettings
	KindOptOut     = "optout"      // OptOut, RemoveOptOut
	KindHold       = "hold"        // HoldRecord, HoldNumber, ReleaseHold
	KindDrain      = "drain"       // DrainOutbox
	// KindTombstone: a write (whoever made it) stored records erased, or
	// kept them out, because an erasure's tombstone or the last sweep's
	// cutoff covered them; one Event per workspace and transaction, once
	// it committed, Affected the records.
	KindTombstone = "tombstone"
)

// Outcomes of an operation.
const (
	OutcomeOK       = "ok"
	OutcomeReplayed = "replayed" // a known request ID: the first result, nothing done
	OutcomeDryRun   = "dry_run"
	OutcomeRefused  = "refused"  // a caller's error: bad input, not found, premature, hold, conflict
	OutcomeCanceled = "canceled" // ctx cancelled or past its deadline
	OutcomeFailed   = "failed"   // anything else: storage errors, corruption, a Deleter's failures
)

// kindOf maps an audit action to the kind of its operation.
var kindOf = map[string]string{
	ActionRedactTransaction: KindRedact,
	ActionDataErasure:       KindErase,
	ActionRecordDelete:      KindDelete,
	ActionAutoRedact:        KindAutoRedact,
	ActionRetentionSweep:    KindSweep,
	ActionSettingsChange:    KindSettings,
	ActionOptOut:            KindOptOut,
	ActionHold:              KindHold,
}

// refusals are the errors that are the caller's, not the store's.
var refusals = []error{
	cdrstore.ErrNotFound, cdrstore.ErrInvalidRecord, ErrInvalidProduct, ErrInvalidDirection,
	ErrPrematureRedaction, ErrNotProvisioned, ErrLegalHold, ErrInvalidSettings,
	ErrRequestConflict, ErrInvalidReason,
}

// outcome classifies an operation's end.
func outcome(err error, replayed, dryRun bool) string {
	switch {
	case err == nil && replayed:
		return OutcomeReplayed
	case err == nil && dryRun:
		return OutcomeDryRun
	case err == nil:
		return OutcomeOK
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return OutcomeCanceled
	}
	for _, r := range refusals {
		if errors.Is(err, r) {
			return OutcomeRefused
		}
	}
	return OutcomeFailed
}

// batchedKey marks a context inside a batched operation, whose
// transactions are reported together, once per workspace.
type batchedKey struct{}

func batched(ctx context.Context) context.Context { return context.WithValue(ctx, batchedKey{}, true) }
func inBatch(ctx context.Context) bool            { return ctx.Value(batchedKey{}) != nil }

// report logs ev (one record per operation) and hands it to the
// Observer. requestID is keyed here; it never reaches either in clear.
func (r *Redactor) report(ev Event, start time.Time, requestID string) {
	ev.Duration = r.s.Now().Sub(start)
	if requestID != "" {
		ev.Request = hex.EncodeToString(r.s.RequestKey(requestID))
	}
	level := slog.LevelInfo
	attrs := []any{"kind", ev.Kind, "workspace", ev.Workspace, "outcome", ev.Outcome,
		"affected", ev.Affected, "duration", ev.Duration, "request", ev.Request}
	if ev.Kind == KindDrain {
		attrs = append(attrs, "failed", ev.Failed)
	}
	if ev.Err != nil {
		// Errors of this module mask numbers (e164.NumberError), but
		// may quote a caller's ID, which could be anything: digit runs
		// are masked (e164.MaskText).
		attrs = append(attrs, "err", e164.MaskText(ev.Err.Error()))
		if ev.Outcome == OutcomeFailed {
			level = slog.LevelWarn
		}
	}
	r.logger.Log(context.Background(), level, "operation", attrs...)
	if r.opts.Observer != nil {
		r.opts.Observer(ev)
	}
}
