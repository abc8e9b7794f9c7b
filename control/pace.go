package control

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// DefaultStreamShare is Options.StreamShare's default: while the service
// serves its own traffic, a stream over the socket works at most a
// twentieth of the time. A stream's work is spread over the service's
// goroutine, the client's decoding and the garbage collector, so its
// share of the CPU is larger than its share of the time (see
// ARCHITECTURE.md, "Streams yield to the service's traffic").
const DefaultStreamShare = 0.05

// minStreamShare is the smallest Options.StreamShare: below it a page's
// wait would overflow a time.Duration for a page of a few seconds.
const minStreamShare = 0.001

// maxPageWait caps the wait after one page. A page's time includes the
// time its frames waited for the client (a paused `| less`), which is no
// work taken from the service; the cap keeps such a page from holding
// the stream back for minutes.
const maxPageWait = time.Second

// pacer keeps the socket's streams (export, search by number or time,
// audit list) from taking the service's CPU from its own users, as a
// database paces its background work by the foreground's. A stream works
// page by page (one read transaction of PageSize entries, then sending
// them). When the store began transactions other than the streams' own
// during a page (the service serving its traffic), the stream waits
// before its next page, so that it works at most share of the time. On a
// store that nobody but the streams uses, a stream never waits; nor does
// it after its last page.
//
// A nil pacer never waits: Local, run in cdradmin's own process on a
// store it opened, has nobody to yield to.
type pacer struct {
	s     *cdrstore.Store
	share float64 // in [minStreamShare, 1); 1 is no pacer
	own   atomic.Uint64
	wait  func(ctx context.Context, d time.Duration) error
}

func newPacer(s *cdrstore.Store, share float64) *pacer {
	if share >= 1 {
		return nil
	}
	return &pacer{s: s, share: share, wait: sleep}
}

// paced is the pacing of one stream: the wait its last page earned.
type paced struct {
	p       *pacer
	pending time.Duration
}

// stream starts the pacing of a stream.
func (p *pacer) stream() *paced { return &paced{p: p} }

// page runs one page of the stream, fn, which begins own transactions of
// the store, after the wait the page before earned; it earns the next
// page's wait when others used the store meanwhile.
func (st *paced) page(ctx context.Context, own uint64, fn func() error) error {
	p := st.p
	if p == nil {
		return fn()
	}
	if st.pending > 0 {
		if err := p.wait(ctx, st.pending); err != nil {
			return err
		}
		st.pending = 0
	}
	began, ours, start := p.s.Transactions(), p.own.Load(), time.Now()
	p.own.Add(own)
	if err := fn(); err != nil {
		return err
	}
	if p.s.Transactions()-began <= p.own.Load()-ours {
		return nil // only the streams used the store
	}
	took := time.Since(start)
	st.pending = min(time.Duration(float64(took)*(1/p.share-1)), maxPageWait)
	return nil
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
