package storetest

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// DamagePage overwrites the root page of the bucket at path (top-level
// bucket first, e.g. "ws" or "ws", "acme", "audit"; none: the file's root
// bucket, which holds the meta bucket) in the store file with 0xAB bytes,
// the damage `cdradmin check` reports as "corrupt (pages)": bbolt panics
// on such a page when a transaction reads it. Open still succeeds when
// path names a bucket, since it reads only the meta bucket.
func DamagePage(tb testing.TB, file string, path ...string) {
	tb.Helper()
	page, pageSize := rootPage(tb, file, path)
	if page == 0 {
		tb.Fatalf("storetest: bucket %v is inline: no page of its own", path)
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xAB}, int(pageSize)), page*pageSize); err != nil {
		tb.Fatal(err)
	}
}

// DamageSecondLeaf overwrites with 0xAB bytes the second leaf page under
// the root page of the bucket at path, which must be a branch page whose
// children are leaves, and returns how many keys the first leaf holds. A
// write transaction that empties the first leaf but for one key reads
// only that leaf; its commit then merges it with the second (bbolt
// rebalances a leaf under a quarter full) and panics there: the panic
// comes while committing.
func DamageSecondLeaf(tb testing.TB, file string, path ...string) int {
	tb.Helper()
	root, pageSize := rootPage(tb, file, path)
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	// A page starts with id u64, flags u16, count u16, overflow u32; a
	// branch page's elements follow, 16 bytes each: pos u32, ksize u32,
	// pgid u64 (bbolt's internal/common/page.go, little-endian).
	const branchFlag, leafFlag = 0x01, 0x02
	page := func(id int64) []byte {
		p := make([]byte, pageSize)
		if _, err := f.ReadAt(p, id*pageSize); err != nil {
			tb.Fatal(err)
		}
		return p
	}
	r := page(root)
	if binary.LittleEndian.Uint16(r[8:]) != branchFlag || binary.LittleEndian.Uint16(r[10:]) < 2 {
		tb.Fatalf("storetest: bucket %v: root page %d is not a branch of two children or more", path, root)
	}
	first := int64(binary.LittleEndian.Uint64(r[16+8:]))
	second := int64(binary.LittleEndian.Uint64(r[16+16+8:]))
	l := page(first)
	if binary.LittleEndian.Uint16(l[8:]) != leafFlag {
		tb.Fatalf("storetest: bucket %v: page %d is not a leaf", path, first)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xAB}, int(pageSize)), second*pageSize); err != nil {
		tb.Fatal(err)
	}
	return int(binary.LittleEndian.Uint16(l[10:]))
}

// rootPage returns the ID of the root page of the bucket at path in the
// bbolt file (0 for an inline bucket), and the file's page size.
func rootPage(tb testing.TB, file string, path []string) (page, pageSize int64) {
	tb.Helper()
	db, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Cursor().Bucket()
		for _, name := range path {
			b = b.Bucket([]byte(name))
		}
		page = int64(b.Root())
		return nil
	})
	pageSize = int64(db.Info().PageSize)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
	return page, pageSize
}
