package bench

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkCommitFloor is the least a durable single-record change costs
// on this disk, with nothing of the CDR schema: one 8-byte value
// overwritten in a one-key bbolt bucket (bbolt writes the dirty pages,
// fsyncs, writes the meta page and fsyncs again), and one row of a
// one-row SQLite table updated in WAL mode at synchronous=FULL (one WAL
// append and one fsync). Redact and erase can go no faster than these.
func BenchmarkCommitFloor(b *testing.B) {
	b.Run("engine=bbolt", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		v := make([]byte, 8)
		i := 0
		for b.Loop() {
			i++
			v[0] = byte(i)
			if err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists([]byte("b"))
				if err != nil {
					return err
				}
				return bk.Put([]byte("k"), v)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("engine=sqlite-full", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "floor.sqlite")
		db, err := sql.Open("sqlite3", fmt.Sprintf("file:%s?_journal_mode=WAL&_synchronous=FULL", path))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 0)`); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			if _, err := db.Exec(`UPDATE t SET v = ? WHERE k = 1`, i); err != nil {
				b.Fatal(err)
			}
		}
	})
}
