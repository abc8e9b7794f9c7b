package cdrstore

import (
	"bytes"
	"regexp"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/e164"
	bolt "go.etcd.io/bbolt"
)

// requests key (format v3): the keyed HMAC of the request ID, 32 bytes,
// so that the bucket holds no caller-chosen string (callers put phone
// numbers in their idempotency keys). Format v2 kept the ID as is.
func requestKey(subjectKey []byte, id string) []byte {
	return audit.SubjectHMAC(subjectKey, "request-id\x00"+id)
}

// RequestKey returns the key under which the workspace's requests bucket
// keeps request ID id: its keyed HMAC (format v3). The same ID always
// gives the same key, so a replay finds its first result.
func (tx *Tx) RequestKey(id string) []byte { return requestKey(tx.s.subjectKey, id) }

// plaintextNumber matches what may be a phone number in stored bytes: a
// '+' and 7 to 15 digits.
var plaintextNumber = regexp.MustCompile(`\+[0-9]{7,15}`)

// maskNumbers returns v with every run that may be a phone number masked
// (e164.Mask, same length: "+2348031234567" becomes "+234803123XXXX").
func maskNumbers(v []byte) []byte {
	return plaintextNumber.ReplaceAllFunc(v, func(n []byte) []byte { return []byte(e164.Mask(string(n))) })
}

// migrateRequestKeys is a format v3 step: each workspace's requests bucket
// is keyed by the HMAC of the request ID instead of the ID, and a stored
// result that holds what may be a phone number has it masked.
func migrateRequestKeys(m *migration, ws []byte, root *bolt.Bucket) error {
	b := root.Bucket([]byte(BucketRequests))
	if b == nil {
		return nil
	}
	type kv struct{ k, v []byte }
	var all []kv
	if err := b.ForEach(func(k, v []byte) error {
		all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, e := range all {
		if err := b.Delete(e.k); err != nil {
			return err
		}
	}
	for _, e := range all {
		if err := b.Put(requestKey(m.subjectKey, string(e.k)), maskNumbers(e.v)); err != nil {
			return err
		}
	}
	return nil
}
