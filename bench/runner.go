package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/workload"
	"github.com/cdrvault/cdrvault/redaction"
)

// Workload is the data every engine gets: records in arrival order and
// the contacts, heavy ones (call-centre numbers) first.
type Workload struct {
	Records  []cdrstore.Record
	Contacts []e164.Number
	Heavy    int
}

// NewWorkload generates n records (seed 1, one workspace, ~100 records per
// contact, one heavy contact of 10,000 records per 200,000).
func NewWorkload(n int) *Workload {
	c := workload.Config{Seed: 1, N: n, End: Now}.WithDefaults()
	g := workload.New(c)
	w := &Workload{Records: g.All(), Contacts: g.Contacts(), Heavy: c.HeavyContacts}
	return w
}

// Metric names, in the order they print.
var Metrics = []string{
	"ingest records/s", "get ns", "get warm ns", "list100 ns", "redact ns", "erase100 ns", "erase10k ns",
	"concurrent commits/s", "sweep records/s", "size bytes",
}

// higherIsBetter says which metrics are rates.
func higherIsBetter(m string) bool {
	return m == "ingest records/s" || m == "concurrent commits/s" || m == "sweep records/s"
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds())
}

// LoadBatch is the number of records per transaction of a bulk load. It
// decides how many pages the last commits freed, which every later commit
// pays for while they stay free.
const LoadBatch = 10_000

// Load stores rs in e in batches of LoadBatch, as every bulk load of the
// benchmarks does.
func Load(e Engine, rs []cdrstore.Record) error {
	for i := 0; i < len(rs); i += LoadBatch {
		if err := e.Ingest(rs[i:min(i+LoadBatch, len(rs))]); err != nil {
			return err
		}
	}
	return nil
}

// Run opens engine f in dir, runs the workload, and returns the metrics.
func Run(f Factory, dir string, w *Workload, progress func(string)) (map[string]float64, error) {
	e, err := f.Open(dir)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	m := map[string]float64{}
	rng := rand.New(rand.NewPCG(7, 7))
	phase := func(s string) {
		// Collect the garbage of the phase before (the workload's batches,
		// the last phase's results) so that no phase is timed while the
		// collector works through another's heap, as testing.B does
		// before each benchmark.
		runtime.GC()
		if progress != nil {
			progress(f.Name + ": " + s)
		}
	}

	phase("ingest")
	start := time.Now()
	if err := Load(e, w.Records); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	m["ingest records/s"] = float64(len(w.Records)) / time.Since(start).Seconds()
	if m["size bytes"], err = sizeOf(e); err != nil {
		return nil, err
	}

	// Two passes of 5,000 random IDs: the first after the ingest, the
	// second as a service that has been serving reads. On cdrvault the
	// first takes about twice as long (most likely the trees' upper levels
	// are not yet in the CPU's caches and TLB; the map is populated).
	phase("get")
	var ds []time.Duration
	for _, metric := range []string{"get ns", "get warm ns"} {
		ds = ds[:0]
		for range 5000 {
			r := &w.Records[rng.IntN(len(w.Records))]
			t := time.Now()
			if err := e.Get(r.Workspace, r.ID); err != nil {
				return nil, fmt.Errorf("get: %w", err)
			}
			ds = append(ds, time.Since(t))
		}
		m[metric] = median(ds)
	}

	phase("list")
	light := w.Contacts[w.Heavy:]
	ds = ds[:0]
	for range 1000 {
		n := light[rng.IntN(len(light))]
		t := time.Now()
		if _, err := e.List("acme", n, 100); err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		ds = append(ds, time.Since(t))
	}
	m["list100 ns"] = median(ds)

	phase("redact")
	ds = ds[:0]
	for range 200 {
		r := w.Records[rng.IntN(len(w.Records)/2)]
		t := time.Now()
		if err := e.Redact(r); err != nil {
			return nil, fmt.Errorf("redact: %w", err)
		}
		ds = append(ds, time.Since(t))
	}
	m["redact ns"] = median(ds)

	phase("erase")
	ds = ds[:0]
	for i := range min(20, len(light)) {
		t := time.Now()
		if _, err := e.Erase("acme", light[i]); err != nil {
			return nil, fmt.Errorf("erase: %w", err)
		}
		ds = append(ds, time.Since(t))
	}
	m["erase100 ns"] = median(ds)
	if w.Heavy > 0 {
		t := time.Now()
		if _, err := e.Erase("acme", w.Contacts[0]); err != nil {
			return nil, fmt.Errorf("erase heavy: %w", err)
		}
		m["erase10k ns"] = float64(time.Since(t).Nanoseconds())
	}

	phase("concurrent ingest")
	const writers, each = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start = time.Now()
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := w.Records[(g*each+i)%len(w.Records)]
				r.ID = fmt.Sprintf("conc-%d-%d", g, i)
				r.StartedAt = Now.Add(-time.Duration(g*each+i) * time.Second)
				r.EndedAt, r.CreatedAt = time.Time{}, time.Time{}
				if err := e.Ingest([]cdrstore.Record{r}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("concurrent ingest: %w", err)
	}
	m["concurrent commits/s"] = writers * each / time.Since(start).Seconds()

	phase("sweep")
	start = time.Now()
	swept, err := e.Sweep(redaction.Cutoff(Now, redaction.DefaultRetentionMonths))
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	m["sweep records/s"] = float64(swept) / time.Since(start).Seconds()
	return m, nil
}

func sizeOf(e Engine) (float64, error) {
	n, err := e.Size()
	return float64(n), err
}
