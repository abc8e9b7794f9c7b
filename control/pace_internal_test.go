package control

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pacedLocal is the Local a Server runs, on a store of n records of one
// number, with its waits recorded instead of slept.
func pacedLocal(t *testing.T, n int) (*Local, e164.Number, *[]time.Duration) {
	t.Helper()
	s := storetest.Open(t, nil)
	num := e164.MustParse("+2348031234567", "")
	recs := make([]cdrstore.Record, n)
	for i := range recs {
		recs[i] = cdrstore.Record{ID: fmt.Sprintf("rec-%03d", i), Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
			From: e164.MustParse("+14155552671", ""), To: num, Body: "hello", StartedAt: storetest.Epoch.Add(-time.Duration(n-i) * time.Minute)}
	}
	require.NoError(t, s.PutBatch(recs))
	l := NewLocal(redaction.New(s, nil))
	l.pace = newPacer(s, 0.1)
	var waits []time.Duration
	l.pace.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	pageSize = 10
	t.Cleanup(func() { pageSize = PageSize })
	return l, num, &waits
}

// A stream on a store nobody else uses never waits; a page during which
// the service began transactions of its own earns a wait of nine times
// the page's time (a share of a tenth) before the next page, and only
// that page does; the last page earns none (the work is done).
func TestStreamsYieldToTheServiceTraffic(t *testing.T) {
	ctx := context.Background()
	head := func(Subject) error { return nil }
	serviceReads := func(l *Local) error { _, err := l.s.Get("acme", "rec-000"); return err }

	t.Run("export alone", func(t *testing.T) {
		l, num, waits := pacedLocal(t, 25)
		got := 0
		require.NoError(t, l.Export(ctx, "acme", num, head, func(cdrjson.Record) error { got++; return nil }))
		assert.Equal(t, 25, got)
		assert.Empty(t, *waits)
	})
	t.Run("export beside traffic", func(t *testing.T) {
		l, num, waits := pacedLocal(t, 25)
		got := 0
		require.NoError(t, l.Export(ctx, "acme", num, head, func(cdrjson.Record) error {
			if got++; got == 13 { // in the second page, the service reads
				return serviceReads(l)
			}
			return nil
		}))
		assert.Equal(t, 25, got)
		require.Len(t, *waits, 1)
		assert.Positive(t, (*waits)[0])
	})
	t.Run("traffic in the last page", func(t *testing.T) {
		l, num, waits := pacedLocal(t, 25)
		got := 0
		require.NoError(t, l.Export(ctx, "acme", num, head, func(cdrjson.Record) error {
			if got++; got == 23 {
				return serviceReads(l)
			}
			return nil
		}))
		assert.Equal(t, 25, got)
		assert.Empty(t, *waits, "nothing is left to pace after the last page")
	})
	t.Run("search beside traffic", func(t *testing.T) {
		l, _, waits := pacedLocal(t, 25)
		got := 0
		_, err := l.Search(ctx, Search{Workspace: "acme", Query: cdrstore.Query{Limit: 25}}, func(SearchItem) error {
			if got++; got == 3 {
				return serviceReads(l)
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, 25, got)
		assert.Len(t, *waits, 1)
	})
	t.Run("another stream is not the service", func(t *testing.T) {
		l, num, waits := pacedLocal(t, 25)
		got := 0
		require.NoError(t, l.Export(ctx, "acme", num, head, func(cdrjson.Record) error {
			if got++; got == 3 { // a second operator searches meanwhile
				_, err := l.Search(ctx, Search{Workspace: "acme", Number: num, Query: cdrstore.Query{Limit: 25}}, func(SearchItem) error { return nil })
				return err
			}
			return nil
		}))
		assert.Equal(t, 25, got)
		assert.Empty(t, *waits)
	})
	for _, newestFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("audit list beside traffic, newest first %v", newestFirst), func(t *testing.T) {
			l, num, waits := pacedLocal(t, 1)
			for range 6 { // twelve audit entries
				_, err := l.rd.OptOut(ctx, "acme", num)
				require.NoError(t, err)
				_, err = l.rd.RemoveOptOut(ctx, "acme", num)
				require.NoError(t, err)
			}
			*waits = nil
			got := 0
			require.NoError(t, l.AuditList(ctx, AuditQuery{Workspace: "acme", Limit: 100, NewestFirst: newestFirst}, func(AuditLine) error {
				if got++; got == 1 {
					return serviceReads(l)
				}
				return nil
			}))
			assert.Equal(t, 12, got)
			assert.Len(t, *waits, 1)
		})
	}
}

// A page that took long (its frames waited for a paused client) earns a
// wait of at most maxPageWait, and a wait ends with the stream's context.
func TestStreamWaitIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _, waits := pacedLocal(t, 1)
		st := l.pace.stream()
		require.NoError(t, st.page(context.Background(), 0, func() error {
			time.Sleep(time.Minute) // the client was stopped
			_, err := l.s.Get("acme", "rec-000")
			return err
		}))
		require.NoError(t, st.page(context.Background(), 0, func() error { return nil }))
		assert.Equal(t, []time.Duration{maxPageWait}, *waits)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, sleep(ctx, time.Hour), context.Canceled)
}

// Local, in cdradmin's own process, never paces: it has no pacer.
func TestLocalDoesNotPace(t *testing.T) {
	s := storetest.Open(t, nil)
	assert.Nil(t, NewLocal(redaction.New(s, nil)).pace)
	assert.Nil(t, newPacer(s, 1), "a share of 1 never waits")
}
