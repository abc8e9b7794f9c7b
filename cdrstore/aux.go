package cdrstore

import (
	"bytes"
	"fmt"
	"iter"

	bolt "go.etcd.io/bbolt"
)

// Bucket returns the auxiliary bucket name of workspace ws. It creates
// nothing: in a write transaction a workspace that does not exist is a
// *NoWorkspaceError (matching ErrNotFound); in a read transaction it gives
// an empty KV.
func (tx *Tx) Bucket(ws string, name Name) (*KV, error) {
	if !name.valid() {
		return nil, fmt.Errorf("cdrstore: unknown bucket %q", name)
	}
	w, err := tx.workspace(ws, false, needNone)
	if err != nil {
		return nil, err
	}
	kv := &KV{tx: tx, name: name}
	if w == nil && tx.btx.Writable() {
		return nil, &NoWorkspaceError{Workspace: ws}
	}
	if w != nil {
		if kv.b, err = w.auxBucket(name); err != nil {
			return nil, err
		}
	}
	return kv, nil
}

// KV is a workspace's auxiliary bucket (settings, opt-outs, holds, outbox,
// request IDs, credentials). Values it returns are copies. Like its Tx, a
// KV is not safe for concurrent use.
type KV struct {
	tx   *Tx
	name Name
	b    *bolt.Bucket // nil: the workspace does not exist (read tx)
}

// Get returns a copy of the value of k, or nil.
func (kv *KV) Get(k []byte) []byte {
	if kv.b == nil {
		return nil
	}
	return bytes.Clone(kv.b.Get(k))
}

// Put sets k to v.
func (kv *KV) Put(k, v []byte) error {
	if kv.b == nil || !kv.tx.btx.Writable() {
		return ErrReadOnly
	}
	kv.tx.writes++
	kc := append(kv.tx.alloc(len(k)), k...)
	vc := append(kv.tx.alloc(len(v)), v...)
	if err := kv.b.Put(kc, vc); err != nil {
		return fmt.Errorf("cdrstore: put %s: %w", kv.name, err)
	}
	return nil
}

// Delete removes k; a missing key is not an error.
func (kv *KV) Delete(k []byte) error {
	if kv.b == nil || !kv.tx.btx.Writable() {
		return ErrReadOnly
	}
	kv.tx.writes++
	return kv.b.Delete(k)
}

// NextSequence returns the bucket's next sequence number, starting at 1.
func (kv *KV) NextSequence() (uint64, error) {
	if kv.b == nil || !kv.tx.btx.Writable() {
		return 0, ErrReadOnly
	}
	kv.tx.writes++
	return kv.b.NextSequence()
}

// Scan yields copies of the keys and values that start with prefix, in
// key order, starting at the first key ≥ start (start may be nil).
func (kv *KV) Scan(prefix, start []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		if kv.b == nil {
			return
		}
		seek := prefix
		if bytes.Compare(start, prefix) > 0 {
			seek = start
		}
		c := kv.b.Cursor()
		for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if !yield(bytes.Clone(k), bytes.Clone(v)) {
				return
			}
		}
	}
}

// Len returns the number of keys in the bucket. It walks the bucket.
func (kv *KV) Len() int {
	if kv.b == nil {
		return 0
	}
	return kv.b.Stats().KeyN
}

// Count returns the number of records of workspace ws (0 if it does not
// exist). It reads the by_id index's page statistics, walking its pages.
func (tx *Tx) Count(ws string) (int, error) {
	w, err := tx.workspace(ws, false, needByID)
	if err != nil || w == nil {
		return 0, err
	}
	return w.byID.Stats().KeyN, nil
}
