package fleet_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/natstest"
	"github.com/cdrvault/cdrvault/redaction"
)

var (
	epoch    = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	platform = e164.MustParse("+14155550100", "")
	contact  = e164.MustParse("+2348031234567", "")
)

// clock is a settable clock shared by stores and agents.
type clock struct{ ns atomic.Int64 }

func newClock() *clock               { c := &clock{}; c.ns.Store(epoch.UnixNano()); return c }
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// harness is a fleet on a NATS URL: an issuer and named nodes, each a
// store with an agent that can be stopped and started.
type harness struct {
	t     testing.TB
	url   string
	cfg   fleet.Config
	keys  fleet.Keys
	clock *clock
	is    *fleet.Issuer
	nodes map[string]*node
}

type node struct {
	id     string
	key    []byte
	store  *cdrstore.Store
	rd     *redaction.Redactor
	agent  *fleet.Agent
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t testing.TB, url string, cfg fleet.Config) *harness {
	t.Helper()
	keys, err := fleet.NewKeys()
	require.NoError(t, err)
	h := &harness{t: t, url: url, cfg: cfg, keys: keys, clock: newClock(), nodes: map[string]*node{}}
	h.is, err = fleet.NewIssuer(t.Context(), h.connect(), keys, &fleet.IssuerOptions{Config: cfg, Now: h.clock.Now})
	require.NoError(t, err)
	return h
}

func (h *harness) connect() *nats.Conn {
	nc, err := nats.Connect(h.url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(h.t, err)
	h.t.Cleanup(nc.Close)
	return nc
}

// addNode makes a store holding the seed records and joins it.
func (h *harness) addNode(id string, recs ...cdrstore.Record) *node {
	h.t.Helper()
	s, err := cdrstore.Open(filepath.Join(h.t.TempDir(), id+".db"), &cdrstore.Options{NoSync: true, Now: h.clock.Now})
	require.NoError(h.t, err)
	h.t.Cleanup(func() { s.Close() })
	if len(recs) > 0 {
		require.NoError(h.t, s.PutBatch(recs))
	}
	_, priv, _ := ed25519GenerateKey()
	n := &node{id: id, key: priv, store: s, rd: redaction.New(s, nil)}
	h.nodes[id] = n
	h.start(id, nil)
	return n
}

// start runs node id's agent; hook, when set, runs after each report.
func (h *harness) start(id string, hook func(uint64) error) {
	h.t.Helper()
	n := h.nodes[id]
	a, err := fleet.NewAgent(h.t.Context(), h.connect(), n.rd, fleet.AgentOptions{
		Config: h.cfg, Node: id, NodeKey: n.key, Keys: h.keys.NodeKeys(), Now: h.clock.Now,
		AckWait: time.Second, FetchWait: 200 * time.Millisecond, RetryBase: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	})
	require.NoError(h.t, err)
	if hook != nil {
		a.SetAfterReport(hook)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.agent, n.cancel, n.done = a, cancel, make(chan error, 1)
	go func() { n.done <- a.Run(ctx) }()
	h.t.Cleanup(func() { h.stop(id) })
}

// stop stops node id's agent and returns what Run returned.
func (h *harness) stop(id string) error {
	n := h.nodes[id]
	if n.cancel == nil {
		return nil
	}
	n.cancel()
	err := <-n.done
	n.cancel = nil
	return err
}

func (h *harness) publish(cmd fleet.Command) string {
	h.t.Helper()
	corr, err := h.is.Publish(h.t.Context(), cmd)
	require.NoError(h.t, err)
	return corr
}

// wait waits up to d for corr's fleet record.
func (h *harness) wait(corr string, d time.Duration) fleet.Record {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), d)
	defer cancel()
	rec, err := h.is.Wait(ctx, corr, 20*time.Millisecond)
	require.NoError(h.t, err)
	return rec
}

func erase(reqID string) fleet.Command {
	return fleet.Command{Kind: fleet.KindEraseContact, RequestID: reqID, Workspace: "acme", Number: contact, Reason: "ndpr_right_to_erasure"}
}

// contactRecords returns n records of the contact with bodies, IDs
// prefixed by p.
func contactRecords(p string, n int) []cdrstore.Record {
	var rs []cdrstore.Record
	for i := range n {
		rs = append(rs, cdrstore.Record{ID: fmt.Sprintf("%s-%02d", p, i), Workspace: "acme", Product: cdrstore.ProductSMS,
			Direction: cdrstore.Outbound, From: platform, To: contact, Body: "hello " + p,
			StartedAt: epoch.Add(-48*time.Hour + time.Duration(i)*time.Minute)})
	}
	return rs
}

func body(t *testing.T, s *cdrstore.Store, id string) string {
	t.Helper()
	var rec cdrstore.Record
	require.NoError(t, s.View(func(tx *cdrstore.Tx) (err error) { rec, err = tx.Get("acme", id); return err }))
	return rec.Body
}

func runServer(t *testing.T) *natstest.Server {
	t.Helper()
	dir := t.TempDir()
	srv, err := natstest.Run(dir)
	require.NoError(t, err)
	t.Cleanup(srv.Kill)
	return srv
}

func TestEraseReachesEveryStoreOnceWithProof(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	for i, id := range []string{"a", "b", "c"} {
		h.addNode(id, contactRecords(id, i+1)...)
	}
	corr := h.publish(erase("req-1"))
	rec := h.wait(corr, 20*time.Second)
	require.True(t, rec.Complete(), rec.Summary())
	assert.Equal(t, 3, rec.NodesExpected)
	assert.Equal(t, 3, rec.NodesDone)
	assert.Equal(t, 6, rec.RecordsAffected)
	require.NoError(t, rec.Verify())
	for _, nr := range rec.Nodes {
		assert.Equal(t, fleet.StatusDone, nr.Status, nr.Node)
		assert.NotEmpty(t, nr.Receipt, nr.Node)
	}
	for id, n := range h.nodes {
		assert.Equal(t, redaction.RedactedBody, body(t, n.store, id+"-00"))
		assert.Equal(t, 1, auditCount(t, n.store, "req-1"), id)
	}

	// The same request again: deduplicated or replayed, never applied
	// twice; the record stays the one written.
	again := h.publish(erase("req-1"))
	require.Equal(t, corr, again)
	corr2 := h.publish(erase("req-2")) // a later command proves the log moved past it
	require.True(t, h.wait(corr2, 20*time.Second).Complete())
	for id, n := range h.nodes {
		assert.Equal(t, 1, auditCount(t, n.store, "req-1"), id)
	}
	rec2 := h.wait(corr, time.Second)
	assert.Equal(t, rec.Sig, rec2.Sig)

	// Nothing readable on the broker: no number, no request ID.
	srv.Kill()
	scanNoPlaintext(t, srv.StoreDir(), contact.String(), contact.String()[1:], "req-1")
}

func TestNodeDownCatchesUpInOrder(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	for _, id := range []string{"a", "b", "c"} {
		h.addNode(id, contactRecords(id, 2)...)
	}
	require.NoError(t, h.stop("c"))
	// Hold, erase, release, erase: order matters on every store.
	hold := h.publish(fleet.Command{Kind: fleet.KindHoldPlace, RequestID: "hold-1", Workspace: "acme", Number: contact, Reason: "litigation"})
	er1 := h.publish(erase("erase-under-hold"))
	rel := h.publish(fleet.Command{Kind: fleet.KindHoldRelease, RequestID: "release-1", Workspace: "acme", Number: contact})
	er2 := h.publish(erase("erase-after-release"))

	require.Eventually(t, func() bool {
		rec, err := h.is.Status(t.Context(), er2)
		return err == nil && rec.NodesDone == 2
	}, 20*time.Second, 20*time.Millisecond, "the two live nodes answer")
	rec := h.wait(er2, 0)
	assert.False(t, rec.Complete(), "the record waits for the node that is down")
	assert.Equal(t, 3, rec.NodesExpected)

	h.start("c", nil)
	for _, corr := range []string{hold, rel} {
		require.True(t, h.wait(corr, 20*time.Second).Complete())
	}
	r1 := h.wait(er1, 20*time.Second)
	require.True(t, r1.Complete())
	assert.Equal(t, 0, r1.RecordsAffected)
	for _, nr := range r1.Nodes {
		assert.Equal(t, fleet.StatusPartial, nr.Status, nr.Node)
	}
	r2 := h.wait(er2, 20*time.Second)
	require.True(t, r2.Complete())
	assert.Equal(t, 6, r2.RecordsAffected)
	for id, n := range h.nodes {
		assert.Equal(t, redaction.RedactedBody, body(t, n.store, id+"-01"))
	}
}

func TestPoisonIsRejectedAndDoesNotBlock(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	h.addNode("a", contactRecords("a", 1)...)

	nc := h.connect()
	// Garbage, and a command signed by an issuer the node does not know.
	require.NoError(t, publishRaw(nc, []byte("not json")))
	stranger := newHarness(t, srv.URL(), fleet.Config{})
	bad := stranger.publish(erase("forged"))
	good := h.publish(erase("real"))

	rec := h.wait(good, 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, 1, rec.RecordsAffected)

	forged, err := stranger.is.Status(t.Context(), bad)
	require.NoError(t, err)
	require.Len(t, forged.Nodes, 1)
	assert.Equal(t, fleet.StatusRejected, forged.Nodes[0].Status)
	assert.Contains(t, forged.Nodes[0].Reason, "signed")
	assert.Equal(t, 0, auditCount(t, h.nodes["a"].store, "forged"))
}

func TestCrashBetweenCommitAndAckReplays(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	h.addNode("a", contactRecords("a", 3)...)
	require.NoError(t, h.stop("a"))
	var crashed atomic.Bool
	h.start("a", func(uint64) error {
		if crashed.CompareAndSwap(false, true) {
			return fmt.Errorf("crash")
		}
		return nil
	})
	corr := h.publish(erase("once"))
	require.ErrorContains(t, <-h.nodes["a"].done, "crash")
	h.nodes["a"].cancel = nil
	h.start("a", nil)
	rec := h.wait(corr, 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, 3, rec.RecordsAffected, "the redelivery reports the first result")
	assert.Equal(t, 1, auditCount(t, h.nodes["a"].store, "once"))
}

func TestLateJoinerReplaysTheLog(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	h.addNode("a", contactRecords("a", 1)...)
	corr := h.publish(erase("before-join"))
	require.True(t, h.wait(corr, 20*time.Second).Complete())

	late := h.addNode("late", contactRecords("late", 2)...)
	after := h.publish(erase("after-join"))
	rec := h.wait(after, 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, 2, rec.NodesExpected)
	assert.Equal(t, redaction.RedactedBody, body(t, late.store, "late-00"))
	assert.Equal(t, 1, auditCount(t, late.store, "before-join"), "the late node applied the earlier erasure")
	first := h.wait(corr, time.Second)
	assert.Equal(t, 1, first.NodesExpected, "a node that joined later is not waited for")

	nodes, err := h.is.Nodes(t.Context())
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	require.NoError(t, h.stop("late"))
	require.NoError(t, h.is.Retire(t.Context(), "late"))
	pending := h.publish(erase("after-retire"))
	rec = h.wait(pending, 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, 1, rec.NodesExpected)

	// A retired node cannot come back under its ID; another key cannot
	// take a member's ID.
	_, err = fleet.NewAgent(t.Context(), h.connect(), late.rd, fleet.AgentOptions{Node: "late", NodeKey: late.key, Keys: h.keys.NodeKeys()})
	require.ErrorIs(t, err, fleet.ErrNodeRetired)
	_, other, _ := ed25519GenerateKey()
	_, err = fleet.NewAgent(t.Context(), h.connect(), late.rd, fleet.AgentOptions{Node: "a", NodeKey: other, Keys: h.keys.NodeKeys()})
	require.ErrorIs(t, err, fleet.ErrNodeKeyMismatch)
	_, err = fleet.NewAgent(t.Context(), h.connect(), late.rd, fleet.AgentOptions{Node: "no spaces", NodeKey: other, Keys: h.keys.NodeKeys()})
	require.ErrorIs(t, err, fleet.ErrInvalidNode)
}

func TestRedactByIDAbsentDeferredNotFound(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	young := contactRecords("a", 1)
	young[0].ID, young[0].StartedAt = "acct-14155550199", epoch.Add(-10*time.Minute)
	h.addNode("a", append(contactRecords("a", 1), young...)...)
	h.addNode("b", contactRecords("b", 1)...)
	redact := func(req, id string) fleet.Command {
		return fleet.Command{Kind: fleet.KindRedactID, RequestID: req, Workspace: "acme", ID: id, Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound}
	}
	rec := h.wait(h.publish(redact("r1", "a-00")), 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, 1, rec.RecordsAffected)
	assert.Empty(t, rec.Note)
	statuses := map[string]fleet.Status{}
	for _, nr := range rec.Nodes {
		statuses[nr.Node] = nr.Status
	}
	assert.Equal(t, map[string]fleet.Status{"a": fleet.StatusDone, "b": fleet.StatusAbsent}, statuses)

	// Reports travel unsealed and stay on the broker: an ID the command
	// carried sealed is in none of their reasons.
	noID := func(rec fleet.Record) {
		t.Helper()
		for _, nr := range rec.Nodes {
			assert.NotContains(t, nr.Reason, "4155550", "%s: %s", nr.Node, nr.Reason)
		}
	}
	rec = h.wait(h.publish(redact("r2", "cust-+14155550177")), 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, "not found anywhere", rec.Note)
	noID(rec)

	corr := h.publish(redact("r3", "acct-14155550199"))
	later := h.publish(erase("after-deferred"))
	require.True(t, h.wait(later, 20*time.Second).Complete(), "a deferred command does not block the log")
	rec = h.wait(corr, 200*time.Millisecond)
	require.False(t, rec.Complete())
	noID(rec)
	h.clock.Add(time.Hour)
	rec = h.wait(corr, 20*time.Second)
	require.True(t, rec.Complete(), rec.Summary())
	assert.Equal(t, 1, rec.RecordsAffected)
}

func TestClusterLeaderKilledMidFanOut(t *testing.T) {
	c, err := natstest.RunCluster(t.TempDir(), 3)
	require.NoError(t, err)
	t.Cleanup(c.Shutdown)
	h := newHarness(t, c.URLs(), fleet.Config{Replicas: 3, CallTimeout: 3 * time.Second})
	for _, id := range []string{"a", "b", "c"} {
		h.addNode(id, contactRecords(id, 2)...)
	}
	var corrs []string
	for i := range 3 {
		corrs = append(corrs, h.publish(erase(fmt.Sprintf("before-%d", i))))
	}
	leader := c.StreamLeader(fleet.DefaultStream)
	require.GreaterOrEqual(t, leader, 0)
	c.Servers[leader].Kill()
	for i := range 3 {
		corrs = append(corrs, h.publish(erase(fmt.Sprintf("after-%d", i))))
	}
	for _, corr := range corrs {
		rec := h.wait(corr, 30*time.Second)
		require.True(t, rec.Complete(), rec.Summary())
		assert.Equal(t, 3, rec.NodesDone)
	}
	require.NoError(t, c.Servers[leader].Restart())
	last := h.publish(erase("after-restart"))
	require.True(t, h.wait(last, 30*time.Second).Complete())
	for id, n := range h.nodes {
		for i := range 3 {
			assert.Equal(t, 1, auditCount(t, n.store, fmt.Sprintf("after-%d", i)), id)
		}
	}
}

func TestCommandValidation(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	for _, cmd := range []fleet.Command{
		{Kind: fleet.KindEraseContact, Workspace: "acme", Number: contact, Reason: "gdpr_art17"},
		{Kind: fleet.KindEraseContact, RequestID: "x", Workspace: "acme", Reason: "gdpr_art17"},
		{Kind: fleet.KindEraseContact, RequestID: "x", Workspace: "acme", Number: contact, Reason: "call +2348031234567"},
		{Kind: "nonsense", RequestID: "x", Workspace: "acme"},
	} {
		_, err := h.is.Publish(t.Context(), cmd)
		var ce *fleet.CommandError
		require.ErrorAs(t, err, &ce)
		require.ErrorIs(t, err, fleet.ErrInvalidCommand)
		assert.NotContains(t, err.Error(), "8031234567")
	}
	node := h.keys.NodeKeys()
	_, err := fleet.NewIssuer(t.Context(), h.connect(), node, nil)
	require.NoError(t, err)
	is, _ := fleet.NewIssuer(t.Context(), h.connect(), node, nil)
	_, err = is.Publish(t.Context(), erase("x"))
	require.ErrorIs(t, err, fleet.ErrNoIssuerKey)
}

// scanNoPlaintext fails when any file under dir holds one of words.
func scanNoPlaintext(t *testing.T, dir string, words ...string) {
	t.Helper()
	var mu sync.Mutex
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, w := range words {
			assert.False(t, bytes.Contains(raw, []byte(w)), "%s holds %q", p, w)
		}
		return nil
	}))
}

func TestLateCDRMeetsTheTombstoneOnEveryNode(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	a := h.addNode("a", contactRecords("a", 1)...)
	fresh := h.addNode("fresh") // has never seen workspace acme
	require.NoError(t, h.stop("fresh"))
	corr := h.publish(erase("tomb-1")) // issued at epoch
	h.clock.Add(2 * time.Hour)         // the node comes back two hours later
	h.start("fresh", nil)
	rec := h.wait(corr, 20*time.Second)
	require.True(t, rec.Complete(), rec.Summary())
	for _, nr := range rec.Nodes {
		assert.Equal(t, fleet.StatusDone, nr.Status, "%s: %s", nr.Node, nr.Reason)
	}

	// A CDR that started before the request was issued, arriving after
	// the command, is stored erased, on the node that had the workspace
	// and on the one that had not; one that started after the request
	// (though before the late node applied it) is not.
	late := contactRecords("late", 1)[0]
	newer := late
	newer.ID, newer.StartedAt = "newer", epoch.Add(time.Hour)
	for _, n := range []*node{a, fresh} {
		require.NoError(t, n.store.PutBatch([]cdrstore.Record{late, newer}))
		assert.Equal(t, redaction.RedactedBody, body(t, n.store, late.ID), n.id)
		assert.Equal(t, "hello late", body(t, n.store, "newer"), n.id)
	}
}

func TestTransientErrorRetriesInOrder(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	n := h.addNode("a", contactRecords("a", 2)...)
	var failures atomic.Int32
	failures.Store(4)
	n.agent.SetBeforeApply(func(kind fleet.Kind) error {
		if kind == fleet.KindHoldPlace && failures.Add(-1) >= 0 {
			return fmt.Errorf("disk busy")
		}
		return nil
	})
	hold := h.publish(fleet.Command{Kind: fleet.KindHoldPlace, RequestID: "hold", Workspace: "acme", Number: contact, Reason: "litigation"})
	er := h.publish(erase("erase-after-hold"))
	rec := h.wait(er, 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, fleet.StatusPartial, rec.Nodes[0].Status, "the erasure met the hold placed before it: order kept")
	assert.Equal(t, 0, rec.RecordsAffected)
	assert.Less(t, failures.Load(), int32(0), "the hold failed four times, then was applied")
	require.True(t, h.wait(hold, time.Second).Complete())
}

func TestRotatedDataKey(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	h.addNode("a", contactRecords("a", 1)...)
	// An issuer sealing under a data key the node does not hold (yet):
	// rejected, named, and the log moves on.
	next, err := fleet.NewKeys()
	require.NoError(t, err)
	rotated := h.keys
	rotated.DataKeys = append([]fleet.DataKey{next.DataKeys[0]}, h.keys.DataKeys...)
	is, err := fleet.NewIssuer(t.Context(), h.connect(), rotated, nil)
	require.NoError(t, err)
	corr, err := is.Publish(t.Context(), erase("under-new-key"))
	require.NoError(t, err)
	rec := h.wait(corr, 20*time.Second)
	require.True(t, rec.Complete())
	assert.Equal(t, fleet.StatusRejected, rec.Nodes[0].Status)
	assert.Contains(t, rec.Nodes[0].Reason, "unknown data key")

	// A node given the new key (newest first) opens both.
	require.NoError(t, h.stop("a"))
	h.keys = rotated
	h.start("a", nil)
	rec2 := h.wait(h.publish(erase("under-old-key")), 20*time.Second)
	corr3, err := is.Publish(t.Context(), erase("under-new-key-2"))
	require.NoError(t, err)
	rec3 := h.wait(corr3, 20*time.Second)
	for _, r := range []fleet.Record{rec2, rec3} {
		require.True(t, r.Complete())
		assert.Equal(t, fleet.StatusDone, r.Nodes[0].Status, r.Nodes[0].Reason)
	}
}
