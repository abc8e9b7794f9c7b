package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AgentOptions configures an Agent.
type AgentOptions struct {
	Config Config
	// Node is this node's ID: 1-64 ASCII letters, digits, '-' or '_'.
	Node string
	// NodeKey signs this node's reports; its public half is registered
	// when the node first joins (see LoadOrCreateNodeKey).
	NodeKey ed25519.PrivateKey
	// Keys opens and verifies commands (a node bundle: no issuer key is
	// needed, and none is used).
	Keys Keys
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets one line per command (no number); nil discards.
	Logger *slog.Logger
	// AckWait is how long JetStream waits for an acknowledgement before
	// it redelivers (default 10s): after a node is killed mid-command,
	// its restart gets the command again this long after. The agent
	// extends it while it works.
	AckWait time.Duration
	// FetchWait is how long one fetch waits for a command (default 1s).
	FetchWait time.Duration
	// RetryBase and RetryMax bound the backoff of a transient error
	// (defaults 100ms and 30s).
	RetryBase, RetryMax time.Duration
}

// Agent applies the fleet's commands to one store, in stream order, and
// reports each. Run it beside the Store for as long as the service runs.
type Agent struct {
	c     *conn
	nc    *nats.Conn
	rd    *redaction.Redactor
	o     AgentOptions
	cons  jetstream.Consumer
	log   *slog.Logger
	nsign *signer

	// beforeApply, when set (by tests), runs before each attempt to apply
	// a command; its error counts as a transient failure of the store.
	beforeApply func(kind Kind) error

	// stopQueries ends the query subscription (when Run returns).
	stopQueries func()

	// afterReport, when set (by tests), runs after a command's report is
	// written and before it is acknowledged; an error stops Run there,
	// as a crash would.
	afterReport func(seq uint64) error
}

func consumerName(node string) string { return "node-" + node }

// NewAgent joins the fleet as opts.Node: it sets up the stream and bucket
// (idempotent), registers the node and its report key (or checks them:
// another key is ErrNodeKeyMismatch, a retired node ErrNodeRetired) and
// creates its durable consumer, which starts at the log's first command.
func NewAgent(ctx context.Context, nc *nats.Conn, rd *redaction.Redactor, opts AgentOptions) (*Agent, error) {
	o := opts
	if !idPattern.MatchString(o.Node) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidNode, o.Node)
	}
	if len(o.NodeKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: no node key", ErrInvalidKeys)
	}
	if err := o.Keys.validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AckWait == 0 {
		o.AckWait = 10 * time.Second
	}
	if o.FetchWait == 0 {
		o.FetchWait = time.Second
	}
	if o.RetryBase == 0 {
		o.RetryBase = 100 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 30 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c, err := setup(ctx, nc, o.Config)
	if err != nil {
		return nil, err
	}
	a := &Agent{c: c, nc: nc, rd: rd, o: o, log: log.With("node", o.Node),
		nsign: &signer{name: "node:" + o.Node, key: o.NodeKey}}
	// Queries are answered from before the node is registered, so a
	// node listed as a member always answers them.
	if a.stopQueries, err = a.serveQueries(); err != nil {
		return nil, err
	}
	if err := a.join(ctx); err != nil {
		a.stopQueries()
		return nil, err
	}
	return a, nil
}

func (a *Agent) join(ctx context.Context) error {
	pub := a.o.NodeKey.Public().(ed25519.PublicKey)
	n := Node{ID: a.o.Node, Key: pub, JoinedAt: a.o.Now().UTC()}
	created, err := a.c.createJSON(ctx, nodeKey(n.ID), n)
	if err != nil {
		return err
	}
	if !created {
		var have Node
		if _, _, err := a.c.getJSON(ctx, nodeKey(n.ID), &have); err != nil {
			return err
		}
		if have.RetiredAt != nil {
			return fmt.Errorf("%w: %s", ErrNodeRetired, n.ID)
		}
		if !bytes.Equal(have.Key, pub) {
			return fmt.Errorf("%w: %s", ErrNodeKeyMismatch, n.ID)
		}
	}
	return a.c.call(ctx, func(ctx context.Context) error {
		cons, err := a.c.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       consumerName(n.ID),
			Description:   "cdrvault fleet node " + n.ID,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       a.o.AckWait,
			MaxDeliver:    -1,
			MaxAckPending: 1, // one at a time: stream order
			FilterSubject: a.c.cfg.Subject,
		})
		a.cons = cons
		return err
	})
}

// Run applies commands until ctx ends, then returns nil. The agent
// answers subject-access queries (see Issuer.Export) from NewAgent until
// Run returns. A command is
// acknowledged only after it is applied and its report written, so a
// crash at any point redelivers it and the store's request-ID replay
// makes the redelivery change nothing.
func (a *Agent) Run(ctx context.Context) error {
	defer a.stopQueries()
	fails := 0
	var lastDeferred time.Time
	for ctx.Err() == nil {
		// Deferred commands are looked at once per FetchWait, not
		// between every two commands.
		if time.Since(lastDeferred) >= a.o.FetchWait {
			lastDeferred = time.Now()
			if err := a.runDeferred(ctx); err != nil {
				a.log.Warn("deferred commands", "err", err)
			}
		}
		fctx, cancel := context.WithTimeout(ctx, a.o.FetchWait)
		msg, err := a.cons.Next(jetstream.FetchContext(fctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
				a.log.Warn("fetch", "err", err)
				a.sleep(ctx, backoff(fails, a.o.RetryBase, a.o.RetryMax))
				fails++
			}
			continue
		}
		fails = 0
		if err := a.handle(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, errStop) {
				return err
			}
			a.log.Warn("command left for redelivery", "err", err)
		}
	}
	return nil
}

// errStop stops Run (the test hook's crash).
var errStop = errors.New("fleet: agent stopped")

func (a *Agent) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// handle applies one delivered command and acknowledges it.
func (a *Agent) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	seq := meta.Sequence.Stream
	cmd, corr, err := open(a.o.Keys, msg.Data())
	if err != nil {
		// Poison: report it rejected and terminate it, so it neither
		// blocks the log nor vanishes unreported.
		if corr == "" {
			corr = "s" + strconv.FormatUint(seq, 10)
		}
		rep := Report{Corr: corr, Node: a.o.Node, Status: StatusRejected, Reason: err.Error(), StreamSeq: seq}
		if err := a.report(ctx, rep); err != nil {
			return err
		}
		a.log.Warn("command rejected", "corr", corr, "seq", seq, "reason", err)
		return a.c.call(ctx, func(context.Context) error { return msg.TermWithReason("rejected") })
	}
	// Keep the delivery ours while a long operation runs: no
	// redelivery before the answer.
	hb, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go func() {
		t := time.NewTicker(max(a.o.AckWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-hb.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	var rep Report
	for attempt := 0; ; attempt++ {
		var transient error
		rep, transient = a.apply(ctx, cmd)
		if transient == nil {
			break
		}
		a.log.Warn("transient error; retrying", "corr", corr, "seq", seq, "attempt", attempt, "err", transient)
		if attempt == 0 {
			r := Report{Corr: corr, Node: a.o.Node, Kind: cmd.Kind, Status: StatusRetrying, Reason: transientReason(transient), StreamSeq: seq}
			_ = a.report(ctx, r)
		}
		a.sleep(ctx, backoff(attempt, a.o.RetryBase, a.o.RetryMax))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	rep.Corr, rep.StreamSeq = corr, seq
	if rep.Status == StatusDeferred {
		if err := a.c.putJSON(ctx, deferredKey(a.o.Node, seq), rep); err != nil {
			return err
		}
	}
	if err := a.report(ctx, rep); err != nil {
		return err
	}
	if a.afterReport != nil {
		if err := a.afterReport(seq); err != nil {
			return fmt.Errorf("%w: %w", errStop, err)
		}
	}
	if err := a.c.call(ctx, msg.DoubleAck); err != nil {
		return err
	}
	a.log.Info("command applied", "corr", corr, "seq", seq, "kind", cmd.Kind, "status", rep.Status, "records", rep.RecordsAffected)
	a.complete(ctx, corr)
	return nil
}

// complete writes the fleet record of corr when this report was the last
// one it waited for.
func (a *Agent) complete(ctx context.Context, corr string) {
	if _, err := a.c.status(ctx, corr, a.nsign, a.o.Now(), true); err != nil && !errors.Is(err, ErrUnknownRequest) {
		a.log.Warn("fleet record", "corr", corr, "err", err)
	}
}

// report signs rep and writes it, retrying under the call deadline.
func (a *Agent) report(ctx context.Context, rep Report) error {
	rep.Node, rep.At = a.o.Node, a.o.Now().UTC()
	rep.Sig = ed25519.Sign(a.o.NodeKey, rep.signed())
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = a.c.putJSON(ctx, reportKey(rep.Corr, a.o.Node), rep); err == nil || ctx.Err() != nil {
			return err
		}
		a.sleep(ctx, backoff(attempt, a.o.RetryBase, a.o.RetryMax))
	}
	return err
}

// runDeferred applies the deferred commands whose window has opened.
func (a *Agent) runDeferred(ctx context.Context) error {
	var keys []string
	prefix := "deferred." + a.o.Node + "."
	err := a.c.call(ctx, func(ctx context.Context) error {
		kl, err := a.c.kv.ListKeysFiltered(ctx, prefix+"*")
		if err != nil {
			return err
		}
		for k := range kl.Keys() {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		var d Report
		found, _, err := a.c.getJSON(ctx, k, &d)
		if err != nil || !found {
			return err
		}
		if d.EligibleAt != nil && a.o.Now().Before(*d.EligibleAt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimPrefix(k, prefix), 10, 64)
		if err != nil {
			continue
		}
		var raw *jetstream.RawStreamMsg
		if err := a.c.call(ctx, func(ctx context.Context) error {
			raw, err = a.c.stream.GetMsg(ctx, seq)
			return err
		}); err != nil {
			return err
		}
		cmd, corr, err := open(a.o.Keys, raw.Data)
		if err != nil {
			continue // it opened once; keys changed since: left for an operator
		}
		rep, transient := a.apply(ctx, cmd)
		if transient != nil {
			return transient
		}
		rep.Corr, rep.StreamSeq = corr, seq
		if err := a.report(ctx, rep); err != nil {
			return err
		}
		if rep.Status == StatusDeferred {
			if err := a.c.putJSON(ctx, k, rep); err != nil {
				return err
			}
			continue
		}
		if err := a.c.call(ctx, func(ctx context.Context) error { return a.c.kv.Delete(ctx, k) }); err != nil {
			return err
		}
		a.complete(ctx, corr)
	}
	return nil
}

// apply runs cmd on the store under its request ID. A transient error
// (anything but the command's own fault) is returned for a retry; every
// other outcome is in the report.
func (a *Agent) apply(ctx context.Context, cmd Command) (Report, error) {
	if a.beforeApply != nil {
		if err := a.beforeApply(cmd.Kind); err != nil {
			return Report{}, err
		}
	}
	// The issue time stamps the tombstone an erasure leaves: a CDR that
	// started before the request erases on arrival, on every node, however
	// late the command reaches it.
	ctx = redaction.WithRequest(ctx, redaction.Request{ID: cmd.RequestID, Actor: "fleet", IssuedAt: cmd.IssuedAt})
	rd, ws := a.rd, cmd.Workspace
	var res redaction.Result
	var err error
	switch cmd.Kind {
	case KindEraseContact:
		var er redaction.EraseResult
		// A workspace this node has not seen yet gets the erasure
		// ahead of it: what is ingested there later is stored erased.
		er, err = rd.EraseContactWith(ctx, ws, cmd.Number, cmd.Reason, redaction.EraseContactOptions{AheadOfWorkspace: true})
		res = er.Result
	case KindRedactID:
		res, err = rd.RedactByID(ctx, ws, cmd.ID, cmd.Product, cmd.Direction)
	case KindDeleteRecord:
		res, err = rd.DeleteRecord(ctx, ws, cmd.ID)
	case KindDeleteConversation:
		res, err = rd.DeleteConversation(ctx, ws, cmd.Conversation)
	case KindHoldPlace:
		if cmd.ID != "" {
			res, err = rd.HoldRecord(ctx, ws, cmd.ID, cmd.Reason)
		} else {
			res, err = rd.HoldNumber(ctx, ws, cmd.Number, cmd.Reason)
		}
	case KindHoldRelease:
		key := redaction.HoldKeyForID(cmd.ID)
		if cmd.ID == "" {
			key = redaction.HoldKeyForNumber(rd.Store(), cmd.Number)
		}
		res, err = rd.ReleaseHold(ctx, ws, key)
	case KindOptOutAdd:
		res, err = rd.OptOut(ctx, ws, cmd.Number)
	case KindOptOutRemove:
		res, err = rd.RemoveOptOut(ctx, ws, cmd.Number)
	case KindSettings:
		res, err = rd.SetSettings(ctx, ws, *cmd.Settings)
	default:
		err = &CommandError{Field: "kind", Reason: "unknown kind"}
	}
	rep := Report{Kind: cmd.Kind}
	return rep, classify(&rep, res, err)
}

// classify fills rep's status from an operation's result or error, and
// returns the error when it is transient.
func classify(rep *Report, res redaction.Result, err error) error {
	var prem *redaction.PrematureRedactionError
	switch {
	case err == nil:
		rep.Status = StatusDone
		if res.SkippedCount > 0 {
			rep.Status = StatusPartial
			rep.Reason = fmt.Sprintf("%d records kept by a legal hold", res.SkippedCount)
		}
		rep.RecordsAffected, rep.Skipped = res.Affected, res.SkippedCount
		rep.AuditSeq, rep.AuditHash, rep.Receipt, rep.Replayed = res.AuditSeq, res.AuditHash, res.Receipt, res.Replayed
	case errors.As(err, &prem):
		rep.Status, rep.Reason = StatusDeferred, redaction.ErrPrematureRedaction.Error()
		t := prem.EligibleAt.UTC()
		rep.EligibleAt = &t
	case errors.Is(err, redaction.ErrLegalHold):
		rep.Status, rep.Reason, rep.Skipped = StatusPartial, "kept by a legal hold", 1
	case errors.Is(err, cdrstore.ErrNotFound):
		rep.Status, rep.Reason = StatusAbsent, cdrstore.ErrNotFound.Error()
	case errors.Is(err, ErrInvalidCommand):
		// A *CommandError names the field at fault, never its value.
		rep.Status, rep.Reason = StatusRejected, err.Error()
	default:
		reason, ok := rejectedReason(err)
		if !ok {
			return err
		}
		rep.Status, rep.Reason = StatusRejected, reason
	}
	return nil
}

// rejected are the errors that reject a command for good.
var rejected = []error{
	redaction.ErrRequestConflict, redaction.ErrInvalidProduct,
	redaction.ErrInvalidDirection, redaction.ErrNotProvisioned,
	redaction.ErrInvalidSettings, redaction.ErrInvalidReason,
	e164.ErrInvalidNumber, cdrstore.ErrInvalidRecord,
}

// rejectedReason returns the text of the sentinel in rejected that err
// matches: a report travels unsealed and is kept by the broker, so it
// never carries err's own text, which may name a record ID, a request ID
// or a number the command carried sealed.
func rejectedReason(err error) (string, bool) {
	for _, s := range rejected {
		if errors.Is(err, s) {
			return s.Error(), true
		}
	}
	return "", false
}

// transientReason is what a retrying report says of err: whether the store
// is damaged or halted, never err's own text (a corruption error quotes the
// key it met, which may hold a record ID).
func transientReason(err error) string {
	switch {
	case errors.Is(err, cdrstore.ErrHalted):
		return cdrstore.ErrHalted.Error()
	case errors.Is(err, cdrstore.ErrCorrupt):
		return cdrstore.ErrCorrupt.Error()
	}
	return "transient error; retrying"
}

// Node returns the agent's node ID.
func (a *Agent) Node() string { return a.o.Node }
