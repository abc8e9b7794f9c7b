package audit_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	bolt "go.etcd.io/bbolt"
)

func ExampleVerify() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "a.db"), 0o600, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	key := []byte("a secret key kept outside the store")
	err = db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("audit"))
		_, err := audit.Append(b, audit.Entry{
			Time: time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC), Action: "data.erasure",
			Reason: "gdpr_art17", Subject: audit.SubjectHMAC(key, "+2348031234567"), Count: 12,
		})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		n, err := audit.Verify(context.Background(), tx.Bucket([]byte("audit")))
		fmt.Println(n, err)
		return nil
	})

	// Editing an entry breaks the chain at its seq.
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		k, v := b.Cursor().First()
		v = append([]byte(nil), v...)
		v[len(v)-1] ^= 1
		return b.Put(k, v)
	})
	db.View(func(tx *bolt.Tx) error {
		_, err := audit.Verify(context.Background(), tx.Bucket([]byte("audit")))
		fmt.Println(err)
		return nil
	})
	// Output:
	// 1 <nil>
	// audit: chain broken at seq 1: audit: corrupt entry: truncated
}
