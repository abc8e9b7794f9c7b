package metrics_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/metrics"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/prometheus/client_golang/prometheus"
)

var benchRecords = flag.String("records", "1000,100000", "comma-separated store sizes of the benchmarks (e.g. 1000000)")

func benchSizes(b *testing.B) []int {
	var ns []int
	for f := range strings.SplitSeq(*benchRecords, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			b.Fatalf("-records: %v", err)
		}
		ns = append(ns, n)
	}
	return ns
}

// openObserved opens a private copy of the fixture of n records with m
// as its observer, and returns how long Open took.
func openObserved(b *testing.B, n int, m *metrics.Metrics) (*cdrstore.Store, time.Duration) {
	f := storetest.BuildFixture(b, n)
	dst := filepath.Join(b.TempDir(), "store.db")
	storetest.CopyFile(b, f.Path, dst)
	start := time.Now()
	s, err := cdrstore.Open(dst, &cdrstore.Options{NoSync: true, Now: func() time.Time { return f.Config.End }, Observer: m.ObserveStore})
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.Cleanup(func() { s.Close() })
	return s, took
}

// BenchmarkScrape gathers every series of a store of n records, as a
// Prometheus scrape does. Its cost follows the workspaces, not the
// records; open-ms is the Open that counted them once.
func BenchmarkScrape(b *testing.B) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			m := metrics.New()
			s, open := openObserved(b, n, m)
			redaction.New(s, &redaction.Options{Observer: m.ObserveRedaction})
			scrapeLoop(b, m, s)
			b.ReportMetric(float64(open.Microseconds())/1000, "open-ms")
		})
	}
}

// BenchmarkScrapeWorkspaces is BenchmarkScrape over many workspaces of
// one record each, each with an audit entry: a scrape reads each one's
// audit head and oldest outbox entry.
func BenchmarkScrapeWorkspaces(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("workspaces=%d", n), func(b *testing.B) {
			m := metrics.New()
			s, err := cdrstore.Open(filepath.Join(b.TempDir(), "s.db"), &cdrstore.Options{NoSync: true, Observer: m.ObserveStore})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rd := redaction.New(s, &redaction.Options{Observer: m.ObserveRedaction})
			var rs []cdrstore.Record
			for i := range n {
				r := records(1)[0]
				r.Workspace = fmt.Sprintf("ws-%04d", i)
				rs = append(rs, r)
			}
			if err := s.PutBatch(rs); err != nil {
				b.Fatal(err)
			}
			for _, r := range rs {
				if _, err := rd.SetSettings(ctx, r.Workspace, redaction.Settings{Products: []cdrstore.Product{cdrstore.ProductVoice}}); err != nil {
					b.Fatal(err)
				}
			}
			scrapeLoop(b, m, s)
		})
	}
}

// scrapeLoop watches s with m and times gathering every series.
func scrapeLoop(b *testing.B, m *metrics.Metrics, s *cdrstore.Store) {
	m.Watch(s)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
