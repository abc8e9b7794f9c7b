package cdrstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	"github.com/cdrvault/cdrvault/internal/killpoint"
	bolt "go.etcd.io/bbolt"
)

// compactTxMaxSize bounds the size of each transaction of a compacted copy.
const compactTxMaxSize = 64 << 20

// The chunks of an in-place scrub: each holds bbolt's writer lock for at
// most scrubChunkPages pages or, once past scrubChunkTime, until the run
// of at most scrubRunPages pages it is writing ends. Variables so that
// tests can shrink them.
var (
	scrubChunkPages = 1024 // 4 MiB of 4 KiB pages
	scrubChunkTime  = 10 * time.Millisecond
	scrubRunPages   = 64 // one pwrite
)

// ScrubResult reports what Scrub did.
type ScrubResult struct {
	SizeBefore int64 `json:"size_before"` // bytes of the file when the scrub began
	SizeAfter  int64 `json:"size_after"`  // bytes of the file when it ended (a scrub does not shrink it; Compact does)
	FreePages  int   `json:"free_pages"`  // free pages when the scrub began, pending ones included

	PagesZeroed int   `json:"pages_zeroed"` // free pages overwritten with zeros
	BytesZeroed int64 `json:"bytes_zeroed"`
	PagesClean  int   `json:"pages_clean"`  // free pages found all zeros (zeroed by an earlier scrub), not written again
	PagesPinned int   `json:"pages_pinned"` // free pages left as they were: a read transaction open since before they were freed may still read them
	BytesPinned int64 `json:"bytes_pinned"`
	PagesReused int   `json:"pages_reused"` // free when the scrub began, rewritten by a commit before the scrub reached them

	Chunks      int           `json:"chunks"`          // times the scrub took bbolt's writer lock
	LongestHold time.Duration `json:"longest_hold_ns"` // the longest of those holds
}

// Scrub removes the bytes that erasures, redactions and sweeps left behind
// in the file, in place. bbolt is copy-on-write: the old bytes of
// rewritten and deleted values (and of index keys, in leaf and branch
// pages) stay in pages it holds free until it reuses them. Scrub
// overwrites every free page that is not all zeros already with zeros and
// fsyncs the file before it returns (unless Options.NoSync); the live
// data is not touched. It reads the free pages (from the page cache,
// mostly) and writes those freed since the last scrub, so its cost
// follows the free space and what was erased, not the store. The file
// keeps its size (see [Store.Compact] to give space back).
//
// Scrub works in chunks. Each chunk holds bbolt's writer lock (a write
// transaction that writes nothing and is rolled back) for at most a few
// MiB of pages or about 10 ms, so writers wait no longer than that;
// readers are never blocked. A page is zeroed only when no open read
// transaction can reach it: one freed after a read transaction that is
// still open began may still be read by it, and is left. When the first
// pass leaves such pinned pages, Scrub waits up to Options.ScrubReaderWait
// for the readers that pin them to end, then tries them once more; the
// pages still pinned then are reported in ScrubResult and left for the
// next scrub. Pages freed while the scrub runs are left for the next one.
//
// ScrubbedAt is updated only when no page was left pinned. A crash during
// Scrub leaves a consistent store (only free pages were written); the
// next Scrub zeroes what this one did not. Scrub is idempotent, safe for
// concurrent use, and returns ErrReadOnly on a read-only store and the
// wrapped ctx.Err() when ctx ends (the pages zeroed by then stay zero).
func (s *Store) Scrub(ctx context.Context) (res ScrubResult, err error) {
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("cdrstore: scrub: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.writable(); err != nil {
		return res, err
	}
	defer recoverDamage(&err, debug.SetPanicOnFault(true))
	sc := &scrubber{s: s, res: &res, lists: map[uint64][]uint64{}}
	todo, err := sc.pass(ctx, nil, true)
	if err == nil && len(todo) > 0 {
		// Pinned pages: wait for the readers that pin them, once.
		if err = sc.waitReaders(ctx); err == nil {
			todo, err = sc.pass(ctx, todo, false)
		}
	}
	if err != nil {
		return res, fmt.Errorf("cdrstore: scrub: %w", err)
	}
	res.PagesPinned, res.BytesPinned = len(todo), int64(len(todo))*int64(s.pageSize)
	killpoint.Reach("scrub.zeroed")
	if err := s.syncFile(); err != nil {
		return res, fmt.Errorf("cdrstore: scrub: sync: %w", err)
	}
	killpoint.Reach("scrub.synced")
	if fi, err := s.file.Stat(); err == nil {
		res.SizeAfter = fi.Size()
	}
	if res.PagesPinned > 0 {
		return res, nil
	}
	if err := s.markScrubbed(); err != nil {
		return res, fmt.Errorf("cdrstore: scrub: %w", err)
	}
	return res, nil
}

// markScrubbed records now as the time no free page held old bytes.
func (s *Store) markScrubbed() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaScrubbedAt, binary.BigEndian.AppendUint64(nil, uint64(s.Now().UnixNano())))
	})
	if err == nil {
		s.recordMetas()
	}
	return err
}

// syncFile fsyncs the zeros Scrub wrote, unless Options.NoSync.
func (s *Store) syncFile() error {
	if s.opts.NoSync {
		return nil
	}
	return s.file.Sync()
}

// scrubber is the state of one Scrub.
type scrubber struct {
	s      *Store
	res    *ScrubResult
	lists  map[uint64][]uint64 // free page lists of the commits readers began at, by txid
	lastTx uint64              // the newest commit a chunk saw
	zero   []byte
	buf    []byte
}

// pass zeroes the pages of todo (when first, those free at its first
// chunk), chunk by chunk, and returns the pages it left pinned.
func (sc *scrubber) pass(ctx context.Context, todo []uint64, first bool) (pinned []uint64, err error) {
	for first || len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var p []uint64
		todo, p, err = sc.chunk(todo, first)
		if err != nil {
			return nil, err
		}
		pinned = append(pinned, p...)
		first = false
		// The zeros reach the disk outside the writer lock, so that the
		// next commit's fsync does not write them while writers wait.
		if err := sc.s.syncFile(); err != nil {
			return nil, err
		}
		killpoint.Reach("scrub.chunk")
	}
	return pinned, nil
}

// chunk holds bbolt's writer lock while it zeroes the next pages of todo
// that are free and that no open reader can reach. It returns the pages
// of todo it did not come to, and those it found pinned.
//
// The rule: while the writer lock is held, the newest commit C is fixed,
// and a page on C's free page list (free or pending) is reachable by no
// read transaction that began at C or later: it was freed by a commit up
// to C and not reused since. A reader that began at an older commit R can
// reach exactly the pages that were live at R: those below R's high water
// mark and not on R's free page list. So a page free at C is safe unless
// some open reader began at an R < C whose snapshot used it. R's free page
// list is read from the file: bbolt keeps that page pending, unwritten,
// while a reader that began at R is open. A reader whose commit's meta was
// not recorded is taken to reach every page below its high water mark.
func (sc *scrubber) chunk(todo []uint64, first bool) (rest, pinned []uint64, err error) {
	s := sc.s
	btx, err := s.db.Begin(true)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	defer func() {
		btx.Rollback()
		hold := time.Since(start)
		sc.res.Chunks++
		sc.res.LongestHold = max(sc.res.LongestHold, hold)
	}()
	commit := uint64(btx.ID()) - 1
	sc.lastTx = commit
	if s.opts.NoSync {
		// Commit C may not be on disk yet, and a crash would bring back
		// the commit before it, whose pages C freed.
		if err := s.db.Sync(); err != nil {
			return nil, nil, err
		}
	}
	meta, ok, err := readCommitMeta(s.file, commit, s.pageSize)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, &CorruptionError{Bucket: "(file)", Err: fmt.Errorf("meta page of the newest commit %d: %w", commit, errBoltFormat)}
	}
	s.readers.record(meta)
	free, err := readFreelist(s.file, meta, s.pageSize)
	if err != nil {
		return nil, nil, &CorruptionError{Bucket: "(file)", Err: err}
	}
	if first {
		todo = slices.Clone(free)
		sc.res.FreePages = len(free)
		if fi, err := s.file.Stat(); err == nil {
			sc.res.SizeBefore = fi.Size()
		}
	}
	reach, err := sc.reachable(commit)
	if err != nil {
		return nil, nil, err
	}

	var zero []uint64
	i := 0
	for ; i < len(todo) && len(zero) < scrubChunkPages; i++ {
		switch p := todo[i]; {
		case !contains(free, p):
			sc.res.PagesReused++
		case reach(p):
			pinned = append(pinned, p)
		default:
			zero = append(zero, p)
		}
	}
	rest = todo[i:]
	for len(zero) > 0 {
		n := 1
		for n < len(zero) && zero[n] == zero[n-1]+1 && n < scrubRunPages {
			n++
		}
		if err := sc.clear(zero[0], n); err != nil {
			return nil, nil, err
		}
		killpoint.Reach("scrub.writing")
		zero = zero[n:]
		if time.Since(start) > scrubChunkTime {
			break
		}
	}
	// Pages classified but not written go back first: todo stays sorted.
	return append(zero, rest...), pinned, nil
}

// reachable returns whether page p may be read by a reader that began
// before commit.
func (sc *scrubber) reachable(commit uint64) (func(p uint64) bool, error) {
	old, _ := sc.s.readers.older(commit)
	type view struct {
		hwm  uint64
		free []uint64 // nil: unknown, every page below hwm is reachable
	}
	views := make([]view, 0, len(old))
	for _, r := range old {
		free, err := sc.list(r.txid)
		if err != nil {
			return nil, err
		}
		views = append(views, view{r.hwm, free})
	}
	return func(p uint64) bool {
		for _, v := range views {
			if p < v.hwm && (v.free == nil || !contains(v.free, p)) {
				return true
			}
		}
		return false
	}, nil
}

// list returns the free page list of commit txid, or nil when it is no
// longer known: its meta was not recorded and its meta page was
// overwritten, or its free page list page was reused (possible only once
// bbolt saw every reader that began at txid end).
func (sc *scrubber) list(txid uint64) ([]uint64, error) {
	if l, ok := sc.lists[txid]; ok {
		return l, nil
	}
	m, ok := sc.s.readers.meta(txid)
	if !ok {
		var err error
		if m, ok, err = readCommitMeta(sc.s.file, txid, sc.s.pageSize); err != nil {
			return nil, err
		}
	}
	var l []uint64
	if ok {
		var err error
		switch l, err = readFreelist(sc.s.file, m, sc.s.pageSize); {
		case errors.Is(err, errBoltFormat):
			// The page was reused: every reader that began at txid has
			// ended in bbolt (a reader is unregistered just after), and
			// what it could reach no longer matters. Taken as unknown.
			l = nil
		case err != nil:
			return nil, err
		case l == nil:
			l = []uint64{}
		}
	}
	sc.lists[txid] = l
	return l, nil
}

// clear overwrites with zeros those of the n pages from page id that are
// not all zeros already (an earlier scrub zeroed them, and no commit has
// written them since), so that a scrub writes what was freed since the
// last one, not every free page again.
func (sc *scrubber) clear(id uint64, n int) error {
	ps := sc.s.pageSize
	if sc.zero == nil {
		sc.zero = make([]byte, scrubRunPages*ps)
		sc.buf = make([]byte, scrubRunPages*ps)
	}
	buf := sc.buf[:n*ps]
	if _, err := sc.s.file.ReadAt(buf, int64(id)*int64(ps)); err != nil {
		return err
	}
	for i := 0; i < n; {
		if isZero(buf[i*ps : (i+1)*ps]) {
			sc.res.PagesClean++
			i++
			continue
		}
		j := i + 1
		for j < n && !isZero(buf[j*ps:(j+1)*ps]) {
			j++
		}
		if _, err := sc.s.file.WriteAt(sc.zero[:(j-i)*ps], int64(id+uint64(i))*int64(ps)); err != nil {
			return err
		}
		sc.res.PagesZeroed += j - i
		sc.res.BytesZeroed += int64((j - i) * ps)
		i = j
	}
	return nil
}

// isZero reports whether b holds only zeros.
func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// waitReaders waits until no reader older than the newest commit a chunk
// saw is open, at most Options.ScrubReaderWait.
func (sc *scrubber) waitReaders(ctx context.Context) error {
	timer := time.NewTimer(sc.s.opts.ScrubReaderWait)
	defer timer.Stop()
	for {
		old, ended := sc.s.readers.older(sc.lastTx)
		if len(old) == 0 {
			return nil
		}
		select {
		case <-ended:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// CompactResult reports what Compact did.
type CompactResult struct {
	SizeBefore int64 `json:"size_before"` // bytes of the old file
	SizeAfter  int64 `json:"size_after"`  // bytes of the new file
	FreePages  int   `json:"free_pages"`  // free pages of the old file, whose bytes are gone
}

// Compact gives the space of free pages back to the file system, and
// removes their bytes as Scrub does. It copies the live data key by key
// into a new file (as bbolt's Compact does), fsyncs it and its directory,
// renames it over the store, then overwrites the old file's blocks with
// zeros through a handle kept open across the rename, and reopens. The disk must
// hold the live data twice while it runs.
//
// A crash at any point leaves either the old file or the new one at the
// path, never a mix, and no temporary file once the next Compact runs.
// Compact waits for open transactions to finish and blocks new ones until
// it is done: its cost is a copy of the live data. Use Scrub to remove
// erased bytes without stopping readers and writers; use Compact when the
// file should shrink.
//
// Once the new file has been renamed over the store, the store uses it
// even when a later step fails (syncing the directory, zeroing the old
// file): Compact then returns that error, ScrubbedAt is not updated, and
// writes that follow go to the file at the path. When syncing the
// directory fails the old file is not zeroed, since the rename may not
// survive a crash.
func (s *Store) Compact(ctx context.Context) (CompactResult, error) {
	var res CompactResult
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("cdrstore: compact: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return res, err
	}
	if fi, err := s.file.Stat(); err == nil {
		res.SizeBefore = fi.Size()
	}
	res.FreePages = s.db.Stats().FreePageN + s.db.Stats().PendingPageN

	tmp := s.path + ".compact"
	os.Remove(tmp) // left by a crash during an earlier Compact
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	err := s.db.View(func(btx *bolt.Tx) error { return compactTo(ctx, btx, tmp, s.opts.LockTimeout) })
	if err != nil {
		return res, err
	}
	old, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return res, fmt.Errorf("cdrstore: compact: %w", err)
	}
	defer old.Close()
	if err := os.Rename(tmp, s.path); err != nil {
		return res, fmt.Errorf("cdrstore: compact: %w", err)
	}
	renamed = true
	// From here the path names the new file, and the store moves to it
	// whatever fails: writes to the old one would be acknowledged and then
	// lost with it. The first failure is returned once the store has moved.
	var failed error
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		// The rename may not be durable: after a crash the path could
		// name the old file again, so its bytes are kept.
		failed = fmt.Errorf("cdrstore: compact: sync directory: %w", err)
	}
	if err := s.detach(); err != nil && failed == nil {
		failed = fmt.Errorf("cdrstore: compact: close old file: %w", err)
	}
	if failed == nil {
		if err := zeroFile(old); err != nil {
			failed = fmt.Errorf("cdrstore: compact: zero old file: %w", err)
		}
	}
	db, err := openBolt(s.path, s.boltOptions())
	if err != nil {
		return res, errors.Join(failed, mapOpenError(s.path, err))
	}
	if err := s.attach(db); err != nil {
		return res, errors.Join(failed, err)
	}
	if failed != nil {
		return res, failed
	}
	if err := s.markScrubbed(); err != nil {
		return res, fmt.Errorf("cdrstore: compact: %w", err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		res.SizeAfter = fi.Size()
	}
	return res, nil
}

// compactTo writes a compacted, fsynced copy of the snapshot src to path,
// copying keys as bbolt's Compact does but from a transaction the store
// registered (bbolt's Compact opens one of its own, which a scrub could
// not see). path must not exist. A damaged page of the store is an error
// matching ErrCorrupt.
func compactTo(ctx context.Context, src *bolt.Tx, path string, lockTimeout time.Duration) (err error) {
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("cdrstore: compact: %w", err)
	}
	defer func() {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}()
	defer recoverDamage(&err, debug.SetPanicOnFault(true))
	if err := copyTx(ctx, src, dst); err != nil {
		return fmt.Errorf("cdrstore: compact: %w", err)
	}
	return dst.Sync()
}

// copyTx copies every bucket of src into dst as bbolt's Compact does,
// committing about every compactTxMaxSize bytes.
func copyTx(ctx context.Context, src *bolt.Tx, dst *bolt.DB) error {
	tx, err := dst.Begin(true)
	if err != nil {
		return err
	}
	defer func() { tx.Rollback() }()
	var size int64
	n := 0
	put := func(keys [][]byte, k, v []byte, seq uint64) error {
		if n++; n%128 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if sz := int64(len(k) + len(v)); size+sz > compactTxMaxSize {
			if err := tx.Commit(); err != nil {
				return err
			}
			if tx, err = dst.Begin(true); err != nil {
				return err
			}
			size = 0
		} else {
			size += sz
		}
		if len(keys) == 0 {
			b, err := tx.CreateBucket(k)
			if err != nil {
				return err
			}
			return b.SetSequence(seq)
		}
		b := tx.Bucket(keys[0])
		for _, k := range keys[1:] {
			b = b.Bucket(k)
		}
		b.FillPercent = 1.0
		if v == nil {
			sub, err := b.CreateBucket(k)
			if err != nil {
				return err
			}
			return sub.SetSequence(seq)
		}
		return b.Put(k, v)
	}
	var walk func(b *bolt.Bucket, keys [][]byte) error
	walk = func(b *bolt.Bucket, keys [][]byte) error {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v != nil {
				if err := put(keys, k, v, 0); err != nil {
					return err
				}
				continue
			}
			sub := b.Bucket(k)
			if err := put(keys, k, nil, sub.Sequence()); err != nil {
				return err
			}
			if err := walk(sub, append(keys[:len(keys):len(keys)], k)); err != nil {
				return err
			}
		}
		return nil
	}
	err = src.ForEach(func(name []byte, b *bolt.Bucket) error {
		if err := put(nil, name, nil, b.Sequence()); err != nil {
			return err
		}
		return walk(b, [][]byte{name})
	})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// zeroFile overwrites f's bytes with zeros and syncs it.
func zeroFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	zero := make([]byte, 1<<20)
	for off := int64(0); off < fi.Size(); off += int64(len(zero)) {
		n := min(int64(len(zero)), fi.Size()-off)
		if _, err := f.WriteAt(zero[:n], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// syncDir fsyncs directory dir, making a rename in it durable. It is a
// variable so that tests can make it fail.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Backup writes a consistent copy of the store to w: a compacted file with
// no free pages, so it holds none of the residue a raw copy of the file
// (or bbolt's Tx.WriteTo) would carry. It runs alongside reads, writes
// and scrubs; the copy is the state of one read transaction. It returns
// the bytes written, and leaves no temporary file behind.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp(filepath.Dir(s.path), ".backup-")
	if err != nil {
		return 0, fmt.Errorf("cdrstore: backup: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "copy.db")
	err = s.View(func(tx *Tx) error { return compactTo(ctx, tx.btx, tmp, s.opts.LockTimeout) })
	if err != nil {
		return 0, fmt.Errorf("cdrstore: backup: %w", err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}

// FreeBytes estimates the bytes of the file held by free pages — where
// the old bytes of rewritten and deleted values linger until Scrub. It
// counts the pages every bucket uses and subtracts them from the file's
// size, so it works on read-only stores too.
func (s *Store) FreeBytes() (int64, error) {
	var free int64
	err := s.View(func(tx *Tx) error {
		pageSize := int64(tx.btx.DB().Info().PageSize)
		used := 3 * pageSize // two meta pages and the freelist
		err := tx.btx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			st := b.Stats()
			used += int64(st.BranchPageN+st.BranchOverflowN+st.LeafPageN+st.LeafOverflowN) * pageSize
			return nil
		})
		free = max(0, tx.btx.Size()-used)
		return err
	})
	return free, err
}

// ScrubbedAt returns when a Scrub that left no page pinned, or a Compact,
// last ran on this store (zero if never). Erasures after it may have left
// bytes in free pages.
func (s *Store) ScrubbedAt() (time.Time, error) {
	var t time.Time
	err := s.View(func(tx *Tx) error {
		if v := tx.btx.Bucket(bucketMeta).Get(metaScrubbedAt); len(v) == 8 {
			t = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		}
		return nil
	})
	return t, err
}
