package workload_test

import (
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/workload"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordsAreValidAndDeterministic(t *testing.T) {
	a := workload.New(workload.Config{Seed: 7, N: 20_000, Workspaces: []string{"acme", "globex"}}).All()
	b := workload.New(workload.Config{Seed: 7, N: 20_000, Workspaces: []string{"acme", "globex"}}).All()
	require.Equal(t, a, b, "same seed, same records")
	ids := map[string]bool{}
	products := map[cdrstore.Product]int{}
	perContact := map[e164.Number]int{}
	legs := 0
	for _, r := range a {
		require.NoError(t, r.Validate(), r.ID)
		require.False(t, ids[r.ID], "duplicate ID")
		ids[r.ID] = true
		products[r.Product]++
		if c := redaction.Counterparty(&r); c.IsValid() {
			perContact[c]++
		}
		if r.ConversationID != "" {
			legs++
		}
	}
	assert.Len(t, products, 6)
	assert.Greater(t, products[cdrstore.ProductSMS], products[cdrstore.ProductVoice])
	assert.Positive(t, legs)
	avg := float64(len(a)) / float64(len(perContact))
	assert.InDelta(t, 100, avg, 40, "about 100 records per contact")
}

func TestHeavyContacts(t *testing.T) {
	g := workload.New(workload.Config{Seed: 1, N: 30_000, HeavyContacts: 1, HeavyRecords: 5_000})
	heavy := g.Contacts()[0]
	n := 0
	for _, r := range g.All() {
		if r.HasNumber(heavy) {
			n++
		}
	}
	assert.InDelta(t, 5_000, n, 1_500)
}

func BenchmarkGenerator(b *testing.B) {
	g := workload.New(workload.Config{Seed: 1, N: 1_000_000})
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Next()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
