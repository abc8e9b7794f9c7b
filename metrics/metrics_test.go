package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/metrics"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	ada  = e164.MustParse("+2348031234567", "")
	plat = e164.MustParse("+14155552671", "")
	t0   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx  = context.Background()
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type scrape map[string]float64 // "name{k=v,...}" -> value

func gather(t *testing.T, g prometheus.Gatherer) scrape {
	t.Helper()
	fams, err := g.Gather()
	require.NoError(t, err)
	out := scrape{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[f.GetName()+"_count{"+strings.Join(labels, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

type service struct {
	s   *cdrstore.Store
	rd  *redaction.Redactor
	m   *metrics.Metrics
	reg *prometheus.Registry
	clk *clock
}

func newService(t *testing.T) *service {
	t.Helper()
	clk := &clock{t: t0}
	m := metrics.New()
	s, err := cdrstore.Open(filepath.Join(t.TempDir(), "s.db"), &cdrstore.Options{NoSync: true, Now: clk.now, Observer: m.ObserveStore, Logger: storetest.Logger()})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	rd := redaction.New(s, &redaction.Options{Observer: m.ObserveRedaction})
	m.Watch(s)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	return &service{s: s, rd: rd, m: m, reg: reg, clk: clk}
}

func records(n int) []cdrstore.Record {
	var rs []cdrstore.Record
	for i := range n {
		r := cdrstore.Record{ID: "sms-" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Workspace: "acme", Product: cdrstore.ProductSMS,
			Direction: cdrstore.Outbound, From: plat, To: ada, Body: "secret body", StartedAt: t0.Add(-72*time.Hour + time.Duration(i)*time.Second)}
		if i == 0 {
			r.ID, r.Product, r.Body = "call-1", cdrstore.ProductVoice, ""
			r.Transcript, r.RecordingURL = []string{"hi it's Ada"}, "https://media.example.net/rec/call-1.mp3"
		}
		rs = append(rs, r)
	}
	return rs
}

func TestSeriesMoveWithOperations(t *testing.T) {
	sv := newService(t)
	require.NoError(t, sv.s.PutBatch(records(40)))
	_, err := sv.rd.SetSettings(ctx, "acme", redaction.Settings{Products: []cdrstore.Product{cdrstore.ProductSMS, cdrstore.ProductVoice}})
	require.NoError(t, err)

	got := gather(t, sv.reg)
	assert.Equal(t, 40.0, got["cdrvault_records{workspace=acme}"])
	assert.Equal(t, 1.0, got["cdrvault_workspaces{}"])
	assert.Equal(t, 1.0, got["cdrvault_operations_total{kind=ingest,outcome=ok}"])
	assert.Equal(t, 40.0, got["cdrvault_records_affected_total{kind=ingest}"])
	assert.Equal(t, 0.0, got["cdrvault_outbox_items{workspace=acme}"])
	assert.Equal(t, 1.0, got["cdrvault_audit_head_sequence{workspace=acme}"], "the settings change")
	assert.Equal(t, 1.0, got["cdrvault_store_up{}"])
	commits := got["cdrvault_commit_duration_seconds_count{}"]
	assert.GreaterOrEqual(t, commits, 2.0)

	_, err = sv.rd.RedactByID(ctx, "acme", "sms-ba", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	_, err = sv.rd.DeleteRecord(ctx, "acme", "call-1") // its recording goes to the outbox
	require.NoError(t, err)
	_, err = sv.rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	sv.clk.add(90 * time.Minute)

	got = gather(t, sv.reg)
	assert.Equal(t, 39.0, got["cdrvault_records{workspace=acme}"])
	assert.Equal(t, 1.0, got["cdrvault_operations_total{kind=redact,outcome=ok}"])
	assert.Equal(t, 1.0, got["cdrvault_operations_total{kind=delete,outcome=ok}"])
	assert.Equal(t, 1.0, got["cdrvault_operations_total{kind=erase,outcome=ok}"])
	assert.Equal(t, 38.0, got["cdrvault_records_affected_total{kind=erase}"], "all but the redacted one")
	assert.Equal(t, 1.0, got["cdrvault_outbox_items{workspace=acme}"])
	assert.Equal(t, 5400.0, got["cdrvault_outbox_oldest_item_age_seconds{workspace=acme}"])
	assert.Equal(t, 4.0, got["cdrvault_audit_head_sequence{workspace=acme}"])
	assert.Positive(t, got["cdrvault_unscrubbed_free_bytes{}"], "the erasure left old bytes in free pages")
	assert.Positive(t, got["cdrvault_unscrubbed_free_bytes_age_seconds{}"])
	assert.Greater(t, got["cdrvault_commit_duration_seconds_count{}"], commits)
	assert.Equal(t, 1.0, got["cdrvault_operation_duration_seconds_count{kind=erase}"])

	_, err = sv.s.Scrub(ctx)
	require.NoError(t, err)
	got = gather(t, sv.reg)
	assert.Zero(t, got["cdrvault_unscrubbed_free_bytes{}"])
	assert.Zero(t, got["cdrvault_unscrubbed_free_bytes_age_seconds{}"])

	require.NoError(t, sv.s.Check(ctx))
	_, err = sv.rd.DrainOutbox(ctx, "acme", redaction.DeleterFunc(func(context.Context, string) error { return nil }))
	require.NoError(t, err)

	got = gather(t, sv.reg)
	assert.Equal(t, 1.0, got["cdrvault_operations_total{kind=scrub,outcome=ok}"])
	assert.Positive(t, got["cdrvault_unscrubbed_free_bytes{}"], "the drain's commit freed pages again")
	assert.Equal(t, 1.0, got["cdrvault_checks_total{outcome=ok}"])
	assert.Zero(t, got["cdrvault_audit_verify_failed{}"])
	assert.Equal(t, 0.0, got["cdrvault_outbox_items{workspace=acme}"])
	assert.Equal(t, 0.0, got["cdrvault_outbox_oldest_item_age_seconds{workspace=acme}"])
	assert.Equal(t, 1.0, got["cdrvault_records_affected_total{kind=drain}"])

	// A record of the erased contact arriving late is stored erased: the
	// tombstone applied is counted.
	late := records(2)[1]
	late.ID = "late-1"
	require.NoError(t, sv.s.PutBatch([]cdrstore.Record{late}))
	got = gather(t, sv.reg)
	assert.Equal(t, 1.0, got["cdrvault_operations_total{kind=tombstone,outcome=ok}"])
	assert.Equal(t, 1.0, got["cdrvault_records_affected_total{kind=tombstone}"])
	assert.Equal(t, 40.0, got["cdrvault_records{workspace=acme}"])

	// No series name, label or value carries the fixture's numbers.
	for series, v := range got {
		for _, secret := range []string{"8031234567", "4155552671", "secret", "sms-", "call-1"} {
			assert.NotContains(t, series, secret)
		}
		assert.Less(t, v, 1e9, series)
	}
}

func TestHandler(t *testing.T) {
	sv := newService(t)
	require.NoError(t, sv.s.PutBatch(records(3)))
	srv := httptest.NewServer(sv.m.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, body := get("/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `cdrvault_records{workspace="acme"} 3`)
	assert.Contains(t, body, "go_goroutines")
	assert.Contains(t, body, "cdrvault_corruption_panics_total 0")
	assert.Contains(t, body, "cdrvault_outbox_delete_failures_total 0")
	code, _ = get("/healthz")
	assert.Equal(t, 200, code)
	code, _ = get("/readyz")
	assert.Equal(t, 200, code)

	require.NoError(t, sv.s.Close())
	code, body = get("/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, cdrstore.ErrClosed.Error())
	code, _ = get("/healthz")
	assert.Equal(t, 200, code, "the process still serves")
	code, body = get("/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "cdrvault_store_up 0")
}

func TestNotReadyAfterCorruption(t *testing.T) {
	sv := newService(t)
	require.NoError(t, sv.m.Ready())
	sv.m.ObserveStore(cdrstore.Event{Kind: cdrstore.EventCorrupt, Err: cdrstore.ErrCorrupt})
	require.ErrorIs(t, sv.m.Ready(), cdrstore.ErrCorrupt)

	require.NoError(t, sv.s.Close())
	ro := metrics.New()
	s, err := cdrstore.Open(sv.s.Path(), &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	ro.Watch(s)
	require.ErrorIs(t, ro.Ready(), cdrstore.ErrReadOnly)
	require.Error(t, metrics.New().Ready(), "no store watched")
}

// Only this package (and the commands that use it) compile the
// Prometheus client: the library's packages do not import it.
func TestLibraryDoesNotCompilePrometheus(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/cdrvault/cdrvault/cdrstore", "github.com/cdrvault/cdrvault/redaction",
		"github.com/cdrvault/cdrvault/httpapi", "github.com/cdrvault/cdrvault/audit", "github.com/cdrvault/cdrvault/e164", "github.com/cdrvault/cdrvault/fleet", "github.com/cdrvault/cdrvault/control").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.NotContains(t, string(out), "prometheus")
	assert.Contains(t, string(out), "go.etcd.io/bbolt", "the list is of the library's dependencies")
}
