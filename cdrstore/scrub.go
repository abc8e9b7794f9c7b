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
	"time"

	bolt "go.etcd.io/bbolt"
)

// scrubTxMaxSize bounds the size of each transaction of the copy.
const scrubTxMaxSize = 64 << 20

// ScrubResult reports what Scrub did.
type ScrubResult struct {
	SizeBefore int64 `json:"size_before"` // bytes of the old file (its size on disk, as SizeAfter)
	SizeAfter  int64 `json:"size_after"`  // bytes of the new file
	FreePages  int   `json:"free_pages"`  // free pages of the old file, whose bytes are gone
}

// Scrub removes every byte that erasures, redactions and sweeps left behind
// in the file. bbolt is copy-on-write: the old bytes of rewritten and
// deleted values (and of index keys, in leaf and branch pages) stay in
// freed pages until reused. Scrub copies the live data key by key into a
// new file (bbolt's Compact), fsyncs it and its directory, renames it over
// the store, then overwrites the old file's blocks with zeros through a
// handle kept open across the rename, and reopens.
//
// A crash at any point leaves either the old file or the new one at the
// path, never a mix. Scrub waits for open transactions to finish and blocks
// new ones until it is done. Its cost is a copy of the live data.
//
// Once the new file has been renamed over the store, the store uses it
// even when a later step fails (syncing the directory, zeroing the old
// file): Scrub then returns that error, ScrubbedAt is not updated, and
// writes that follow go to the file at the path. When syncing the
// directory fails the old file is not zeroed, since the rename may not
// survive a crash.
func (s *Store) Scrub(ctx context.Context) (ScrubResult, error) {
	var res ScrubResult
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("cdrstore: scrub: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return res, err
	}
	if fi, err := os.Stat(s.path); err == nil {
		res.SizeBefore = fi.Size()
	}
	res.FreePages = s.db.Stats().FreePageN

	tmp := s.path + ".scrub"
	if err := s.compactTo(ctx, tmp); err != nil {
		os.Remove(tmp)
		return res, err
	}
	old, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("cdrstore: scrub: %w", err)
	}
	defer old.Close()
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("cdrstore: scrub: %w", err)
	}
	// From here the path names the new file, and the store moves to it
	// whatever fails: writes to the old one would be acknowledged and then
	// lost with it. The first failure is returned once the store has moved.
	var failed error
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		// The rename may not be durable: after a crash the path could
		// name the old file again, so its bytes are kept.
		failed = fmt.Errorf("cdrstore: scrub: sync directory: %w", err)
	}
	if err := s.db.Close(); err != nil && failed == nil {
		failed = fmt.Errorf("cdrstore: scrub: close old file: %w", err)
	}
	s.db = nil
	if failed == nil {
		if err := zeroFile(old); err != nil {
			failed = fmt.Errorf("cdrstore: scrub: zero old file: %w", err)
		}
	}
	db, err := openBolt(s.path, s.boltOptions())
	if err != nil {
		return res, errors.Join(failed, mapOpenError(s.path, err))
	}
	s.db = db
	if failed != nil {
		return res, failed
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaScrubbedAt, binary.BigEndian.AppendUint64(nil, uint64(s.Now().UnixNano())))
	})
	if err != nil {
		return res, fmt.Errorf("cdrstore: scrub: %w", err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		res.SizeAfter = fi.Size()
	}
	return res, nil
}

// compactTo writes a compacted, fsynced copy of the store to path. A
// damaged page of the store is an error matching ErrCorrupt. The caller
// holds s.mu and removes path when compactTo fails.
func (s *Store) compactTo(ctx context.Context, path string) (err error) {
	os.Remove(path)
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: s.opts.LockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("cdrstore: compact: %w", err)
	}
	defer func() {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}()
	defer recoverDamage(&err, debug.SetPanicOnFault(true))
	if err := bolt.Compact(dst, s.db, scrubTxMaxSize); err != nil {
		return fmt.Errorf("cdrstore: compact: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cdrstore: compact: %w", err)
	}
	return dst.Sync()
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
// (or bbolt's Tx.WriteTo) would carry. It runs alongside reads and writes;
// the copy is the state of one read transaction. It returns the bytes
// written.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp(filepath.Dir(s.path), ".backup-")
	if err != nil {
		return 0, fmt.Errorf("cdrstore: backup: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "copy.db")
	err = func() error {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.db == nil {
			return ErrClosed
		}
		return s.compactTo(ctx, tmp)
	}()
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

// ScrubbedAt returns when Scrub last ran on this store (zero if never).
// Erasures after it may have left bytes in free pages.
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
