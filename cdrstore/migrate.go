package cdrstore

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migratePackIDs upgrades format v1 to v2: every key that ends in a record
// ID whose form packs (see appendID) is rewritten with the packed ID. It
// runs inside Open's write transaction, so a crash leaves the store in v1
// and the next open starts again. It holds a copy of every rewritten key
// and value until it writes them back: memory in proportion to the store,
// once.
func migratePackIDs(btx *bolt.Tx) error {
	top := btx.Bucket(bucketWS)
	if top == nil {
		return &CorruptionError{Bucket: string(bucketWS), Err: errors.New("missing")}
	}
	return top.ForEachBucket(func(ws []byte) error {
		root := top.Bucket(ws)
		for _, b := range coreBuckets {
			idAt := idStart(b.name)
			if idAt == nil {
				continue // audit: no record IDs in its keys
			}
			bk := root.Bucket(b.name)
			if bk == nil {
				return &CorruptionError{Workspace: string(ws), Bucket: string(b.name), Err: errors.New("missing")}
			}
			bk.FillPercent = b.fill
			type move struct{ from, to, v []byte }
			var moves []move
			c := bk.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				at := idAt(k)
				if at < 0 || at >= len(k) {
					return &CorruptionError{Workspace: string(ws), Bucket: string(b.name), Key: describeKey(string(b.name), k), Err: errors.New("key without an ID")}
				}
				id := string(k[at:])
				if idForm(id) == 0 {
					continue
				}
				to := appendID(append(make([]byte, 0, at+2+MaxIDLen/2), k[:at]...), id)
				moves = append(moves, move{from: bytes.Clone(k), to: to, v: bytes.Clone(v)})
			}
			for _, m := range moves {
				if err := bk.Delete(m.from); err != nil {
					return err
				}
				if err := bk.Put(m.to, m.v); err != nil {
					return fmt.Errorf("workspace %q %s: %w", ws, b.name, err)
				}
			}
		}
		return nil
	})
}

// idStart returns, for a bucket whose keys end in a record ID, where the
// ID begins in a key; nil for any other bucket.
func idStart(bucket []byte) func(k []byte) int {
	switch string(bucket) {
	case string(bucketRecords):
		return func([]byte) int { return tsLen }
	case string(bucketByID):
		return func([]byte) int { return 0 }
	case string(bucketByNumber), string(bucketByConversation):
		return termIDAt
	}
	return nil
}

// termIDAt returns where the ID begins in a by_number or by_conversation
// key (term · 0x00 · started_at · id), or -1.
func termIDAt(k []byte) int {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return -1
	}
	return i + 1 + tsLen
}
