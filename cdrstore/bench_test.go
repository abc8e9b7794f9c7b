package cdrstore_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/internal/workload"
)

// benchSizes are the store sizes of the benchmarks. The 1M store takes a
// while to build once per process; -short keeps to 100k.
func benchSizes() []int {
	if testing.Short() {
		return []int{100_000}
	}
	return []int{100_000, 1_000_000}
}

// BenchmarkStore_PutBatch ingests batches of 1,000 new records into a
// store of n, one durable (fsynced) transaction per batch.
func BenchmarkStore_PutBatch(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := storetest.BuildFixture(b, n).Open(b, false)
			g := workload.New(workload.Config{Seed: 2, N: n, Start: workload.DefaultEnd, End: workload.DefaultEnd.AddDate(0, 1, 0)})
			const batchSize = 1000
			batch := make([]cdrstore.Record, 0, batchSize)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				batch = g.Batch(batch[:0], batchSize)
				b.StartTimer()
				if err := s.PutBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkStore_PutGroupedConcurrent ingests one new record per
// PutGrouped call from 16 goroutines at once into a store of 10,000
// records, durably, as concurrent ingest callers do (cmd/compare's
// "concurrent commits/s" phase); b.N is the number of calls.
func BenchmarkStore_PutGroupedConcurrent(b *testing.B) {
	const n = 10_000
	s := storetest.BuildFixture(b, n).Open(b, false)
	g := workload.New(workload.Config{Seed: 3, N: n, Start: workload.DefaultEnd, End: workload.DefaultEnd.AddDate(0, 1, 0)})
	recs := g.Batch(nil, b.N)
	storetest.BenchConcurrent(b, s, func(i int) error { return s.PutGrouped(recs[i : i+1]) })
}

func BenchmarkStore_Get(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			f := storetest.BuildFixture(b, n)
			s := f.Open(b, true)
			rng := rand.New(rand.NewPCG(3, 3))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get("acme", f.IDs[rng.IntN(len(f.IDs))]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkStore_ByNumber lists up to 100 records of a random contact.
func BenchmarkStore_ByNumber(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			f := storetest.BuildFixture(b, n)
			s := f.Open(b, true)
			rng := rand.New(rand.NewPCG(4, 4))
			total := 0
			b.ReportAllocs()
			for b.Loop() {
				c := f.Contacts[rng.IntN(len(f.Contacts))]
				err := s.View(func(tx *cdrstore.Tx) error {
					for _, err := range tx.ByNumber("acme", c, cdrstore.Query{Limit: 100}) {
						if err != nil {
							return err
						}
						total++
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkStore_Check verifies every record and index entry.
func BenchmarkStore_Check(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := storetest.BuildFixture(b, n).Open(b, true)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Check(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
