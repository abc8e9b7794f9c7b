package redaction_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// observed is a Redactor whose events and log lines a test reads.
type observed struct {
	mu   sync.Mutex
	evs  []redaction.Event
	logs bytes.Buffer
}

func (o *observed) observe(ev redaction.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ev.Duration, ev.Err = 0, nil
	o.evs = append(o.evs, ev)
}

func (o *observed) take() []redaction.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	evs := o.evs
	o.evs = nil
	return evs
}

func observedSetup(t *testing.T, recs ...cdrstore.Record) (*cdrstore.Store, *redaction.Redactor, *observed) {
	t.Helper()
	s, _ := setup(t, recs...)
	o := &observed{}
	logger := slog.New(slog.NewJSONHandler(&o.logs, nil))
	return s, redaction.New(s, &redaction.Options{Observer: o.observe, Logger: logger}), o
}

func TestObserverSeesEveryOperationOnce(t *testing.T) {
	s, rd, o := observedSetup(t, smsOut("m1", ada, "hello"), smsIn("m2", ada, "hi back"), voice("v1", bob, "c1"))

	req := redaction.WithRequest(ctx, redaction.Request{ID: "req-42"})
	_, err := rd.RedactByID(req, "acme", "m1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	_, err = rd.RedactByID(req, "acme", "m1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	_, err = rd.RedactByID(ctx, "acme", "447911123456", cdrstore.ProductSMS, cdrstore.Outbound) // a number given as an ID
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	// m1 lost its counterparty to the redaction: only m2 is the contact's.
	_, err = rd.EraseContactDryRun(ctx, "acme", ada)
	require.NoError(t, err)
	_, err = rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	_, err = rd.DeleteConversation(ctx, "acme", "c1")
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = rd.EraseContact(cancelled, "acme", bob, "gdpr_art17")
	require.ErrorIs(t, err, context.Canceled)

	evs := o.take()
	require.Len(t, evs, 7)
	hmac := evs[0].Request
	assert.Len(t, hmac, 64)
	assert.NotContains(t, hmac, "req-42")
	var audited []string
	for _, e := range storetest.AuditEntries(t, s, "acme") {
		if e.Action == redaction.ActionRedactTransaction {
			audited = append(audited, e.RequestID)
		}
	}
	assert.Equal(t, []string{hmac}, audited, "the log joins the audit log by request")
	assert.Equal(t, []redaction.Event{
		{Kind: redaction.KindRedact, Workspace: "acme", Outcome: redaction.OutcomeOK, Affected: 1, Request: hmac},
		{Kind: redaction.KindRedact, Workspace: "acme", Outcome: redaction.OutcomeReplayed, Request: hmac},
		{Kind: redaction.KindRedact, Workspace: "acme", Outcome: redaction.OutcomeRefused},
		{Kind: redaction.KindErase, Workspace: "acme", Outcome: redaction.OutcomeDryRun, Affected: 1},
		{Kind: redaction.KindErase, Workspace: "acme", Outcome: redaction.OutcomeOK, Affected: 1},
		{Kind: redaction.KindDelete, Workspace: "acme", Outcome: redaction.OutcomeOK, Affected: 1},
		{Kind: redaction.KindErase, Workspace: "acme", Outcome: redaction.OutcomeCanceled},
	}, evs)

	// The outbox holds the deleted leg's recording: a failing Deleter is
	// a failed drain and a warning that masks the number in its error.
	failing := redaction.DeleterFunc(func(context.Context, string) error {
		return errors.New("DELETE https://media.example.net/+447911123456.mp3: 503")
	})
	_, err = rd.DrainOutbox(ctx, "acme", failing)
	require.NoError(t, err)
	assert.Equal(t, []redaction.Event{{Kind: redaction.KindDrain, Workspace: "acme", Outcome: redaction.OutcomeFailed, Failed: 1}}, o.take())

	// Sweep reports once per workspace, whatever its batches.
	_, err = s.CreateWorkspace("globex")
	require.NoError(t, err)
	_, err = rd.Sweep(ctx, now.AddDate(5, 0, 0), redaction.SweepOptions{BatchSize: 1})
	require.NoError(t, err)
	assert.Equal(t, []redaction.Event{
		{Kind: redaction.KindSweep, Workspace: "acme", Outcome: redaction.OutcomeOK, Affected: 2},
		{Kind: redaction.KindSweep, Workspace: "globex", Outcome: redaction.OutcomeOK},
	}, o.take())

	logs := o.logs.String()
	assert.Equal(t, 10, strings.Count(logs, `"msg":"operation"`), "one record per operation")
	assert.Contains(t, logs, `"msg":"outbox: deleter failed"`)
	assert.Contains(t, logs, "+447XXXXXXXXX")
	for _, secret := range []string{"req-42", "447911123456", "2348031234567", "hello", "hi back", "call me back"} {
		assert.NotContains(t, logs, secret)
	}
}

// A Redactor without a Logger logs through its store's.
func TestRedactorLogsThroughTheStoreByDefault(t *testing.T) {
	var logs bytes.Buffer
	s := storetest.Open(t, &cdrstore.Options{NoSync: true, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, s.Put(smsOut("m1", ada, "hello")))
	_, err := redaction.New(s, nil).EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "msg=operation kind=erase workspace=acme outcome=ok affected=1")
}

// Tombstones applied to later writes are reported once the write
// committed, whoever wrote.
func TestObserverSeesTombstonesApplied(t *testing.T) {
	s, rd, o := observedSetup(t, smsOut("seed", bob, "x"))
	_, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	o.take()

	require.NoError(t, s.PutBatch([]cdrstore.Record{smsOut("a1", ada, "secret"), smsOut("a2", ada, "secret"), smsOut("b1", bob, "fine")}))
	assert.Equal(t, []redaction.Event{{Kind: redaction.KindTombstone, Workspace: "acme", Outcome: redaction.OutcomeOK, Affected: 2}}, o.take())

	// A rolled-back write reports nothing.
	require.Error(t, s.Update(func(tx *cdrstore.Tx) error {
		require.NoError(t, tx.Put(smsOut("a3", ada, "secret")))
		return cdrstore.ErrNotFound
	}))
	assert.Empty(t, o.take())
}
