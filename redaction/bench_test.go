package redaction_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
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
