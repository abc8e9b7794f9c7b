// Package loadtest drives an HTTP server with concurrent clients for
// benchmarks, and reports throughput and latencies.
package loadtest

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Drive sends b.N requests from 16 concurrent clients, each request made
// by next from the client's own random source and expected to answer
// want, and reports requests/s and the p50 and p99 latencies. It returns
// the time the requests took.
func Drive(b *testing.B, client *http.Client, want int, next func(rng *rand.Rand) *http.Request) time.Duration {
	var (
		mu    sync.Mutex
		lats  []time.Duration
		count atomic.Int64
		wg    sync.WaitGroup
	)
	total := int64(b.N)
	start := time.Now()
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			var mine []time.Duration
			for count.Add(1) <= total {
				req := next(rng)
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				mine = append(mine, time.Since(t))
				if resp.StatusCode != want {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	if len(lats) > 0 {
		b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "requests/s")
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
	}
	return elapsed
}
