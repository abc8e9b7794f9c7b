package redaction_test

import (
	"fmt"
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

// BenchmarkScrub scrubs a store after erasing 100 contacts.
func BenchmarkScrub(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			f := storetest.BuildFixture(b, n)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := f.Open(b, false)
				rd := redaction.New(s, nil)
				for _, c := range f.Contacts[len(f.Contacts)-100:] {
					if _, err := rd.EraseContact(b.Context(), "acme", c, "gdpr_art17"); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if _, err := s.Scrub(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
		})
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

// BenchmarkRedactByID redacts one transaction per durable transaction.
func BenchmarkRedactByID(b *testing.B) {
	f := storetest.BuildFixture(b, 100_000)
	s := f.Open(b, false)
	rd := redaction.New(s, nil)
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
