package storetest

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/workload"
)

// Fixture is a store file of generated records, built once per process
// and size, for benchmarks. Copy it before writing to it.
type Fixture struct {
	Path     string
	IDs      []string        // IDs of workspace "acme"
	Contacts []e164.Number   // counterparties, heavy ones first
	Config   workload.Config // what generated it
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*Fixture{}
	dirs       []string // every fixture directory made, built or not
)

// Main runs the tests and benchmarks of a package that builds fixtures,
// then removes the fixtures (each is a file of hundreds of megabytes at
// N = 1,000,000, and outlives any one test). Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	fixturesMu.Lock()
	for _, dir := range dirs {
		os.RemoveAll(dir)
	}
	fixturesMu.Unlock()
	os.Exit(code)
}

// BuildFixture returns the fixture of n records (workload seed 1, one
// workspace "acme"), building it on first use.
func BuildFixture(tb testing.TB, n int) *Fixture {
	tb.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f, ok := fixtures[n]; ok {
		return f
	}
	dir, err := os.MkdirTemp("", "cdrvault-fixture")
	if err != nil {
		tb.Fatal(err)
	}
	dirs = append(dirs, dir)
	f := &Fixture{Path: filepath.Join(dir, "fixture.db"), Config: workload.Config{Seed: 1, N: n}.WithDefaults()}
	s, err := cdrstore.Open(f.Path, &cdrstore.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	g := workload.New(f.Config)
	batch := make([]cdrstore.Record, 0, 10_000)
	for i := 0; i < n; i += cap(batch) {
		batch = g.Batch(batch[:0], min(cap(batch), n-i))
		for _, r := range batch {
			f.IDs = append(f.IDs, r.ID)
		}
		if err := s.PutBatch(batch); err != nil {
			tb.Fatal(err)
		}
	}
	f.Contacts = g.Contacts()
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	fixtures[n] = f
	return f
}

// Open opens a private copy of the fixture (durable commits unless
// noSync). The copy is closed at cleanup.
func (f *Fixture) Open(tb testing.TB, noSync bool) *cdrstore.Store {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "store.db")
	CopyFile(tb, f.Path, dst)
	s, err := cdrstore.Open(dst, &cdrstore.Options{NoSync: noSync, Now: func() time.Time { return f.Config.End }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// CopyFile copies src to dst.
func CopyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchConcurrent runs calls 0 to b.N-1 of call from 16 goroutines at
// once, each taking the next call number, as concurrent API clients do,
// and reports records/s (one record a call) and, when s shared commits
// (Store.GroupStats), calls/commit. The timer starts here.
func BenchConcurrent(b *testing.B, s *cdrstore.Store, call func(i int) error) {
	var next atomic.Int64
	before := s.GroupStats()
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := call(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if st := s.GroupStats().Sub(before); st.Groups > 0 {
		b.ReportMetric(float64(st.Calls)/float64(st.Groups), "calls/commit")
	}
}
