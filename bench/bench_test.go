package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
)

// benchN is the store size of the Go benchmarks (BENCH_N, default 5,000:
// enough for a smoke run of every engine; use cmd/compare for figures).
func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 5000
}

// TestMain removes the stores the benchmarks loaded once per process.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, e := range stores {
		e.Close()
	}
	for _, dir := range tempDirs {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

var (
	tempDirs []string // removed by TestMain
	wlOnce   sync.Once
	wl       *Workload
	stores   = map[string]Engine{}
	mu       sync.Mutex
)

func workloadOnce() *Workload {
	wlOnce.Do(func() { wl = NewWorkload(benchN(), 0) })
	return wl
}

// loaded returns engine f holding the whole workload, built once.
func loaded(b *testing.B, f Factory) Engine {
	mu.Lock()
	defer mu.Unlock()
	if e, ok := stores[f.Name]; ok {
		return e
	}
	e, _ := load(b, f, "bench-")
	stores[f.Name] = e
	return e
}

// load opens engine f in a new directory (removed by TestMain; returned
// too) and stores the whole workload in it with Load, as cmd/compare does.
func load(b *testing.B, f Factory, prefix string) (Engine, string) {
	dir, err := os.MkdirTemp("", prefix+f.Name)
	if err != nil {
		b.Fatal(err)
	}
	tempDirs = append(tempDirs, dir)
	e, err := f.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := Load(e, workloadOnce().Records, LoadBatch); err != nil {
		b.Fatal(err)
	}
	return e, dir
}

func forEngines(b *testing.B, fn func(b *testing.B, f Factory)) {
	for _, f := range Factories() {
		b.Run("engine="+f.Name, func(b *testing.B) { fn(b, f) })
	}
}

// BenchmarkIngest stores one batch of 100, 1,000 or 10,000 records per
// iteration, one durable transaction each, into a store that grows.
func BenchmarkIngest(b *testing.B) {
	w := workloadOnce()
	forEngines(b, func(b *testing.B, f Factory) {
		for _, size := range DefaultBatches.Ingest {
			b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
				if f.Name == "bolthold" && size > 1000 {
					// Seconds per batch even at the first: too slow for
					// CI's smoke run.
					b.Skip("bolthold: batches of up to 1,000")
				}
				e, err := f.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					batch := make([]cdrstore.Record, size)
					for j := range batch {
						batch[j] = w.Records[(i+j)%len(w.Records)]
						batch[j].ID = fmt.Sprintf("%s-%d", batch[j].ID[:8], i+j)
					}
					i += len(batch)
					if err := e.Ingest(batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
			})
		}
	})
}

// BenchmarkLoad stores the whole workload (BENCH_N records, as generated,
// in arrival order) into a fresh store per iteration, in transactions of
// 100, 1,000 or 10,000 records: compare's ingest, one size at a time (the
// fresh directory is not timed). bolthold is left out: its load of even
// the default 5,000 records takes seconds per size, too slow for CI's
// smoke run (BenchmarkIngest covers it).
func BenchmarkLoad(b *testing.B) {
	w := workloadOnce()
	forEngines(b, func(b *testing.B, f Factory) {
		if f.Name == "bolthold" {
			b.Skip("bolthold: see BenchmarkIngest")
		}
		for _, size := range DefaultBatches.Ingest {
			b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					e, err := f.Open(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if err := Load(e, w.Records, size); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := e.Close(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(b.N*len(w.Records))/b.Elapsed().Seconds(), "records/s")
			})
		}
	})
}

func BenchmarkGet(b *testing.B) {
	w := workloadOnce()
	forEngines(b, func(b *testing.B, f Factory) {
		e := loaded(b, f)
		rng := rand.New(rand.NewPCG(1, 1))
		b.ReportAllocs()
		for b.Loop() {
			r := &w.Records[rng.IntN(len(w.Records))]
			if err := e.Get(r.Workspace, r.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkList lists up to 100 records of a contact.
func BenchmarkList(b *testing.B) {
	w := workloadOnce()
	forEngines(b, func(b *testing.B, f Factory) {
		e := loaded(b, f)
		rng := rand.New(rand.NewPCG(2, 2))
		total := 0
		b.ReportAllocs()
		for b.Loop() {
			n, err := e.List("acme", w.Contacts[rng.IntN(len(w.Contacts))], 100)
			if err != nil {
				b.Fatal(err)
			}
			total += n
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkRedact redacts one record per durable transaction.
func BenchmarkRedact(b *testing.B) {
	w := workloadOnce()
	forEngines(b, func(b *testing.B, f Factory) {
		e := loaded(b, f)
		rng := rand.New(rand.NewPCG(3, 3))
		b.ReportAllocs()
		for b.Loop() {
			if err := e.Redact(w.Records[rng.IntN(len(w.Records)/2)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkErase erases a contact's records in one durable transaction.
func BenchmarkErase(b *testing.B) {
	w := workloadOnce()
	forEngines(b, func(b *testing.B, f Factory) {
		e := loaded(b, f)
		i, total := 0, 0
		b.ReportAllocs()
		for b.Loop() {
			n, err := e.Erase("acme", w.Contacts[i%len(w.Contacts)])
			if err != nil {
				b.Fatal(err)
			}
			i++
			total += n
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
	})
}

var templates = map[string]string{}

// template returns a directory holding engine f's files with the whole
// workload loaded and the engine closed, built once per process. Unlike
// loaded's store, which Redact and Erase change as they run, it stays as
// loaded: each Sweep iteration copies it.
func template(b *testing.B, f Factory) string {
	mu.Lock()
	defer mu.Unlock()
	if dir, ok := templates[f.Name]; ok {
		return dir
	}
	e, dir := load(b, f, "bench-template-")
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	templates[f.Name] = dir
	return dir
}

// BenchmarkSweep deletes the records older than 13 months, 1,000 or
// 10,000 per transaction, one sweep per iteration on a fresh copy of the
// loaded store (the copy, synced, is not timed).
func BenchmarkSweep(b *testing.B) {
	cutoff := redaction.Cutoff(Now, redaction.DefaultRetentionMonths)
	forEngines(b, func(b *testing.B, f Factory) {
		src := template(b, f)
		for _, size := range DefaultBatches.Sweep {
			b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
				total := 0
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					dir := b.TempDir()
					if err := CopyDir(src, dir); err != nil {
						b.Fatal(err)
					}
					e, err := f.Open(dir)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					n, err := e.Sweep(cutoff, size)
					if err != nil {
						b.Fatal(err)
					}
					total += n
					b.StopTimer()
					if err := e.Close(); err != nil {
						b.Fatal(err)
					}
					os.RemoveAll(dir)
					b.StartTimer()
				}
				b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
			})
		}
	})
}

// redacted holds the IDs each engine's loaded store had redacted by
// BenchmarkRedactConcurrent, so that no run (-count runs share the store)
// measures the cheaper redaction of a record already redacted.
var redacted = map[string]map[string]bool{}

// freshRedactions picks n records of the older half of w that engine has
// not redacted yet.
func freshRedactions(b *testing.B, w *Workload, rng *rand.Rand, engine string, n int) []cdrstore.Record {
	done := redacted[engine]
	if done == nil {
		done = map[string]bool{}
		redacted[engine] = done
	}
	half := len(w.Records) / 2
	if len(done)+n > half {
		b.Fatalf("%s: %d records left to redact, %d asked: run fewer iterations or a larger BENCH_N", engine, half-len(done), n)
	}
	rs := make([]cdrstore.Record, 0, n)
	for len(rs) < n {
		r := w.Records[rng.IntN(half)]
		if !done[r.ID] {
			done[r.ID] = true
			rs = append(rs, r)
		}
	}
	return rs
}

// BenchmarkRedactConcurrent redacts by ID from ConcurrentWriters
// goroutines at once on one store: each iteration is a round of
// ConcurrentWriters×8 records of the older half that the store has not
// had redacted, redacted with RedactConcurrently as compare's concurrent
// phase does (a repeat is cheaper on some engines: a no-op in cdrvault's
// records, a write of the same row in SQLite's).
func BenchmarkRedactConcurrent(b *testing.B) {
	w := workloadOnce()
	const round = ConcurrentWriters * 8
	forEngines(b, func(b *testing.B, f Factory) {
		e := loaded(b, f)
		rng := rand.New(rand.NewPCG(4, 4))
		total := 0
		cv, isCdrvault := e.(*cdrvault)
		var before cdrstore.GroupStats
		if isCdrvault {
			before = cv.s.GroupStats()
		}
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			rs := freshRedactions(b, w, rng, f.Name, round)
			b.StartTimer()
			if err := RedactConcurrently(e, rs, ConcurrentWriters); err != nil {
				b.Fatal(err)
			}
			total += len(rs)
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "redactions/s")
		if isCdrvault {
			// How many redactions shared a commit, on average.
			gs := cv.s.GroupStats().Sub(before)
			b.ReportMetric(float64(gs.Calls)/float64(max(gs.Groups, 1)), "calls/commit")
		}
	})
}
