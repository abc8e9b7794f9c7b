package cdrstore

import (
	"fmt"
	"io"
	"os"
)

// checkFileSize refuses a file shorter than its newest valid meta page
// says it is: bbolt would map it and fault on the missing pages (a panic,
// not an error). Files that are empty or have no valid meta are left to
// bbolt, which reports them.
func checkFileSize(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bbolt creates or reports it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil
	}
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	m0, ok0 := readBoltMeta(head[:n])
	var m1 boltMeta
	ok1 := false
	if ok0 && m0.pageSize >= 512 && m0.pageSize <= 1<<16 {
		page := make([]byte, m0.pageSize)
		if n, _ := f.ReadAt(page, int64(m0.pageSize)); n == len(page) {
			m1, ok1 = readBoltMeta(page)
		}
	} else if !ok0 {
		// The first meta page is damaged: bbolt looks for the second at
		// each page size from 1 KB to 16 MB, and so does this check.
		for ps := int64(1024); ps <= 16<<20 && ps < fi.Size(); ps <<= 1 {
			n, _ := f.ReadAt(head, ps)
			if m, ok := readBoltMeta(head[:n]); ok && int64(m.pageSize) == ps {
				m1, ok1 = m, true
				break
			}
		}
	}
	m := m0
	switch {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0 && ok1:
		m = m1
	case !ok0 && !ok1:
		return nil
	}
	if want := int64(m.pgid) * int64(m.pageSize); fi.Size() < want {
		return &CorruptionError{Bucket: "(file)", Err: fmt.Errorf("truncated: %d bytes, the last commit needs %d", fi.Size(), want)}
	}
	return nil
}
