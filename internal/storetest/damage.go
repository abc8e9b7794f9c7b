package storetest

import (
	"bytes"
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
	db, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	var page int64
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Cursor().Bucket()
		for _, name := range path {
			b = b.Bucket([]byte(name))
		}
		page = int64(b.Root())
		return nil
	})
	pageSize := int64(db.Info().PageSize)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
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
