package cdrstore

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migration is what a migration works with: the open's write transaction
// (every migration from the file's format to the newest runs in it, so a
// crash or an error leaves the file as it was) and the store's subject
// key, for steps that must key what they write (HMACs).
type migration struct {
	btx        *bolt.Tx
	subjectKey []byte
}

// migrationStep is one change a format version brings. store runs once;
// workspace runs for each workspace, with its bucket. Either may be nil.
type migrationStep struct {
	name      string
	store     func(m *migration) error
	workspace func(m *migration, ws []byte, root *bolt.Bucket) error
}

// v3Steps are the changes of format v3 that rewrite stored data, in order.
//
// Codec v2 (short codes and sender IDs in From and To) needs none: codec
// v1 values stay as they are, and the format number alone keeps older
// code, which cannot read codec v2, from opening the file. Later changes
// of v3 (buckets created in each workspace, values rewritten) go here as
// steps, so that one v2 -> v3 migration in one transaction makes all of
// them.
var v3Steps = []migrationStep{
	{name: "requests keyed by the HMAC of the request ID", workspace: migrateRequestKeys},
}

// migrateV3 upgrades format v2 to v3 by running v3Steps: each step's store
// function, then its workspace function in every workspace. An error names
// the step and rolls everything back.
func migrateV3(m *migration) error {
	return runSteps(m, v3Steps)
}

func runSteps(m *migration, steps []migrationStep) error {
	top := m.btx.Bucket(bucketWS)
	if top == nil {
		return &CorruptionError{Bucket: string(bucketWS), Err: errors.New("missing")}
	}
	for _, st := range steps {
		if st.store != nil {
			if err := st.store(m); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
		}
		if st.workspace == nil {
			continue
		}
		err := top.ForEachBucket(func(ws []byte) error {
			return st.workspace(m, ws, top.Bucket(ws))
		})
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

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
