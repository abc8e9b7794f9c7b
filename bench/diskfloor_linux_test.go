package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// BenchmarkDiskFloor is what one fdatasync costs after writing pages of
// 4 KB into a 64 MB file in the temporary directory (set TMPDIR to the
// disk under test), either in one contiguous run (as SQLite appends frames
// to its WAL) or each at a random offset (as bbolt writes the pages a
// commit copied wherever its free list had room). A redaction in a
// cdrvault store of 1,000,000 records writes 14 runs (README.md); the
// number of runs, more than the number of fsyncs, is what it pays for.
func BenchmarkDiskFloor(b *testing.B) {
	const fileSize, pageSize = 64 << 20, 4096
	path := filepath.Join(b.TempDir(), "floor.dat")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for off := int64(0); off < fileSize; off += int64(len(chunk)) {
		if _, err := f.WriteAt(chunk, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	page := make([]byte, pageSize)
	rng := rand.New(rand.NewPCG(5, 5))
	const pages = fileSize / pageSize
	for _, n := range []int{1, 4, 16, 64, 256} {
		for _, layout := range []string{"contiguous", "scattered"} {
			if n == 1 && layout == "scattered" {
				continue // one page is one run either way
			}
			b.Run(fmt.Sprintf("pages=%d/layout=%s", n, layout), func(b *testing.B) {
				offs := make([]int64, n)
				for b.Loop() {
					base := rng.Int64N(pages - int64(n))
					for i := range offs {
						if layout == "contiguous" {
							offs[i] = (base + int64(i)) * pageSize
						} else {
							offs[i] = rng.Int64N(pages) * pageSize
						}
					}
					slices.Sort(offs) // bbolt writes in page order too
					for _, off := range offs {
						if _, err := f.WriteAt(page, off); err != nil {
							b.Fatal(err)
						}
					}
					if err := syscall.Fdatasync(int(f.Fd())); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
