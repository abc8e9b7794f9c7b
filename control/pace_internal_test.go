package control

import (
	"context"
	"fmt"
	"testing"
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
// the service began transactions of its own is followed by a wait of nine
// times the page's time (a share of a tenth), and only that page is.
func TestStreamsYieldToTheServiceTraffic(t *testing.T) {
	ctx := context.Background()
	head := func(Subject) error { return nil }

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
			got++
			if got == 13 { // in the second page, the service reads
				_, err := l.s.Get("acme", "rec-000")
				return err
			}
			return nil
		}))
		assert.Equal(t, 25, got)
		require.Len(t, *waits, 1)
		assert.Positive(t, (*waits)[0])
	})
	t.Run("search beside traffic", func(t *testing.T) {
		l, _, waits := pacedLocal(t, 25)
		got := 0
		_, err := l.Search(ctx, Search{Workspace: "acme", Query: cdrstore.Query{Limit: 25}}, func(SearchItem) error {
			got++
			if got == 3 {
				_, err := l.s.Get("acme", "rec-000")
				return err
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, 25, got)
		assert.Len(t, *waits, 1)
	})
	t.Run("audit list beside traffic", func(t *testing.T) {
		l, num, waits := pacedLocal(t, 1)
		for range 6 { // twelve audit entries
			_, err := l.rd.OptOut(ctx, "acme", num)
			require.NoError(t, err)
			_, err = l.rd.RemoveOptOut(ctx, "acme", num)
			require.NoError(t, err)
		}
		*waits = nil
		got := 0
		require.NoError(t, l.AuditList(ctx, AuditQuery{Workspace: "acme", Limit: 100}, func(AuditLine) error {
			got++
			if got == 1 {
				_, _, err := l.rd.IsOptedOut("acme", num)
				return err
			}
			return nil
		}))
		assert.Equal(t, 12, got)
		assert.Len(t, *waits, 1)
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		l, num, _ := pacedLocal(t, 25)
		l.pace.wait = sleep
		l.pace.share = 1e-9 // the wait after a busy page is long
		ctx, cancel := context.WithCancel(ctx)
		err := l.Export(ctx, "acme", num, head, func(cdrjson.Record) error {
			cancel()
			_, err := l.s.Get("acme", "rec-000")
			return err
		})
		require.ErrorIs(t, err, context.Canceled)
	})
}

// Local, in cdradmin's own process, never paces: it has no pacer.
func TestLocalDoesNotPace(t *testing.T) {
	s := storetest.Open(t, nil)
	assert.Nil(t, NewLocal(redaction.New(s, nil)).pace)
	assert.Nil(t, newPacer(s, 1), "a share of 1 never waits")
}
