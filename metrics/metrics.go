package metrics

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/prometheus/client_golang/prometheus"
)

// Operation kinds the store reports, beside the redaction package's
// Kind constants, in the kind label of cdrvault_operations_total.
const (
	KindIngest  = "ingest"
	KindScrub   = "scrub"
	KindCompact = "compact"
)

// latencyBuckets span a commit on a fast disk (0.5 ms) to a slow batch
// operation (10 s), in seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics is a prometheus.Collector for one store. Its Observe methods
// are the Observer functions of cdrstore.Options, redaction.Options and
// httpapi.Options. It is safe for concurrent use.
type Metrics struct {
	store atomic.Pointer[cdrstore.Store]

	ops        *prometheus.CounterVec   // kind, outcome
	affected   *prometheus.CounterVec   // kind
	opSeconds  *prometheus.HistogramVec // kind
	commit     *prometheus.HistogramVec // no labels
	lockWait   *prometheus.HistogramVec // no labels
	corrupt    *prometheus.CounterVec   // no labels
	delFailed  *prometheus.CounterVec   // no labels
	checks     *prometheus.CounterVec   // outcome
	httpReqs   *prometheus.CounterVec   // route, code
	httpSecond *prometheus.HistogramVec

	mu          sync.Mutex
	checkFailed bool // the last Check found a problem
	corrupted   bool // a bbolt panic was turned into ErrCorrupt since New

	records, workspaces, outbox, outboxAge, auditHead, residue, residueAge, verifyFailed, up *prometheus.Desc
}

// New returns a Metrics watching no store yet: pass its ObserveStore to
// cdrstore.Options.Observer, open the store, then call Watch.
func New() *Metrics {
	m := &Metrics{
		ops:          counterVec("cdrvault_operations_total", "Operations run, by kind (ingest, redact, erase, delete, auto_redact, sweep, scrub, compact, drain, settings, optout, hold, tombstone: a write that met an erasure's tombstone) and outcome (ok, replayed, dry_run, refused, canceled, failed).", "kind", "outcome"),
		affected:     counterVec("cdrvault_records_affected_total", "Records changed by operations that succeeded, by kind (ingest: records given; drain: outbox items deleted).", "kind"),
		opSeconds:    histogramVec("cdrvault_operation_duration_seconds", "Duration of operations, by kind (a batched operation: per workspace).", "kind"),
		commit:       histogramVec("cdrvault_commit_duration_seconds", "Duration of write-transaction commits (both fsyncs)."),
		lockWait:     histogramVec("cdrvault_write_lock_wait_seconds", "Time write transactions waited for the write lock."),
		corrupt:      counterVec("cdrvault_corruption_panics_total", "bbolt panics on a damaged page that the store turned into ErrCorrupt."),
		delFailed:    counterVec("cdrvault_outbox_delete_failures_total", "Outbox items a Deleter failed to delete (they stay for the next drain)."),
		checks:       counterVec("cdrvault_checks_total", "Store checks run (records, indexes and audit chains), by outcome (ok, failed).", "outcome"),
		httpReqs:     counterVec("cdrvault_http_requests_total", "HTTP API requests, by route (the ServeMux pattern; \"unmatched\" when none) and status class.", "route", "code"),
		httpSecond:   histogramVec("cdrvault_http_request_duration_seconds", "HTTP API request latency, by route (the ServeMux pattern).", "route"),
		records:      prometheus.NewDesc("cdrvault_records", "Records stored, by workspace.", []string{"workspace"}, nil),
		workspaces:   prometheus.NewDesc("cdrvault_workspaces", "Workspaces in the store.", nil, nil),
		outbox:       prometheus.NewDesc("cdrvault_outbox_items", "External blobs waiting for deletion, by workspace.", []string{"workspace"}, nil),
		outboxAge:    prometheus.NewDesc("cdrvault_outbox_oldest_item_age_seconds", "Age of the oldest item in the outbox, by workspace (0 when empty).", []string{"workspace"}, nil),
		auditHead:    prometheus.NewDesc("cdrvault_audit_head_sequence", "Sequence number of the last audit entry, by workspace.", []string{"workspace"}, nil),
		residue:      prometheus.NewDesc("cdrvault_unscrubbed_free_bytes", "Bytes of free pages that may still hold erased data (removed by a scrub); an upper bound.", nil, nil),
		residueAge:   prometheus.NewDesc("cdrvault_unscrubbed_free_bytes_age_seconds", "How long the file has held free pages that may hold erased data (0 when none).", nil, nil),
		verifyFailed: prometheus.NewDesc("cdrvault_audit_verify_failed", "1 when the last store check (audit chains included) found a problem, else 0.", nil, nil),
		up:           prometheus.NewDesc("cdrvault_store_up", "1 when the store is open and its gauges could be read, else 0.", nil, nil),
	}
	// The series without labels exist from the start, at 0.
	m.commit.WithLabelValues()
	m.lockWait.WithLabelValues()
	m.corrupt.WithLabelValues()
	m.delFailed.WithLabelValues()
	return m
}

// Watch makes s the store whose gauges a scrape reads. s should have been
// opened with ObserveStore as its Observer (else it keeps no counts and
// the record and outbox gauges are missing).
func (m *Metrics) Watch(s *cdrstore.Store) { m.store.Store(s) }

// ObserveStore is a cdrstore.Options.Observer.
func (m *Metrics) ObserveStore(ev cdrstore.Event) {
	switch ev.Kind {
	case cdrstore.EventCommit:
		m.commit.WithLabelValues().Observe(ev.Duration.Seconds())
		m.lockWait.WithLabelValues().Observe(ev.LockWait.Seconds())
	case cdrstore.EventIngest:
		m.operation(KindIngest, storeOutcome(ev.Err), ev.Records, ev)
	case cdrstore.EventScrub:
		m.operation(KindScrub, storeOutcome(ev.Err), 0, ev)
	case cdrstore.EventCompact:
		m.operation(KindCompact, storeOutcome(ev.Err), 0, ev)
	case cdrstore.EventCheck:
		m.mu.Lock()
		m.checkFailed = ev.Err != nil
		m.mu.Unlock()
		m.checks.WithLabelValues(checkOutcome(ev.Err)).Inc()
	case cdrstore.EventCorrupt:
		m.corrupt.WithLabelValues().Inc()
		m.mu.Lock()
		m.corrupted = true
		m.mu.Unlock()
	}
}

func (m *Metrics) operation(kind, outcome string, affected int, ev cdrstore.Event) {
	m.ops.WithLabelValues(kind, outcome).Inc()
	if outcome == redaction.OutcomeOK {
		m.affected.WithLabelValues(kind).Add(float64(affected))
	}
	m.opSeconds.WithLabelValues(kind).Observe(ev.Duration.Seconds())
}

func storeOutcome(err error) string {
	switch {
	case err == nil:
		return redaction.OutcomeOK
	case errors.Is(err, cdrstore.ErrInvalidRecord):
		return redaction.OutcomeRefused
	}
	return redaction.OutcomeFailed
}

func checkOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	return "failed"
}

// ObserveRedaction is a redaction.Options.Observer.
func (m *Metrics) ObserveRedaction(ev redaction.Event) {
	m.ops.WithLabelValues(ev.Kind, ev.Outcome).Inc()
	if ev.Outcome == redaction.OutcomeOK || (ev.Kind == redaction.KindDrain && ev.Affected > 0) {
		m.affected.WithLabelValues(ev.Kind).Add(float64(ev.Affected))
	}
	if ev.Failed > 0 {
		m.delFailed.WithLabelValues().Add(float64(ev.Failed))
	}
	m.opSeconds.WithLabelValues(ev.Kind).Observe(ev.Duration.Seconds())
}

// ObserveHTTP is an httpapi.Options.Observer.
func (m *Metrics) ObserveHTTP(ev httpapi.RequestEvent) {
	route := ev.Route
	if route == "" {
		route = "unmatched"
	}
	m.httpReqs.WithLabelValues(route, strconv.Itoa(ev.Status/100)+"xx").Inc()
	m.httpSecond.WithLabelValues(route).Observe(ev.Duration.Seconds())
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
}

// Ready returns nil when the watched store is open, writable (not
// halted: see cdrstore.Store.Writable) and has reported no corruption (a
// bbolt panic turned into ErrCorrupt, or a failed Check), else an error
// saying which. It reads nothing from the file.
func (m *Metrics) Ready() error {
	s := m.store.Load()
	if s == nil {
		return errors.New("metrics: no store watched")
	}
	if err := s.Writable(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.corrupted || m.checkFailed {
		return cdrstore.ErrCorrupt
	}
	return nil
}
