package redaction_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/internal/workload"
	"github.com/cdrvault/cdrvault/redaction"
)

func benchSizes() []int {
	if testing.Short() {
		return []int{100_000}
	}
	return []int{100_000, 1_000_000}
}

// Whole-store operations run once per fresh copy of the fixture: each
// iteration copies it with the timer stopped.

// BenchmarkSweep deletes the oldest two of 15 months (about 13%) of a store.
func BenchmarkSweep(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			f := storetest.BuildFixture(b, n)
			deleted := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := f.Open(b, false)
				b.StartTimer()
				res, err := redaction.New(s, nil).Sweep(b.Context(), f.Config.End, redaction.SweepOptions{})
				if err != nil {
					b.Fatal(err)
				}
				deleted += res.Deleted
			}
			b.ReportMetric(float64(deleted)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkAutoRedact applies an SMS content+address policy to a whole store.
func BenchmarkAutoRedact(b *testing.B) {
	policy := redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Content: true, Address: true, Hold: redaction.Duration(6 * time.Hour)},
	}}
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			f := storetest.BuildFixture(b, n)
			visited := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := f.Open(b, false)
				rd := redaction.New(s, nil)
				if _, err := rd.SetSettings(b.Context(), "acme", policy); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := rd.AutoRedact(b.Context(), f.Config.End, redaction.AutoRedactOptions{}); err != nil {
					b.Fatal(err)
				}
				visited += n
			}
			b.ReportMetric(float64(visited)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// scrubCases are the stores scrubs are measured on: after erasing 1% and
// 20% of the contacts (of ~100 records each: at N = 1,000,000, 100 and
// 2,000 contacts), and after the 20% and a retention sweep of the oldest
// two of the fixture's 15 months, for a third, larger amount of free
// space (an erasure rewrites records in place, smaller, and frees little).
// In those the store was never scrubbed: every free page holds bytes. The
// "scrubbed" cases scrub the store before the erasures, as a service that
// scrubs after each day's erasures does: a scrub then writes what the
// erasures freed.
var scrubCases = []struct {
	name     string
	pct      int
	sweep    bool
	scrubbed bool
}{
	{"erased=1%", 1, false, false},
	{"erased=20%", 20, false, false},
	{"erased=20%+sweep", 20, true, false},
	{"scrubbed/erased=1%", 1, false, true},
	{"scrubbed/erased=20%", 20, false, true},
}

var (
	erasedMu    sync.Mutex
	erasedFiles = map[string]string{}
)

// erasedStore opens a fresh copy of f after (if scrubbed) scrubbing it,
// erasing pct% of its contacts (the lightest ones, ~100 records each; one
// transaction each) and, if sweep, sweeping records older than 13 months. The erasures run once per
// fixture and case; each call copies their result.
func erasedStore(b *testing.B, f *storetest.Fixture, pct int, sweep, scrubbed bool) *cdrstore.Store {
	b.Helper()
	key := fmt.Sprint(f.Path, pct, sweep, scrubbed)
	erasedMu.Lock()
	path, ok := erasedFiles[key]
	if !ok {
		s := f.Open(b, true)
		if scrubbed {
			if _, err := s.Scrub(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		rd := redaction.New(s, nil)
		for _, c := range f.Contacts[len(f.Contacts)-len(f.Contacts)*pct/100:] {
			if _, err := rd.EraseContact(b.Context(), "acme", c, "gdpr_art17"); err != nil {
				b.Fatal(err)
			}
		}
		if sweep {
			if _, err := rd.Sweep(b.Context(), f.Config.End, redaction.SweepOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(filepath.Dir(f.Path), fmt.Sprintf("erased-%d-%v-%v.db", pct, sweep, scrubbed))
		storetest.CopyFile(b, s.Path(), path)
		erasedFiles[key] = path
	}
	erasedMu.Unlock()
	dst := filepath.Join(b.TempDir(), "store.db")
	storetest.CopyFile(b, path, dst)
	s, err := cdrstore.Open(dst, &cdrstore.Options{Now: func() time.Time { return f.Config.End }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	// The erasures left tombstones: the store takes writes (the stall
	// benchmark's ingest loop) once a Redactor installs its write hook, as
	// in a service that holds it.
	redaction.New(s, nil)
	return s
}

// eachScrubCase runs a sub-benchmark per fixture size and scrub case.
// Each iteration calls op on a fresh erased store, timed (the copy and the
// close are not); op returns what report, called once at the end, sees.
func eachScrubCase[T any](b *testing.B, op func(*testing.B, *storetest.Fixture, *cdrstore.Store) T, report func(*testing.B, []T)) {
	for _, n := range benchSizes() {
		f := storetest.BuildFixture(b, n)
		for _, c := range scrubCases {
			b.Run(fmt.Sprintf("records=%d/%s", n, c.name), func(b *testing.B) {
				var got []T
				for b.Loop() {
					b.StopTimer()
					s := erasedStore(b, f, c.pct, c.sweep, c.scrubbed)
					b.StartTimer()
					got = append(got, op(b, f, s))
					b.StopTimer()
					s.Close()
					b.StartTimer()
				}
				report(b, got)
			})
		}
	}
}

// BenchmarkScrub zeroes the free pages of a store in place after erasing
// contacts, at three amounts of free space; BenchmarkCompact compacts the
// same stores. Each iteration scrubs a fresh copy (the copy and the
// erasures are not timed).
func BenchmarkScrub(b *testing.B) {
	eachScrubCase(b, func(b *testing.B, _ *storetest.Fixture, s *cdrstore.Store) cdrstore.ScrubResult {
		res, err := s.Scrub(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		return res
	}, func(b *testing.B, rs []cdrstore.ScrubResult) {
		var zeroed int64
		var hold time.Duration
		for _, r := range rs {
			zeroed += r.BytesZeroed
			hold = max(hold, r.LongestHold)
		}
		b.ReportMetric(float64(zeroed)/float64(len(rs))/1e6, "MB-zeroed")
		b.ReportMetric(float64(zeroed)/1e6/b.Elapsed().Seconds(), "MB/s")
		b.ReportMetric(ms(hold), "max-hold-ms")
	})
}

// BenchmarkCompact compacts the stores BenchmarkScrub scrubs.
func BenchmarkCompact(b *testing.B) {
	eachScrubCase(b, func(b *testing.B, _ *storetest.Fixture, s *cdrstore.Store) cdrstore.CompactResult {
		res, err := s.Compact(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		return res
	}, func(*testing.B, []cdrstore.CompactResult) {})
}

// BenchmarkScrubStall scrubs while an ingest loop (PutBatch of 100 new
// records) and a read loop (Get of a random record) run, and reports the
// longest call of each loop that overlapped the scrub: the longest a
// writer or a reader waited because of it. For comparison it reports the
// same loops' longest call before the scrub (their first 50 batches).
func BenchmarkScrubStall(b *testing.B) {
	eachScrubCase(b, measureStalls, func(b *testing.B, all []stalls) {
		var st stalls
		for _, s := range all {
			st = st.max(s)
		}
		b.ReportMetric(ms(st.putDuring), "max-putbatch-ms")
		b.ReportMetric(ms(st.getDuring), "max-get-ms")
		b.ReportMetric(ms(st.putBefore), "max-putbatch-before-ms")
		b.ReportMetric(ms(st.getBefore), "max-get-before-ms")
		b.ReportMetric(ms(st.hold), "max-hold-ms")
		b.ReportMetric(ms(st.scrub), "scrub-ms")
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

type stalls struct {
	putBefore, getBefore, putDuring, getDuring, hold, scrub time.Duration
}

func (a stalls) max(b stalls) stalls {
	return stalls{max(a.putBefore, b.putBefore), max(a.getBefore, b.getBefore), max(a.putDuring, b.putDuring),
		max(a.getDuring, b.getDuring), max(a.hold, b.hold), max(a.scrub, b.scrub)}
}

// measureStalls runs the two loops until the ingest loop has written 50
// batches, then scrubs, then stops them.
func measureStalls(b *testing.B, f *storetest.Fixture, s *cdrstore.Store) stalls {
	b.Helper()
	type call struct{ start, end time.Time }
	var (
		mu         sync.Mutex
		puts, gets []call
		stop       = make(chan struct{})
		warm       = make(chan struct{})
		wg         sync.WaitGroup
		errs       = make(chan error, 2)
	)
	// New records, arriving after the fixture's: a day of them.
	gen := workload.New(workload.Config{Seed: 2, N: 1_000_000, Start: f.Config.End, End: f.Config.End.Add(24 * time.Hour)})
	wg.Go(func() {
		batch := make([]cdrstore.Record, 0, 100)
		for {
			select {
			case <-stop:
				return
			default:
			}
			batch = gen.Batch(batch[:0], 100)
			t0 := time.Now()
			if err := s.PutBatch(batch); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			puts = append(puts, call{t0, time.Now()})
			if len(puts) == 50 {
				close(warm)
			}
			mu.Unlock()
		}
	})
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := f.IDs[rng.IntN(len(f.IDs))]
			t0 := time.Now()
			if _, err := s.Get("acme", id); err != nil && !errors.Is(err, cdrstore.ErrNotFound) {
				errs <- err
				return
			}
			mu.Lock()
			gets = append(gets, call{t0, time.Now()})
			mu.Unlock()
		}
	})
	before := time.Now()
	select { // the loops' own latency, for comparison
	case <-warm:
	case err := <-errs:
		close(stop)
		wg.Wait()
		b.Fatal(err)
	}
	t0 := time.Now()
	res, err := s.Scrub(b.Context())
	t1 := time.Now()
	close(stop)
	wg.Wait()
	close(errs)
	if err != nil {
		b.Fatal(err)
	}
	for err := range errs {
		b.Fatal(err)
	}
	longest := func(calls []call, from, to time.Time) time.Duration {
		var m time.Duration
		for _, c := range calls {
			if c.end.After(from) && c.start.Before(to) {
				m = max(m, c.end.Sub(c.start))
			}
		}
		return m
	}
	return stalls{
		putBefore: longest(puts, before, t0), getBefore: longest(gets, before, t0),
		putDuring: longest(puts, t0, t1), getDuring: longest(gets, t0, t1),
		hold: res.LongestHold, scrub: t1.Sub(t0),
	}
}

// BenchmarkEraseContact erases a contact of about 100 records in one
// durable transaction; each iteration erases another contact.
func BenchmarkEraseContact(b *testing.B) {
	n := 100_000
	f := storetest.BuildFixture(b, n)
	s := f.Open(b, false)
	rd := redaction.New(s, nil)
	contacts := f.Contacts[f.Config.HeavyContacts:]
	i, affected := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		res, err := rd.EraseContact(b.Context(), "acme", contacts[i%len(contacts)], "gdpr_art17")
		if err != nil {
			b.Fatal(err)
		}
		affected += res.RecordsAffected
		i++
	}
	b.ReportMetric(float64(affected)/b.Elapsed().Seconds(), "records/s")
}

// redactable returns the records of fixture f, opened as s, that are old
// enough to redact.
func redactable(b *testing.B, f *storetest.Fixture, s *cdrstore.Store) []cdrstore.Record {
	var recs []cdrstore.Record
	for _, id := range f.IDs {
		r, err := s.Get("acme", id)
		if err != nil {
			b.Fatal(err)
		}
		if r.StartedAt.Before(f.Config.End.Add(-redaction.DefaultPrematureWindow)) {
			recs = append(recs, r)
		}
	}
	return recs
}

// BenchmarkRedactByID redacts one transaction per durable transaction.
func BenchmarkRedactByID(b *testing.B) {
	f := storetest.BuildFixture(b, 100_000)
	s := f.Open(b, false)
	rd := redaction.New(s, nil)
	recs := redactable(b, f, s)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		r := recs[i%len(recs)]
		i++
		if _, err := rd.RedactByID(b.Context(), "acme", r.ID, r.Product, r.Direction); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRedactByIDConcurrent redacts from 16 goroutines at once, each
// call one transaction ID, as concurrent Redact API clients do; every
// call redacts a record not redacted before.
func BenchmarkRedactByIDConcurrent(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			f := storetest.BuildFixture(b, n)
			s := f.Open(b, false)
			rd := redaction.New(s, nil)
			recs := redactable(b, f, s)
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
			storetest.BenchConcurrent(b, s, func(i int) error {
				r := recs[i%len(recs)]
				_, err := rd.RedactByID(b.Context(), "acme", r.ID, r.Product, r.Direction)
				return err
			})
		})
	}
}

// BenchmarkStore_PutBatchTombstones is cdrstore's BenchmarkStore_PutBatch
// (batches of 1,000 new records, one durable transaction each, into a
// store of 100,000) with and without what erasure costs at write time:
// tombstones=0 is the store with no write hook (as before tombstones);
// tombstones=100000 has a Redactor's hook, 100,000 tombstones of which
// about 1% of the ingested records match one (a redaction by ID), and an
// auto-redaction policy on the workspace. commit=nosync runs the same
// without fsync, which shows the CPU cost the disk hides.
func BenchmarkStore_PutBatchTombstones(b *testing.B) {
	const (
		n          = 100_000
		batchSize  = 1000
		total      = 100_000
		kindRedact = 2 // format v3: the tombstone of RedactByID
	)
	newGen := func() *workload.Generator {
		return workload.New(workload.Config{Seed: 2, N: n, Start: workload.DefaultEnd, End: workload.DefaultEnd.AddDate(0, 1, 0)})
	}
	for _, tc := range []struct {
		tombs  int
		noSync bool
	}{{0, false}, {total, false}, {0, true}, {total, true}} {
		commit := "durable"
		if tc.noSync {
			commit = "nosync"
		}
		tombs := tc.tombs
		b.Run(fmt.Sprintf("commit=%s/tombstones=%d", commit, tombs), func(b *testing.B) {
			s := storetest.BuildFixture(b, n).Open(b, tc.noSync)
			if tombs > 0 {
				rd := redaction.New(s, nil)
				policy := redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
					{Product: cdrstore.ProductSMS, Address: true, Hold: redaction.Duration(6 * time.Hour)},
				}}
				if _, err := rd.SetSettings(b.Context(), "acme", policy); err != nil {
					b.Fatal(err)
				}
				// Every 100th record of the first 500,000 to come is
				// covered; the rest of the tombstones match nothing.
				var subjects []string
				g := newGen()
				batch := make([]cdrstore.Record, 0, batchSize)
				for i := 0; i < 500 && len(subjects) < tombs; i++ {
					batch = g.Batch(batch[:0], batchSize)
					for j := 0; j < len(batch); j += 100 {
						subjects = append(subjects, batch[j].ID)
					}
				}
				for i := len(subjects); i < tombs; i++ {
					subjects = append(subjects, fmt.Sprintf("gone-%d", i))
				}
				at := workload.DefaultEnd.AddDate(0, 2, 0)
				for i := 0; i < len(subjects); i += 10_000 {
					err := s.Update(func(tx *cdrstore.Tx) error {
						for _, id := range subjects[i:min(i+10_000, len(subjects))] {
							t := cdrstore.Tombstone{Term: cdrstore.TermID, Kind: kindRedact, Subject: tx.SubjectHMAC(id), At: at}
							if err := tx.PutTombstone("acme", t); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			g := newGen()
			batch := make([]cdrstore.Record, 0, batchSize)
			changed := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				batch = g.Batch(batch[:0], batchSize)
				b.StartTimer()
				res, err := s.PutBatchResult(batch)
				if err != nil {
					b.Fatal(err)
				}
				changed += res.Changed
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(changed)/float64(b.N*batchSize), "matched/record")
		})
	}
}
