// Command pages loads the benchmark workload into a cdrvault store and
// prints where the file's pages go: each bucket's pages (summed over the
// workspaces), bytes and leaf fill, the free pages below bbolt's high-water
// mark, and the file's growth step beyond it.
//
//	cd bench && go run ./cmd/pages -n 1000000 -batch 10000
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cdrvault/cdrvault/bench"
	bolt "go.etcd.io/bbolt"
)

func main() {
	n := flag.Int("n", 100_000, "records in the workload")
	perContact := flag.Int("per-contact", bench.DefaultRecordsPerContact, "average records per contact")
	batch := flag.Int("batch", bench.LoadBatch, "records per transaction of the load")
	dir := flag.String("dir", "", "directory of the store (default: a new temporary one, removed after)")
	flag.Parse()
	if err := run(*n, *perContact, *batch, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "pages:", err)
		os.Exit(1)
	}
}

func run(n, perContact, batch int, dir string) error {
	if n <= 0 || batch <= 0 || perContact <= 0 {
		return fmt.Errorf("-n, -per-contact and -batch must be positive")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "pages")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d) // a store of a million records takes 600 MB
		dir = d
	}
	w := bench.NewWorkload(n, perContact)
	e, err := bench.OpenCdrvault(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := bench.Load(e, w.Records, batch); err != nil {
		e.Close()
		return err
	}
	elapsed := time.Since(start)
	if err := e.Close(); err != nil {
		return err
	}
	fmt.Printf("%d records in transactions of %d: %.0f records/s\n", n, batch, float64(n)/elapsed.Seconds())
	return report(filepath.Join(dir, "cdrvault.db"))
}

func report(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	page := int64(db.Info().PageSize)
	return db.View(func(tx *bolt.Tx) error {
		stats := map[string]bolt.BucketStats{}
		ws := tx.Bucket([]byte("ws"))
		if ws == nil {
			return fmt.Errorf("%s: no ws bucket", path)
		}
		if err := ws.ForEachBucket(func(name []byte) error {
			b := ws.Bucket(name)
			return b.ForEachBucket(func(sub []byte) error {
				s := stats[string(sub)]
				s.Add(b.Bucket(sub).Stats())
				stats[string(sub)] = s
				return nil
			})
		}); err != nil {
			return err
		}
		names := make([]string, 0, len(stats))
		for name := range stats {
			names = append(names, name)
		}
		slices.Sort(names)
		fmt.Printf("%-16s %9s %9s %10s %9s\n", "bucket", "entries", "pages", "MB", "leaf fill")
		var used int64
		for _, name := range names {
			s := stats[name]
			pages := int64(s.BranchPageN + s.BranchOverflowN + s.LeafPageN + s.LeafOverflowN)
			used += pages
			fill := 0.0
			if s.LeafAlloc > 0 {
				fill = 100 * float64(s.LeafInuse) / float64(s.LeafAlloc)
			}
			fmt.Printf("%-16s %9d %9d %10.1f %8.0f%%\n", name, s.KeyN, pages, float64(pages*page)/1e6, fill)
		}
		hwm := tx.Size() // bbolt's high-water mark: pages in use or free
		fmt.Printf("other pages (meta, free list, bucket roots) and free pages below the high-water mark: %.1f MB\n", float64(hwm-used*page)/1e6)
		fmt.Printf("growth step beyond the high-water mark: %.1f MB\n", float64(fi.Size()-hwm)/1e6)
		fmt.Printf("file: %.1f MB\n", float64(fi.Size())/1e6)
		return nil
	})
}
