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
		for _, b := range []struct {
			name []byte
			fill float64
			// idAt returns where the ID begins in a v1 key of the bucket.
			idAt func(k []byte) int
		}{
			{bucketRecords, fillRecords, func(k []byte) int { return tsLen }},
			{bucketByID, fillIndex, func(k []byte) int { return 0 }},
			{bucketByNumber, fillNumber, termIDAt},
			{bucketByConversation, fillIndex, termIDAt},
		} {
			bk := root.Bucket(b.name)
			if bk == nil {
				return &CorruptionError{Workspace: string(ws), Bucket: string(b.name), Err: errors.New("missing")}
			}
			bk.FillPercent = b.fill
			type move struct{ from, to, v []byte }
			var moves []move
			c := bk.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				at := b.idAt(k)
				if at < 0 || at >= len(k) {
					return &CorruptionError{Workspace: string(ws), Bucket: string(b.name), Key: describeKey(string(b.name), k), Err: errors.New("key without an ID")}
				}
				id := string(k[at:])
				if idForm(id) == 0 {
					continue
				}
				to := appendID(append(make([]byte, 0, at+18), k[:at]...), id)
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

// termIDAt returns where the ID begins in a by_number or by_conversation
// key (term · 0x00 · started_at · id), or -1.
func termIDAt(k []byte) int {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return -1
	}
	return i + 1 + tsLen
}
