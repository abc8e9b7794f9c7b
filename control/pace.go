package control

import (
	"context"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// DefaultStreamShare is Options.StreamShare's default: while the service
// serves its own traffic, a stream over the socket works at most a
// twentieth of the time. A stream's work is spread over the service's
// goroutine, the client's decoding and the garbage collector, so its
// share of the CPU is larger than its share of the time: at a tenth,
// BenchmarkServerLoadWithOperator lost 15% of its requests/s to an
// export loop (100,000 records); at a twentieth, 1-3%.
const DefaultStreamShare = 0.05

// pacer keeps the socket's streams (export, search, audit list) from
// taking the service's CPU from its own users, as a database paces its
// background work by the foreground's. A stream works page by page (one
// read transaction of PageSize entries, then sending them); after a page
// during which the store began transactions other than the page's own,
// the stream waits so that its pages take at most share of the wall
// time. On a store nobody else uses a stream never waits.
//
// A nil pacer never waits: Local, run in cdradmin's own process on a
// store it opened, has nobody to yield to.
type pacer struct {
	s     *cdrstore.Store
	share float64 // in (0, 1); 1 is no pacer
	wait  func(ctx context.Context, d time.Duration) error
}

func newPacer(s *cdrstore.Store, share float64) *pacer {
	if share >= 1 {
		return nil
	}
	return &pacer{s: s, share: share, wait: sleep}
}

// page runs one page of a stream, fn, which begins own transactions, then
// waits if others used the store meanwhile.
func (p *pacer) page(ctx context.Context, own uint64, fn func() error) error {
	if p == nil {
		return fn()
	}
	began, start := p.s.Transactions(), time.Now()
	if err := fn(); err != nil {
		return err
	}
	if p.s.Transactions()-began <= own {
		return nil
	}
	took := time.Since(start)
	return p.wait(ctx, time.Duration(float64(took)*(1/p.share-1)))
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
