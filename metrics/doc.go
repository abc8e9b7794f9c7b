// Package metrics exposes a cdrvault store to Prometheus: a collector
// fed by the events of the store, the redactor and the HTTP API, plus
// gauges read at scrape time from counters the store keeps, and the
// /metrics, /healthz and /readyz handlers of a service.
//
// It is the only package of the module that imports
// github.com/prometheus/client_golang: a program that does not import
// metrics does not compile it.
//
// # Overview
//
// Wire it before opening the store, since the store reports to it from
// Open on:
//
//	m := metrics.New()
//	s, err := cdrstore.Open(path, &cdrstore.Options{Observer: m.ObserveStore})
//	// ...
//	rd := redaction.New(s, &redaction.Options{Observer: m.ObserveRedaction})
//	m.Watch(s)
//	prometheus.MustRegister(m)
//
// # Cost of a scrape
//
// A scrape reads no record and no page list: records and outbox items
// come from the counts the store keeps (counted once at Open, then kept
// by each commit, see cdrstore.Store.Counts), free bytes from bbolt's
// free-page counters (cdrstore.Store.Residue), audit heads from the same
// kept counts, and, for each workspace whose outbox holds items, its
// oldest entry, in one read transaction. Its cost grows with the number
// of workspaces, not of records.
//
// # Caveats
//
// No label or value carries a phone number, a record or request ID, or a
// body: labels are workspace names, operation kinds and outcomes, and for
// HTTP the ServeMux pattern that served the request and the status class.
package metrics
