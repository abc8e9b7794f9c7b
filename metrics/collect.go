package metrics

import (
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/prometheus/client_golang/prometheus"
)

// collectors are the event-fed metrics.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.ops, m.affected, m.opSeconds, m.commit, m.lockWait, m.corrupt, m.delFailed, m.checks, m.httpReqs, m.httpSecond}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.records, m.workspaces, m.outbox, m.outboxAge, m.auditHead, m.residue, m.residueAge, m.verifyFailed, m.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the event-fed metrics, then
// the gauges read from the watched store (see the package doc for what
// that costs).
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	m.mu.Lock()
	failed := m.checkFailed
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(m.verifyFailed, prometheus.GaugeValue, b2f(failed))
	s := m.store.Load()
	if s == nil || m.collectStore(ch, s) != nil {
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 1)
}

func (m *Metrics) collectStore(ch chan<- prometheus.Metric, s *cdrstore.Store) error {
	bytes, since, err := s.Residue()
	if err != nil {
		return err
	}
	now := s.Now()
	age := 0.0
	if bytes > 0 {
		age = max(0, now.Sub(since).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(m.residue, prometheus.GaugeValue, float64(bytes))
	ch <- prometheus.MustNewConstMetric(m.residueAge, prometheus.GaugeValue, age)

	counts, ok := s.Counts()
	if !ok {
		return nil // opened without an Observer: no counts kept
	}
	ch <- prometheus.MustNewConstMetric(m.workspaces, prometheus.GaugeValue, float64(len(counts)))
	var pending []string // workspaces whose outbox holds items
	for ws, c := range counts {
		ch <- prometheus.MustNewConstMetric(m.records, prometheus.GaugeValue, float64(c.Records), ws)
		ch <- prometheus.MustNewConstMetric(m.outbox, prometheus.GaugeValue, float64(c.Outbox), ws)
		ch <- prometheus.MustNewConstMetric(m.auditHead, prometheus.GaugeValue, float64(c.AuditSeq), ws)
		if c.Outbox > 0 {
			pending = append(pending, ws)
		} else {
			ch <- prometheus.MustNewConstMetric(m.outboxAge, prometheus.GaugeValue, 0, ws)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	// The one read: the oldest item of each outbox that holds any.
	return s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range pending {
			oldest, ok, err := redaction.OutboxOldest(tx, ws)
			if err != nil {
				return err
			}
			age := 0.0
			if ok {
				age = max(0, now.Sub(oldest).Seconds())
			}
			ch <- prometheus.MustNewConstMetric(m.outboxAge, prometheus.GaugeValue, age, ws)
		}
		return nil
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
