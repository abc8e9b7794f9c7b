package cdrstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The subject index keeps a record findable by a number it no longer
// holds (a redaction obfuscated or removed it) for as long as the record
// holds content: ByNumber finds it through the keyed HMAC of the number,
// never the number itself. A record whose numbers and content are both
// gone is no longer linked.
//
// by_subject key (format v3; value empty):
//
//	┌─────────────────────────────┬──────────────────────┬────┐
//	│ HMAC-SHA256(number) (32)    │ started_at u64be (8) │ id │
//	└─────────────────────────────┴──────────────────────┴────┘
//
// subject_of key (format v3): the records key; value: the HMACs the
// record is linked by, 32 bytes each (one or two), in byte order. It is
// the way back from a record to its by_subject entries.
//
// Both buckets are created by the first record linked in a workspace.

const macLen = sha256.Size

// numberMarks are the redaction marks that say a number left the record.
const numberMarks = FieldFrom | FieldTo | FieldFromObfuscated | FieldToObfuscated

// LostNumber reports whether the marks say a redaction removed or
// obfuscated one of the record's numbers.
func (r Redaction) LostNumber() bool { return r.Fields&numberMarks != 0 }

// holdsContent reports whether r holds content that no redaction mark
// says is gone: a body, transcript, recording or media reference.
func (r *Record) holdsContent() bool {
	f := r.Redacted.Fields
	return (r.Body != "" && !f.Has(FieldBody)) ||
		(len(r.Transcript) > 0 && !f.Has(FieldTranscript)) ||
		(r.RecordingURL != "" && !f.Has(FieldRecording)) ||
		(len(r.Media) > 0 && !f.Has(FieldMedia))
}

// linked returns the HMACs w's subject_of keeps for the records key k.
func (w *wsBuckets) linked(k []byte) ([][]byte, error) {
	b := w.root.Bucket(bucketSubjectOf)
	if b == nil {
		return nil, nil
	}
	v := b.Get(k)
	if v == nil {
		return nil, nil
	}
	if len(v) == 0 || len(v)%macLen != 0 {
		return nil, w.corrupt(bucketSubjectOf, k, fmt.Errorf("value of %d bytes", len(v)))
	}
	var out [][]byte
	for i := 0; i < len(v); i += macLen {
		out = append(out, v[i:i+macLen:i+macLen])
	}
	return out, nil
}

// relink brings the subject index in line after r replaced old (stored
// under oldKey; hadOld false for a new record) under key; in is the record
// as the caller gave it, before the write hook changed it. A number old or
// in held and r lost to a redaction mark joins the record's links; the
// links stay while r holds content and go with it. A record that never
// lost a number costs nothing here.
func (tx *Tx) relink(w *wsBuckets, hadOld bool, old *Record, oldKey []byte, in, r *Record, key []byte) error {
	if (old.Redacted.Fields|r.Redacted.Fields)&numberMarks == 0 {
		return nil
	}
	var prev [][]byte
	if hadOld {
		var err error
		if prev, err = w.linked(oldKey); err != nil {
			return err
		}
	}
	var next [][]byte
	if r.holdsContent() {
		next = append(next, prev...)
		if r.Redacted.Fields&numberMarks != 0 {
			for _, n := range append(old.Numbers(), in.Numbers()...) {
				if !r.HasNumber(n) {
					h := tx.s.SubjectHMAC(n.String())
					if !containsMAC(next, h) {
						next = append(next, h)
					}
				}
			}
		}
	}
	if hadOld && bytes.Equal(oldKey, key) && sameMACs(prev, next) {
		return nil
	}
	if err := w.unlink(oldKey, prev); err != nil {
		return err
	}
	return tx.link(w, key, next)
}

// unlink removes the links macs of the record under key.
func (w *wsBuckets) unlink(key []byte, macs [][]byte) error {
	if len(macs) == 0 {
		return nil
	}
	by := w.root.Bucket(bucketBySubject)
	of := w.root.Bucket(bucketSubjectOf)
	if by == nil || of == nil {
		return w.corrupt(bucketSubjectOf, key, errors.New("links without their buckets"))
	}
	for _, h := range macs {
		if err := by.Delete(append(append(make([]byte, 0, macLen+len(key)), h...), key...)); err != nil {
			return err
		}
	}
	return of.Delete(key)
}

// link links the record under key by macs.
func (tx *Tx) link(w *wsBuckets, key []byte, macs [][]byte) error {
	if len(macs) == 0 {
		return nil
	}
	by, err := w.root.CreateBucketIfNotExists(bucketBySubject)
	if err != nil {
		return err
	}
	of, err := w.root.CreateBucketIfNotExists(bucketSubjectOf)
	if err != nil {
		return err
	}
	sortMACs(macs)
	v := tx.alloc(len(macs) * macLen)
	for _, h := range macs {
		k := append(append(tx.alloc(macLen+len(key)), h...), key...)
		if err := by.Put(k, nil); err != nil {
			return err
		}
		v = append(v, h...)
	}
	return of.Put(append(tx.alloc(len(key)), key...), v)
}

// removeLinks drops the links of the records under keys (being removed):
// only those whose redaction marks say they lost a number can have any.
func (w *wsBuckets) removeLinks(r *Record, key []byte) error {
	if r.Redacted.Fields&numberMarks == 0 {
		return nil
	}
	macs, err := w.linked(key)
	if err != nil {
		return err
	}
	return w.unlink(key, macs)
}

func containsMAC(macs [][]byte, h []byte) bool {
	for _, m := range macs {
		if bytes.Equal(m, h) {
			return true
		}
	}
	return false
}

func sameMACs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for _, h := range a {
		if !containsMAC(b, h) {
			return false
		}
	}
	return true
}

func sortMACs(macs [][]byte) {
	if len(macs) == 2 && bytes.Compare(macs[0], macs[1]) > 0 {
		macs[0], macs[1] = macs[1], macs[0]
	}
}

// checkSubjects checks the subject index of w: every subject_of entry
// names a stored record that holds content, and has exactly its
// by_subject entries.
func (c *checker) checkSubjects(w *wsBuckets) error {
	by := w.root.Bucket(bucketBySubject)
	of := w.root.Bucket(bucketSubjectOf)
	if by == nil && of == nil {
		return nil
	}
	if by == nil || of == nil {
		c.add(&CorruptionError{Workspace: w.name, Bucket: string(bucketSubjectOf), Err: errors.New("one of by_subject and subject_of is missing")})
		return nil
	}
	want := 0
	cur := of.Cursor()
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		macs, err := w.linked(k)
		if err != nil {
			c.add(err)
			continue
		}
		want += len(macs)
		v := w.records.Get(k)
		var r Record
		switch {
		case v == nil:
			c.add(w.corrupt(bucketSubjectOf, k, errors.New("links a missing record")))
			continue
		case decodeRecord(w.name, k, v, &r) != nil:
			continue // reported by the records walk
		case !r.holdsContent():
			c.add(w.corrupt(bucketSubjectOf, k, errors.New("links a record that holds no content")))
		}
		for _, h := range macs {
			if !hasKey(by, append(append([]byte(nil), h...), k...)) {
				c.add(w.corrupt(bucketSubjectOf, k, errors.New("a link has no by_subject entry")))
			}
		}
	}
	n := 0
	bc := by.Cursor()
	for k, _ := bc.First(); k != nil; k, _ = bc.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		n++
		if len(k) <= macLen+tsLen {
			c.add(w.corrupt(bucketBySubject, k, errors.New("short key")))
		}
	}
	if n != want {
		c.add(&CorruptionError{Workspace: w.name, Bucket: string(bucketBySubject), Err: fmt.Errorf("%d entries, subject_of expects %d", n, want)})
	}
	return nil
}

// subjectBucket returns w's by_subject bucket, or nil when no record of
// w was ever linked.
func (w *wsBuckets) subjectBucket() *bolt.Bucket { return w.root.Bucket(bucketBySubject) }

// Links returns the keyed HMACs (Store.SubjectHMAC) of the numbers the
// stored record r lost to a redaction while it kept content: those
// ByNumber still finds it by. A record whose redaction marks say it lost
// no number has none, and costs no read.
func (tx *Tx) Links(r *Record) ([][]byte, error) {
	if r.Redacted.Fields&numberMarks == 0 {
		return nil, nil
	}
	w, err := tx.workspace(r.Workspace, false, needNone)
	if err != nil || w == nil {
		return nil, err
	}
	macs, err := w.linked(appendRecordKey(nil, encodeTime(r.StartedAt), r.ID))
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(macs))
	for i, h := range macs {
		out[i] = bytes.Clone(h)
	}
	return out, nil
}
