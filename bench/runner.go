package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// DefaultRecordsPerContact is the generator's average of records per
// contact; compare also runs a workload of about SparseRecordsPerContact,
// where a contact's records are few and the number index holds ten times
// as many numbers.
const (
	DefaultRecordsPerContact = 100
	SparseRecordsPerContact  = 10
)

// NewWorkload generates n records (seed 1, one workspace, perContact
// records per contact on average (0: the generator's default of 100), one
// heavy contact of 10,000 records per 200,000).
func NewWorkload(n, perContact int) *Workload {
	c := workload.Config{Seed: 1, N: n, End: Now, RecordsPerContact: perContact}.WithDefaults()
	g := workload.New(c)
	w := &Workload{Records: g.All(), Contacts: g.Contacts(), Heavy: c.HeavyContacts}
	return w
}

// Batches are the transaction sizes every engine runs: bulk loads of
// Ingest records per transaction, sweeps of Sweep deletions per
// transaction.
type Batches struct {
	Ingest []int
	Sweep  []int
}

// DefaultBatches are those of compare: ingest at 100, 1,000 and 10,000
// records per transaction, sweeps at 1,000 (the library's default batch)
// and 10,000.
var DefaultBatches = Batches{Ingest: []int{100, 1000, 10_000}, Sweep: []int{redaction.DefaultBatchSize, 10_000}}

// IngestMetric and SweepMetric name the rate of a bulk load and of a sweep
// at batch records per transaction.
func IngestMetric(batch int) string { return fmt.Sprintf("ingest %d/tx rec/s", batch) }
func SweepMetric(batch int) string  { return fmt.Sprintf("sweep %d/tx rec/s", batch) }

// Metric names of the rest, in the order they print.
const (
	MetricSize             = "size bytes"
	MetricMemory           = "memory bytes"
	MetricRedactConcurrent = "concurrent redact/s"
)

// ConcurrentWriters is the number of goroutines of the concurrent phases
// (ingest and redaction), and ConcurrentRedactionCount the number of
// records the concurrent redaction phase redacts between them.
const (
	ConcurrentWriters        = 16
	ConcurrentRedactionCount = 1600
)

// ConcurrentRedactions picks n distinct records of the older half of w
// (old enough for every workspace's premature window) with rng, for the
// concurrent redaction phase: every engine, given the same rng, redacts
// the same records.
func ConcurrentRedactions(w *Workload, rng *rand.Rand, n int) []cdrstore.Record {
	half := len(w.Records) / 2
	n = min(n, half)
	seen := make(map[int]bool, n)
	rs := make([]cdrstore.Record, 0, n)
	for len(rs) < n {
		i := rng.IntN(half)
		if !seen[i] {
			seen[i] = true
			rs = append(rs, w.Records[i])
		}
	}
	return rs
}

// RedactConcurrently redacts rs with e.Redact from writers goroutines,
// each taking the next record not yet taken, and returns the first error.
func RedactConcurrently(e Engine, rs []cdrstore.Record, writers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rs) {
					return
				}
				if err := e.Redact(rs[i]); err != nil {
					errs <- fmt.Errorf("redact %s: %w", rs[i].ID, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Metrics lists the metric names for bs, in the order they print.
func Metrics(bs Batches) []string {
	var ms []string
	for _, b := range bs.Ingest {
		ms = append(ms, IngestMetric(b))
	}
	ms = append(ms, "get ns", "get warm ns", "list100 ns", "redact ns", MetricRedactConcurrent, "erase contact ns", "erase10k ns", "concurrent commits/s")
	for _, b := range bs.Sweep {
		ms = append(ms, SweepMetric(b))
	}
	return append(ms, MetricSize, MetricMemory)
}

// higherIsBetter says which metrics are rates.
func higherIsBetter(m string) bool { return strings.HasSuffix(m, "/s") }

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds())
}

// LoadBatch is the number of records per transaction of the bulk load of
// the store every other phase runs on (and of the Go benchmarks' stores).
// It decides how many pages the last commits freed, which every later
// commit pays for while they stay free.
const LoadBatch = 10_000

// Load stores rs in e in transactions of batch records.
func Load(e Engine, rs []cdrstore.Record, batch int) error {
	for i := 0; i < len(rs); i += batch {
		if err := e.Ingest(rs[i:min(i+batch, len(rs))]); err != nil {
			return err
		}
	}
	return nil
}

// CopyDir copies the files of src (a closed engine's directory) into dst
// and syncs them, so that no later commit in dst pays for writing the copy
// back.
func CopyDir(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if err := copyFile(filepath.Join(src, ent.Name()), filepath.Join(dst, ent.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Run runs the workload on engine f in directories under root, and
// returns the metrics. It bulk-loads one store in transactions of
// LoadBatch records, keeps a copy of it as loaded, and runs the reads,
// redactions, erasures and concurrent ingest on it; each other ingest
// batch size of bs loads a store of its own, and each sweep batch size
// sweeps a fresh copy of the loaded store.
func Run(f Factory, root string, w *Workload, bs Batches, progress func(string)) (map[string]float64, error) {
	m := map[string]float64{}
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
	open := func(name string) (Engine, string, error) {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", err
		}
		e, err := f.Open(dir)
		return e, dir, err
	}
	load := func(name string, batch int) (Engine, string, error) {
		e, dir, err := open(name)
		if err != nil {
			return nil, "", err
		}
		phase(fmt.Sprintf("ingest %d/tx", batch))
		start := time.Now()
		if err := Load(e, w.Records, batch); err != nil {
			e.Close()
			return nil, "", fmt.Errorf("ingest %d/tx: %w", batch, err)
		}
		m[IngestMetric(batch)] = float64(len(w.Records)) / time.Since(start).Seconds()
		return e, dir, nil
	}

	e, dir, err := load("main", LoadBatch)
	if err != nil {
		return nil, err
	}
	if m[MetricSize], err = sizeOf(e); err != nil {
		e.Close()
		return nil, err
	}
	// The copy the sweeps start from, taken closed.
	if err := e.Close(); err != nil {
		return nil, err
	}
	loaded := filepath.Join(root, "loaded")
	if err := os.MkdirAll(loaded, 0o755); err != nil {
		return nil, err
	}
	if err := CopyDir(dir, loaded); err != nil {
		return nil, err
	}
	if e, err = f.Open(dir); err != nil {
		return nil, err
	}
	err = operate(e, w, m, phase)
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}

	for _, b := range bs.Ingest {
		if b == LoadBatch {
			continue
		}
		e, dir, err := load(fmt.Sprintf("ingest-%d", b), b)
		if err != nil {
			return nil, err
		}
		if err := e.Close(); err != nil {
			return nil, err
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}

	cutoff := redaction.Cutoff(Now, redaction.DefaultRetentionMonths)
	for _, b := range bs.Sweep {
		dir := filepath.Join(root, fmt.Sprintf("sweep-%d", b))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := CopyDir(loaded, dir); err != nil {
			return nil, err
		}
		e, err := f.Open(dir)
		if err != nil {
			return nil, err
		}
		phase(fmt.Sprintf("sweep %d/tx", b))
		start := time.Now()
		swept, err := e.Sweep(cutoff, b)
		elapsed := time.Since(start)
		if cerr := e.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("sweep %d/tx: %w", b, err)
		}
		m[SweepMetric(b)] = float64(swept) / elapsed.Seconds()
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	return m, os.RemoveAll(loaded)
}

// operate runs the phases after the bulk load on e: gets, lists (then the
// memory e holds), redactions one at a time and then from
// ConcurrentWriters goroutines, erasures and concurrent single-record
// ingest.
func operate(e Engine, w *Workload, m map[string]float64, phase func(string)) error {
	rng := rand.New(rand.NewPCG(7, 7))
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
				return fmt.Errorf("get: %w", err)
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
			return fmt.Errorf("list: %w", err)
		}
		ds = append(ds, time.Since(t))
	}
	m["list100 ns"] = median(ds)
	var err error
	if m[MetricMemory], err = memoryOf(e); err != nil {
		return err
	}

	phase("redact")
	ds = ds[:0]
	for range 200 {
		r := w.Records[rng.IntN(len(w.Records)/2)]
		t := time.Now()
		if err := e.Redact(r); err != nil {
			return fmt.Errorf("redact: %w", err)
		}
		ds = append(ds, time.Since(t))
	}
	m["redact ns"] = median(ds)

	phase("concurrent redact")
	asked := ConcurrentRedactions(w, rng, ConcurrentRedactionCount)
	start := time.Now()
	if err := RedactConcurrently(e, asked, ConcurrentWriters); err != nil {
		return fmt.Errorf("concurrent redact: %w", err)
	}
	m[MetricRedactConcurrent] = float64(len(asked)) / time.Since(start).Seconds()

	phase("erase")
	ds = ds[:0]
	for i := range min(20, len(light)) {
		t := time.Now()
		if _, err := e.Erase("acme", light[i]); err != nil {
			return fmt.Errorf("erase: %w", err)
		}
		ds = append(ds, time.Since(t))
	}
	m["erase contact ns"] = median(ds)
	if w.Heavy > 0 {
		t := time.Now()
		if _, err := e.Erase("acme", w.Contacts[0]); err != nil {
			return fmt.Errorf("erase heavy: %w", err)
		}
		m["erase10k ns"] = float64(time.Since(t).Nanoseconds())
	}

	phase("concurrent ingest")
	const writers, each = ConcurrentWriters, 50
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
		return fmt.Errorf("concurrent ingest: %w", err)
	}
	m["concurrent commits/s"] = writers * each / time.Since(start).Seconds()
	return nil
}

func memoryOf(e Engine) (float64, error) {
	n, err := e.Memory()
	return float64(n), err
}

func sizeOf(e Engine) (float64, error) {
	n, err := e.Size()
	return float64(n), err
}
