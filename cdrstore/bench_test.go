package cdrstore_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
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

type fixture struct {
	path     string
	ids      []string
	contacts []e164.Number
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*fixture{}
)

// storeFixture builds (once per process) a store of n generated records and
// returns a private copy of its file.
func storeFixture(b *testing.B, n int) (*cdrstore.Store, *fixture) {
	b.Helper()
	fixturesMu.Lock()
	f, ok := fixtures[n]
	if !ok {
		dir, err := os.MkdirTemp("", "cdrstore-bench")
		if err != nil {
			b.Fatal(err)
		}
		f = &fixture{path: filepath.Join(dir, "fixture.db")}
		s, err := cdrstore.Open(f.path, &cdrstore.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		g := workload.New(workload.Config{Seed: 1, N: n})
		batch := make([]cdrstore.Record, 0, 10_000)
		for i := 0; i < n; i += cap(batch) {
			batch = g.Batch(batch[:0], min(cap(batch), n-i))
			for _, r := range batch {
				if r.Workspace == "acme" {
					f.ids = append(f.ids, r.ID)
				}
			}
			if err := s.PutBatch(batch); err != nil {
				b.Fatal(err)
			}
		}
		f.contacts = g.Contacts()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		fixtures[n] = f
	}
	fixturesMu.Unlock()

	dst := filepath.Join(b.TempDir(), "store.db")
	copyFile(b, f.path, dst)
	s, err := cdrstore.Open(dst, &cdrstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, f
}

func copyFile(b *testing.B, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStore_PutBatch ingests batches of 1,000 new records into a
// store of n, one transaction per batch, with fsync.
func BenchmarkStore_PutBatch(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s, _ := storeFixture(b, n)
			s.Close()
			s, err := cdrstore.Open(s.Path(), nil) // durable commits
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
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

func BenchmarkStore_Get(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s, f := storeFixture(b, n)
			rng := rand.New(rand.NewPCG(3, 3))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get("acme", f.ids[rng.IntN(len(f.ids))]); err != nil {
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
			s, f := storeFixture(b, n)
			rng := rand.New(rand.NewPCG(4, 4))
			total := 0
			b.ReportAllocs()
			for b.Loop() {
				c := f.contacts[rng.IntN(len(f.contacts))]
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
