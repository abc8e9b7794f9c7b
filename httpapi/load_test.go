package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/internal/loadtest"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
)

// BenchmarkServerLoad drives the server on loopback with 16 concurrent
// clients and reports requests/s and the p50 and p99 latencies, for reads
// by ID and for redactions, on a store of 1M records (100k with -short).
func BenchmarkServerLoad(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	f := storetest.BuildFixture(b, n)
	s := f.Open(b, false)
	key, err := httpapi.AddKey(s, "acme", nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(redaction.New(s, nil), &httpapi.Options{RateLimit: 1e9}))
	defer srv.Close()
	var recs []cdrstore.Record
	for _, id := range f.IDs[:len(f.IDs)*9/10] { // old enough to redact
		r, err := s.Get("acme", id)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
	}
	// Redactions take records in a shuffled order, each once, so no run
	// measures the cheaper redaction of a record an earlier run redacted.
	var fresh atomic.Int64
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(recs))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, op := range []struct {
		name string
		pick func(rng *rand.Rand) cdrstore.Record
		req  func(r cdrstore.Record) *http.Request
		want int
	}{
		{"get", func(rng *rand.Rand) cdrstore.Record { return recs[rng.IntN(len(recs))] }, func(r cdrstore.Record) *http.Request {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/records/"+r.ID, nil)
			req.Header.Set("Authorization", "Bearer "+key.Token)
			return req
		}, 200},
		{"redact", func(*rand.Rand) cdrstore.Record {
			return recs[order[int(fresh.Add(1)-1)%len(order)]]
		}, func(r cdrstore.Record) *http.Request {
			body := fmt.Sprintf(`{"id":%q,"product":%q,"type":%q}`, r.ID, r.Product, r.Direction)
			req, _ := http.NewRequest("POST", srv.URL+"/v1/redact/transaction", strings.NewReader(body))
			req.SetBasicAuth(key.Key, key.Secret)
			return req
		}, 204},
	} {
		b.Run(fmt.Sprintf("op=%s/records=%d", op.name, n), func(b *testing.B) {
			groups := s.GroupStats()
			b.ReportAllocs()
			loadtest.Drive(b, client, op.want, func(rng *rand.Rand) *http.Request { return op.req(op.pick(rng)) })
			if g := s.GroupStats().Sub(groups); g.Groups > 0 {
				b.ReportMetric(float64(g.Calls)/float64(g.Groups), "calls/commit")
			}
		})
	}
}
