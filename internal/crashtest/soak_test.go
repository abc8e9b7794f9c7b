package crashtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func soakDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CDRVAULT_SOAK")); err == nil {
		return d
	}
	if testing.Short() {
		return time.Second
	}
	return time.Minute
}

// Readers (Get, by-number queries, exports by time) run while writers
// ingest, erase, redact, sweep and scrub, and a scrubber scrubs over and
// over; each read transaction reads its snapshot twice and finds it the
// same (a scrub never zeroes a page a reader can reach). At the end Check
// passes and the record count is what the writers wrote minus what they
// deleted.
func TestSoakConcurrentReadersAndWriters(t *testing.T) {
	s, err := openStore(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.PutBatch(seedRecords()))
	rd := redaction.New(s, nil)
	// The soak runs for soakDuration and then until a read transaction and
	// a scrub have completed, however loaded the machine.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var readDone, scrubDone sync.Once
	read, scrubbed := make(chan struct{}), make(chan struct{})
	go func() {
		timer := time.NewTimer(soakDuration())
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		for _, c := range []chan struct{}{read, scrubbed} {
			select {
			case <-c:
			case <-ctx.Done():
				return
			}
		}
		cancel()
	}()

	var (
		written, swept atomic.Int64
		reads, scrubs  atomic.Int64
		wg             sync.WaitGroup
		errs           = make(chan error, 16)
	)
	written.Store(int64(len(seedRecords())))
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		cancel()
	}
	// Writers.
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				var batch []cdrstore.Record
				for j := range 20 {
					batch = append(batch, cdrstore.Record{ID: fmt.Sprintf("w%d-%d-%d", w, i, j), Workspace: "acme", Product: cdrstore.ProductSMS,
						Direction: cdrstore.Outbound, From: platform, To: e164.MustParse(contacts[(i+j)%len(contacts)], ""), Body: "soak",
						StartedAt: now.Add(-time.Duration(i*20+j) * time.Millisecond)})
				}
				if err := s.PutBatch(batch); err != nil {
					fail(err)
					return
				}
				written.Add(20)
				var err error
				switch i % 10 {
				case 3:
					_, err = rd.EraseContact(context.Background(), "acme", e164.MustParse(contacts[i%len(contacts)], ""), "gdpr_art17")
				case 5:
					_, err = rd.RedactByID(context.Background(), "acme", fmt.Sprintf("c%d-%02d", i%len(contacts), i%perContact), cdrstore.ProductVoice, cdrstore.Outbound)
				case 7:
					var res redaction.SweepResult
					res, err = rd.Sweep(context.Background(), now, redaction.SweepOptions{BatchSize: 10})
					swept.Add(int64(res.Deleted))
				case 9:
					if w == 0 {
						_, err = s.Scrub(context.Background())
					}
				}
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	// A scrubber, scrubbing again as soon as it is done.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := s.Scrub(context.Background()); err != nil {
				fail(err)
				return
			}
			scrubs.Add(1)
			scrubDone.Do(func() { close(scrubbed) })
		}
	}()
	// Readers.
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				err := s.View(func(tx *cdrstore.Tx) error {
					id := fmt.Sprintf("c%d-%02d", i%len(contacts), i%perContact)
					first, err := tx.Get("acme", id)
					if err != nil {
						return err
					}
					defer func() {
						if again, err := tx.Get("acme", id); err != nil || !reflect.DeepEqual(first, again) {
							fail(fmt.Errorf("record %s changed within one read transaction (%v)", id, err))
						}
					}()
					n := 0
					for _, err := range tx.ByNumber("acme", e164.MustParse(contacts[(i+r)%len(contacts)], ""), cdrstore.Query{Limit: 50}) {
						if err != nil {
							return err
						}
						n++
					}
					for _, err := range tx.ByTime("acme", cdrstore.Query{Since: now.AddDate(0, -2, 0), Limit: 100}) {
						if err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					fail(err)
					return
				}
				reads.Add(1)
				readDone.Do(func() { close(read) })
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		require.NoError(t, err)
	default:
	}
	require.NoError(t, s.Check(context.Background()))
	var count int
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		var err error
		count, err = tx.Count("acme")
		return err
	}))
	assert.Equal(t, written.Load()-swept.Load(), int64(count), "records written minus records swept")
	assert.Positive(t, reads.Load())
	assert.Positive(t, scrubs.Load())
	t.Logf("soak: %d records written, %d swept, %d read transactions, %d scrubs", written.Load(), swept.Load(), reads.Load(), scrubs.Load())
}
