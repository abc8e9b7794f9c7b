package cdrstore

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Dump writes every bucket, key and value of the store to w in key order,
// one line per key (values in hex): a logical image of the store that does
// not depend on page layout. Two stores with equal dumps hold the same
// data. The dump holds every personal datum in the store; it is meant for
// tests and debugging on data you own.
func (s *Store) Dump(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := s.View(func(tx *Tx) error {
		return tx.btx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return dumpBucket(bw, string(name), b)
		})
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

func dumpBucket(w io.Writer, path string, b *bolt.Bucket) error {
	fmt.Fprintf(w, "%s/ seq=%d\n", path, b.Sequence())
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				return dumpBucket(w, path+"/"+string(k), sub)
			}
		}
		_, err := fmt.Fprintf(w, "%s %s=%s\n", path, hex.EncodeToString(k), hex.EncodeToString(v))
		return err
	})
}
