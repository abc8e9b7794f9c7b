package control_test

import (
	"context"
	"flag"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
)

var benchRecords = flag.Int("records", 100_000, "records in the benchmark store")

// benchOps returns the operations of a copy of the fixture, locally and
// through a control socket served on it.
func benchOps(b *testing.B) (*storetest.Fixture, control.Ops, control.Ops) {
	f := storetest.BuildFixture(b, *benchRecords)
	s := f.Open(b, true)
	rd := redaction.New(s, nil)
	srv, err := control.Start(rd, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	c, err := control.Dial(context.Background(), srv.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return f, control.NewLocal(rd), c
}

// BenchmarkGet measures one record by ID, in process and through the
// socket; p50 and p99 are of every call made.
func BenchmarkGet(b *testing.B) {
	f, local, remote := benchOps(b)
	ctx := context.Background()
	eachOps(b, local, remote, func(b *testing.B, ops control.Ops) {
		var lat []time.Duration
		i := 0
		for b.Loop() {
			start := time.Now()
			if _, err := ops.Get(ctx, "acme", f.IDs[(i*7919)%len(f.IDs)]); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			i++
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	})
}

// eachOps runs fn as sub-benchmarks "local" and "routed".
func eachOps(b *testing.B, local, remote control.Ops, fn func(b *testing.B, ops control.Ops)) {
	for _, bc := range []struct {
		name string
		ops  control.Ops
	}{{"local", local}, {"routed", remote}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			fn(b, bc.ops)
		})
	}
}

// BenchmarkExport measures a subject access export of the fixture's
// busiest contact, in process and streamed through the socket, and the
// peak heap of the process (service and client both live in it).
func BenchmarkExport(b *testing.B) {
	f, local, remote := benchOps(b)
	ctx := context.Background()
	n := f.Contacts[0]
	eachOps(b, local, remote, func(b *testing.B, ops control.Ops) {
		runtime.GC()
		peak, stop := heapPeak()
		records := 0
		for b.Loop() {
			err := ops.Export(ctx, "acme", n, func(control.Subject) error { return nil },
				func(cdrjson.Record) error { records++; return nil })
			if err != nil {
				b.Fatal(err)
			}
		}
		stop()
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64(records)/float64(b.N), "records/export")
		b.ReportMetric(float64(*peak)/(1<<20), "peak-heap-MiB")
	})
}

// heapPeak samples the heap's objects every millisecond until stop
// (runtime/metrics: no stop-the-world).
func heapPeak() (*uint64, func()) {
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-t.C:
				metrics.Read(sample)
				peak = max(peak, sample[0].Value.Uint64())
			}
		}
	}()
	return &peak, func() { close(done); <-finished }
}
