package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/loadtest"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
)

// BenchmarkServerLoadWithOperator is httpapi's BenchmarkServerLoad (reads
// by ID, 16 concurrent clients) on a service that also serves its control
// socket: alone, and while an operator runs export and stats through the
// socket in a loop, with the socket's streams paced as served by default
// (control.DefaultStreamShare) and unpaced (StreamShare 1). What the
// operator costs the service is the loss of requests/s from alone.
func BenchmarkServerLoadWithOperator(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	f := storetest.BuildFixture(b, n)
	s := f.Open(b, false)
	rd := redaction.New(s, nil)
	key, err := httpapi.AddKey(s, "acme", nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(rd, &httpapi.Options{RateLimit: 1e9}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, operator := range []struct {
		name  string
		share float64 // 0: no operator
	}{{"none", 0}, {"paced", control.DefaultStreamShare}, {"unpaced", 1}} {
		b.Run(fmt.Sprintf("operator=%s/records=%d", operator.name, n), func(b *testing.B) {
			ctx, stop := context.WithCancel(context.Background())
			var opWG sync.WaitGroup
			var exported, loops atomic.Int64
			if operator.share > 0 {
				ctl, err := control.Start(rd, &control.Options{StreamShare: operator.share})
				if err != nil {
					b.Fatal(err)
				}
				defer ctl.Close()
				c, err := control.Dial(ctx, ctl.Path())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				opWG.Add(1)
				go func() {
					defer opWG.Done()
					for ctx.Err() == nil {
						c.Export(ctx, "acme", f.Contacts[0], func(control.Subject) error { return nil },
							func(cdrjson.Record) error { exported.Add(1); return nil })
						c.Stats(ctx)
						loops.Add(1)
					}
				}()
			}
			elapsed := loadtest.Drive(b, client, 200, func(rng *rand.Rand) *http.Request {
				req, _ := http.NewRequest("GET", srv.URL+"/v1/records/"+f.IDs[rng.IntN(len(f.IDs))], nil)
				req.Header.Set("Authorization", "Bearer "+key.Token)
				return req
			})
			stop()
			opWG.Wait()
			b.ReportMetric(float64(exported.Load())/elapsed.Seconds(), "exported-records/s")
			b.ReportMetric(float64(loops.Load())/elapsed.Seconds(), "operator-loops/s")
		})
	}
}
