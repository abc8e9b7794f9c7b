package cdrstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/e164"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests look at the file page by page: they check the bbolt
// behaviours an in-place scrub relies on (ARCHITECTURE.md, "Erasure you
// can prove", lists them) and what Scrub does to each page. bbolt's own
// view of a page (Tx.Page: "free" for free and pending pages) is the
// reference; the file is read raw.

var (
	scrubT0  = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	scrubTo  = e164.MustParse("+447911123456", "")
	scrubOwn = e164.MustParse("+14155552671", "")
)

func openScrubStore(t *testing.T, opts *Options) *Store {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return scrubT0 }
	}
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.Check(context.Background()); !errors.Is(err, ErrClosed) {
			assert.NoError(t, err)
		}
		s.Close()
	})
	return s
}

// marked returns record i whose body holds marker m: repeated to about
// size bytes, so that large bodies take overflow pages.
func marked(i int, m string, size int) Record {
	body := strings.Repeat(m+" ", max(1, size/(len(m)+1)))
	return Record{ID: fmt.Sprintf("r%04d", i), Workspace: "acme", Product: ProductSMS, Direction: Outbound,
		From: scrubOwn, To: scrubTo, Body: body, StartedAt: scrubT0.Add(time.Duration(i) * time.Second)}
}

// churn writes n records with markers of generation 0, rewrites each with
// generation 1 and deletes every third: generation 0 then lives in free
// pages only (pending or free), and so does generation 1 of deleted records.
// Sizes mix leaf-sized and overflow bodies. It returns the markers that no
// live record holds.
func churn(t *testing.T, s *Store, n int) [][]byte {
	t.Helper()
	var gone [][]byte
	for gen := range 2 {
		var batch []Record
		for i := range n {
			size := 60
			if i%5 == 0 {
				size = 9000
			}
			batch = append(batch, marked(i, fmt.Sprintf("MARK-g%d-%04d", gen, i), size))
		}
		require.NoError(t, s.PutBatch(batch))
	}
	for i := range n {
		gone = append(gone, fmt.Appendf(nil, "MARK-g0-%04d ", i))
		if i%3 == 0 {
			_, err := s.Delete("acme", fmt.Sprintf("r%04d", i))
			require.NoError(t, err)
			gone = append(gone, fmt.Appendf(nil, "MARK-g1-%04d ", i))
		}
	}
	return gone
}

// pageTypes returns bbolt's type of every page of the newest commit.
func pageTypes(t *testing.T, s *Store) []string {
	t.Helper()
	var types []string
	require.NoError(t, s.View(func(tx *Tx) error {
		n := int(tx.btx.Size()) / s.pageSize
		types = make([]string, n)
		for id := range n {
			info, err := tx.btx.Page(id)
			if err != nil {
				return err
			}
			types[id] = info.Type
		}
		return nil
	}))
	return types
}

func rawPages(t *testing.T, s *Store) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(s.path)
	require.NoError(t, err)
	var pages [][]byte
	for off := 0; off+s.pageSize <= len(raw); off += s.pageSize {
		pages = append(pages, raw[off:off+s.pageSize])
	}
	return pages
}

var markerRe = regexp.MustCompile(`MARK-g[0-9]-[0-9]{4} `)

// The premise of an in-place scrub: bbolt writes every page whole, from a
// zeroed buffer, so a page that is not free holds only the bytes of its
// current content, never a stale marker of an earlier version of a value
// (rewritten or deleted), in leaf, branch or overflow pages.
func TestLivePagesHoldNoStaleBytes(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true})
	gone := churn(t, s, 300)
	// More rounds, so pages are freed, reused and freed again.
	for round := range 3 {
		var batch []Record
		for i := 1; i < 300; i += 3 {
			batch = append(batch, marked(i, fmt.Sprintf("MARK-g%d-%04d", 2+round, i), 60+i*37%9000))
		}
		require.NoError(t, s.PutBatch(batch))
		for i := 1; i < 300; i += 3 {
			gone = append(gone, fmt.Appendf(nil, "MARK-g%d-%04d ", 1+round, i))
		}
	}
	live := map[string]bool{}
	require.NoError(t, s.View(func(tx *Tx) error {
		for r, err := range tx.ByTime("acme", Query{Limit: 1 << 20}) {
			if err != nil {
				return err
			}
			live[markerRe.FindString(r.Body)] = true
		}
		return nil
	}))
	types, pages := pageTypes(t, s), rawPages(t, s)
	inFree, stale := 0, 0
	for id, typ := range types {
		for _, m := range markerRe.FindAll(pages[id], -1) {
			switch {
			case typ == "free":
				inFree++
			case !live[string(m)]:
				stale++
				t.Errorf("page %d (%s) holds %q, which no live record holds", id, typ, m)
			}
		}
	}
	assert.Zero(t, stale)
	assert.Positive(t, inFree, "free pages hold old markers (else this test proves nothing)")
	for _, m := range gone {
		assert.False(t, live[string(m)], "%s is not live", m)
	}
}

// The free page list Scrub reads from the file is bbolt's own: at the
// newest commit it lists exactly the pages Tx.Page calls free, pending
// ones included, and the meta page holds the commit's txid and size.
func TestBoltFormatPinned(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true})
	churn(t, s, 200)
	check := func(wantPending bool) {
		btx, err := s.db.Begin(true)
		require.NoError(t, err)
		defer btx.Rollback()
		commit := uint64(btx.ID()) - 1
		m, ok, err := readCommitMeta(s.file, commit, s.pageSize)
		require.NoError(t, err)
		require.True(t, ok, "meta page %d holds commit %d", commit%2, commit)
		assert.Equal(t, uint64(btx.Size()), m.pgid*uint64(s.pageSize), "high-water mark")
		assert.Equal(t, uint32(s.pageSize), m.pageSize)
		list, err := readFreelist(s.file, m, s.pageSize)
		require.NoError(t, err)
		var free []uint64
		for id := range int(m.pgid) {
			info, err := btx.Page(id)
			require.NoError(t, err)
			if info.Type == "free" {
				free = append(free, uint64(id))
			}
		}
		assert.Equal(t, free, list)
		if wantPending {
			assert.Positive(t, s.db.Stats().PendingPageN, "pending pages are in the list")
		}
	}
	check(false)

	// A reader pins the pages freed after it began: they stay pending.
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s.View(func(*Tx) error { close(started); <-release; return nil })
	})
	<-started
	churn(t, s, 50)
	require.NoError(t, s.Put(marked(9999, "MARK-x", 60))) // a commit, which updates the stats
	check(true)
	close(release)
	wg.Wait()
}

// A write transaction that writes nothing and is rolled back leaves every
// byte of the file as it was, and its ID is the newest commit's plus one,
// the ID readers that begin meanwhile get.
func TestBoltEmptyWriteTxWritesNothing(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true})
	churn(t, s, 50)
	before, err := os.ReadFile(s.path)
	require.NoError(t, err)
	btx, err := s.db.Begin(true)
	require.NoError(t, err)
	require.NoError(t, s.View(func(tx *Tx) error {
		assert.Equal(t, btx.ID()-1, tx.btx.ID())
		return nil
	}))
	require.NoError(t, btx.Rollback())
	after, err := os.ReadFile(s.path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after))
}

// A read transaction keeps the free page list of the commit it began at
// on disk, unchanged, while commits go on: bbolt keeps the page pending
// until the reader ends.
func TestBoltReaderPinsItsFreeList(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true})
	churn(t, s, 100)
	started, release := make(chan uint64), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s.View(func(tx *Tx) error { started <- uint64(tx.btx.ID()); <-release; return nil })
	})
	txid := <-started
	m, ok := s.readers.meta(txid)
	require.True(t, ok, "the meta of the reader's commit is recorded")
	list, err := readFreelist(s.file, m, s.pageSize)
	require.NoError(t, err)
	for range 20 {
		churn(t, s, 30)
	}
	again, err := readFreelist(s.file, m, s.pageSize)
	require.NoError(t, err)
	assert.Equal(t, list, again)
	close(release)
	wg.Wait()
}

// The bbolt version this design was checked against. A new version must
// pass this package's tests and have ARCHITECTURE.md's list re-read.
func TestBoltVersionPinned(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^\s*go\.etcd\.io/bbolt v1\.5\.0$`, string(mod))
}

// Every page that was free (and pinned by no reader) when Scrub began and
// is still free after it is all zeros; live pages are untouched and every
// marker of erased content is gone from the file.
func TestScrubZeroesEveryFreePage(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true})
	gone := churn(t, s, 300)
	raw, err := os.ReadFile(s.path)
	require.NoError(t, err)
	present := slices.DeleteFunc(slices.Clone(gone), func(m []byte) bool { return !bytes.Contains(raw, m) })
	require.NotEmpty(t, present, "erased markers are in the file before Scrub (else this test proves nothing)")
	typesBefore := pageTypes(t, s)
	dump := logicalDump(t, s)

	res, err := s.Scrub(context.Background())
	require.NoError(t, err)

	types, pages := pageTypes(t, s), rawPages(t, s)
	free := 0
	for id, typ := range typesBefore {
		if typ != "free" {
			continue
		}
		free++
		if types[id] == "free" {
			assert.True(t, allZero(pages[id]), "page %d free before and after Scrub holds bytes", id)
		}
	}
	assert.Equal(t, free, res.FreePages)
	assert.Equal(t, free, res.PagesZeroed+res.PagesClean+res.PagesReused)
	assert.Equal(t, int64(res.PagesZeroed*s.pageSize), res.BytesZeroed)
	assert.Zero(t, res.PagesPinned)
	assert.Positive(t, res.Chunks)
	raw, err = os.ReadFile(s.path)
	require.NoError(t, err)
	for _, m := range gone {
		assert.False(t, bytes.Contains(raw, m), "%s still in the file", m)
	}
	assert.Equal(t, dump, logicalDump(t, s))
	at, err := s.ScrubbedAt()
	require.NoError(t, err)
	assert.Equal(t, scrubT0, at)
}

// logicalDump is the store's Dump without the meta bucket, which Scrub
// writes ScrubbedAt to.
func logicalDump(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, s.Dump(&b))
	lines := strings.Split(b.String(), "\n")
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, string(bucketMeta)) }), "\n")
}

// longReader begins a read transaction on s that, once release is
// closed, reads the generation-1 records churn(s, 100) left and sends on
// done whether it found each intact. It returns the transaction's ID.
func longReader(s *Store) (txid uint64, release chan struct{}, done chan error) {
	started := make(chan uint64)
	release, done = make(chan struct{}), make(chan error)
	go func() {
		done <- s.View(func(tx *Tx) error {
			started <- uint64(tx.btx.ID())
			<-release
			for i := 1; i < 100; i += 3 {
				r, err := tx.Get("acme", fmt.Sprintf("r%04d", i))
				if err != nil {
					return err
				}
				if !strings.Contains(r.Body, fmt.Sprintf("MARK-g1-%04d ", i)) {
					return fmt.Errorf("record %d reads %.20q", i, r.Body)
				}
			}
			return nil
		})
	}()
	return <-started, release, done
}

// A read transaction open since before pages were freed may still read
// them: Scrub leaves them, reports them, and zeroes every page freed
// before the reader began. The reader reads its snapshot intact; the next
// Scrub after it ended finishes the job.
func TestScrubLeavesPagesPinnedByLongReader(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true, ScrubReaderWait: time.Millisecond})
	early := churn(t, s, 100) // freed before the reader began
	_, release, done := longReader(s)
	var late [][]byte // freed while the reader is open
	var batch []Record
	for i := 1; i < 100; i += 3 {
		batch = append(batch, marked(i, fmt.Sprintf("MARK-g2-%04d", i), 60+i*97%9000))
		late = append(late, fmt.Appendf(nil, "MARK-g1-%04d ", i))
	}
	require.NoError(t, s.PutBatch(batch))

	res, err := s.Scrub(context.Background())
	require.NoError(t, err)
	assert.Positive(t, res.PagesPinned)
	assert.Equal(t, int64(res.PagesPinned*s.pageSize), res.BytesPinned)
	assert.Positive(t, res.PagesZeroed)
	raw, err := os.ReadFile(s.path)
	require.NoError(t, err)
	for _, m := range early {
		if !bytes.Contains(m, []byte("MARK-g1")) || !slices.ContainsFunc(late, func(l []byte) bool { return bytes.Equal(l, m) }) {
			assert.False(t, bytes.Contains(raw, m), "%s was freed before the reader began, and is still in the file", m)
		}
	}
	left := 0
	for _, m := range late {
		if bytes.Contains(raw, m) {
			left++
		}
	}
	assert.Positive(t, left, "pages the reader may read are left as they were")
	at, err := s.ScrubbedAt()
	require.NoError(t, err)
	assert.True(t, at.IsZero(), "a scrub that left pinned pages is not recorded as done")

	close(release)
	require.NoError(t, <-done, "the reader reads its snapshot intact")
	res, err = s.Scrub(context.Background())
	require.NoError(t, err)
	assert.Zero(t, res.PagesPinned)
	raw, err = os.ReadFile(s.path)
	require.NoError(t, err)
	for _, m := range late {
		assert.False(t, bytes.Contains(raw, m), "%s still in the file after the reader ended", m)
	}
}

// Scrub in small chunks while writers and readers run: writers reuse
// free pages between chunks, readers read through every chunk, and at
// the end every page free at the start and free after is zeros unless
// reported pinned, and the store checks.
func TestScrubChunksUnderConcurrentWork(t *testing.T) {
	SetScrubChunk(t, 4, time.Millisecond)
	s := openScrubStore(t, &Options{NoSync: true})
	churn(t, s, 300)
	typesBefore := pageTypes(t, s)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			if err := s.Put(marked(1000+i%50, fmt.Sprintf("MARK-w%d-%04d", i%2, i), 60+i*131%9000)); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			id := fmt.Sprintf("r%04d", 1+3*(i%99))
			r, err := s.Get("acme", id)
			if err == nil && !strings.Contains(r.Body, fmt.Sprintf("MARK-g1-%04d ", 1+3*(i%99))) {
				err = fmt.Errorf("%s reads %.20q", id, r.Body)
			}
			if err != nil {
				errs <- err
				return
			}
		}
	})
	res, err := s.Scrub(context.Background())
	cancel()
	wg.Wait()
	close(errs)
	require.NoError(t, err)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Greater(t, res.Chunks, 2)
	// Generation 0 was only in pages free when the scrub began: each was
	// zeroed or, reused by a writer first, overwritten whole.
	raw, err := os.ReadFile(s.path)
	require.NoError(t, err)
	assert.NotRegexp(t, `MARK-g0-[0-9]{4} `, string(raw))
	types, pages := pageTypes(t, s), rawPages(t, s)
	for id, typ := range typesBefore {
		if typ == "free" && types[id] == "free" && !allZero(pages[id]) {
			assert.NotRegexp(t, `MARK-g0`, string(pages[id]), "page %d", id)
		}
	}
}

// A reader whose commit's meta is no longer known (neither recorded nor
// still on its meta page) is taken to reach every page below its
// high-water mark: Scrub leaves them all, and the reader reads its
// snapshot intact.
func TestScrubUnknownReaderPinsItsWholeSnapshot(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true, ScrubReaderWait: time.Millisecond})
	churn(t, s, 100)
	txid, release, done := longReader(s)
	var batch []Record
	for i := 1; i < 100; i += 3 {
		batch = append(batch, marked(i, fmt.Sprintf("MARK-g2-%04d", i), 60+i*97%9000))
	}
	require.NoError(t, s.PutBatch(batch))
	require.NoError(t, s.Put(marked(9999, "MARK-x", 60)))
	s.readers.mu.Lock()
	delete(s.readers.metas, txid)
	s.readers.mu.Unlock()
	_, ok, err := readCommitMeta(s.file, txid, s.pageSize)
	require.NoError(t, err)
	require.False(t, ok, "the reader's meta page was overwritten")

	res, err := s.Scrub(context.Background())
	require.NoError(t, err)
	assert.Positive(t, res.PagesPinned)
	close(release)
	require.NoError(t, <-done, "the reader reads its snapshot intact")
}

func allZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

// A scrub writes only the free pages that are not zeros already: a second
// scrub writes nothing, and one after a few deletions writes about what
// they freed.
func TestScrubWritesWhatWasFreedSinceTheLast(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true})
	churn(t, s, 300)
	first, err := s.Scrub(context.Background())
	require.NoError(t, err)
	require.Positive(t, first.PagesZeroed)

	again, err := s.Scrub(context.Background())
	require.NoError(t, err)
	// Only what the first scrub's own commit of ScrubbedAt freed: the
	// pages of the meta bucket's path and the old free page list.
	assert.LessOrEqual(t, again.PagesZeroed, 4)
	assert.Positive(t, again.PagesClean)

	var gone [][]byte
	for i := 1; i < 30; i += 3 {
		_, err := s.Delete("acme", fmt.Sprintf("r%04d", i))
		require.NoError(t, err)
		gone = append(gone, fmt.Appendf(nil, "MARK-g1-%04d ", i))
	}
	raw, err := os.ReadFile(s.path)
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(gone, func(m []byte) bool { return bytes.Contains(raw, m) }))
	after, err := s.Scrub(context.Background())
	require.NoError(t, err)
	assert.Positive(t, after.PagesZeroed)
	assert.Less(t, after.PagesZeroed, first.PagesZeroed/2)
	raw, err = os.ReadFile(s.path)
	require.NoError(t, err)
	for _, m := range gone {
		assert.False(t, bytes.Contains(raw, m), "%s still in the file", m)
	}
}

// A reader ends in bbolt just before it leaves the store's registry; in
// that moment a commit may reuse the free page list page of its commit.
// Scrub then takes that reader as unknown (it pins pages, harmlessly)
// rather than failing on a page that is no longer a free page list.
func TestScrubReaderEndingAsItsFreeListIsReused(t *testing.T) {
	s := openScrubStore(t, &Options{NoSync: true, ScrubReaderWait: time.Millisecond})
	churn(t, s, 100)
	var r reader
	require.NoError(t, s.View(func(tx *Tx) error {
		r = reader{txid: uint64(tx.btx.ID()), hwm: uint64(tx.btx.Size()) / uint64(s.pageSize)}
		return nil
	}))
	m, ok := s.readers.meta(r.txid)
	require.True(t, ok)
	for i := 0; ; i++ {
		_, err := readFreelist(s.file, m, s.pageSize)
		if errors.Is(err, errBoltFormat) {
			break
		}
		require.Less(t, i, 50, "the free page list page of commit %d is reused", r.txid)
		churn(t, s, 20)
	}
	// The reader, gone from bbolt, still in the registry.
	s.readers.mu.Lock()
	s.readers.seq++
	s.readers.open[s.readers.seq] = r
	s.readers.metas[r.txid] = m
	s.readers.mu.Unlock()

	res, err := s.Scrub(context.Background())
	require.NoError(t, err)
	assert.Positive(t, res.PagesPinned, "an unknown reader pins what lies below its high-water mark")
}
