package cdrstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/cdrvault/cdrvault/audit"
	bolt "go.etcd.io/bbolt"
)

// maxCheckProblems bounds how many problems Check reports.
const maxCheckProblems = 20

// Check verifies the whole store: every workspace name is valid (see
// ValidateWorkspace), every record decodes, every record is fully indexed
// (by_id, by_number for each of its numbers, by_conversation), every index
// entry points at a record that carries it, and every workspace's audit
// chain verifies. It returns nil, or up to 20 problems
// joined, each matching ErrCorrupt (or audit.ErrChainBroken). It checks ctx
// every 128 records and returns ctx.Err() wrapped when cancelled.
func (s *Store) Check(ctx context.Context) error {
	// A damaged page (bbolt panics on it) is a problem Check reports, as
	// View returns it.
	return s.View(func(tx *Tx) error {
		c := checker{ctx: ctx}
		for _, ws := range tx.Workspaces() {
			w, err := tx.workspace(ws, false, needAll)
			if err != nil {
				c.add(err)
				continue
			}
			for _, n := range auxBuckets {
				if _, err := w.auxBucket(n); err != nil {
					c.add(err)
				}
			}
			if err := c.workspace(w); err != nil {
				return err
			}
			if _, err := audit.Verify(ctx, w.audit); err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("cdrstore: check: %w", ctx.Err())
				}
				c.add(fmt.Errorf("cdrstore: workspace %q audit: %w", ws, err))
			}
		}
		return errors.Join(c.problems...)
	})
}

type checker struct {
	ctx      context.Context
	n        int
	problems []error
}

func (c *checker) add(err error) {
	if len(c.problems) < maxCheckProblems {
		c.problems = append(c.problems, err)
	}
}

func (c *checker) tick() error {
	if c.n++; c.n%128 == 0 {
		if err := c.ctx.Err(); err != nil {
			return fmt.Errorf("cdrstore: check: %w", err)
		}
	}
	return nil
}

// workspace checks one workspace. Records are walked once, looking up each
// index entry they should have; then each index is walked counting its
// entries (and checking that each points at a record). Equal counts and no
// missing entry mean the index holds exactly the expected entries; only
// when counts differ is the index walked again, decoding records, to name
// the entry that does not belong.
func (c *checker) workspace(w *wsBuckets) error {
	var nRecords, nNumbers, nConv int
	rc := w.records.Cursor()
	var r Record
	for k, v := rc.First(); k != nil; k, v = rc.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		nRecords++
		r = Record{}
		if err := decodeRecord(w.name, k, v, &r); err != nil {
			c.add(w.corrupt(bucketRecords, k, err))
			continue
		}
		ts := beUint64(k)
		if tv := w.byID.Get(k[tsLen:]); tv == nil {
			c.add(w.corrupt(bucketRecords, k, errors.New("no by_id entry")))
		} else if got, err := decodeByIDValue(tv); err != nil || got != ts {
			c.add(w.corrupt(bucketByID, k[tsLen:], errors.New("points at another started_at")))
		}
		for _, n := range r.Numbers() {
			nNumbers++
			if k2 := appendIndexKey(nil, n.String(), k); !hasKey(w.byNum, k2) {
				c.add(w.corrupt(bucketRecords, k, errors.New("a number of the record has no by_number entry")))
			}
		}
		if r.ConversationID != "" {
			nConv++
			if k2 := appendIndexKey(nil, r.ConversationID, k); !hasKey(w.byConv, k2) {
				c.add(w.corrupt(bucketRecords, k, errors.New("no by_conversation entry")))
			}
		}
	}

	n := 0
	ic := w.byID.Cursor()
	for k, v := ic.First(); k != nil; k, v = ic.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		n++
		ts, err := decodeByIDValue(v)
		if err == nil {
			_, err = decodeID(k)
		}
		if err != nil {
			c.add(w.corrupt(bucketByID, k, errors.New("malformed entry")))
			continue
		}
		if w.records.Get(recordKeyOf(ts, k)) == nil {
			c.add(w.corrupt(bucketByID, k, errors.New("points at a missing record")))
		}
	}
	if n != nRecords {
		c.add(&CorruptionError{Workspace: w.name, Bucket: string(bucketByID), Err: fmt.Errorf("%d entries for %d records", n, nRecords)})
	}
	for _, idx := range []struct {
		b      *bolt.Bucket
		name   []byte
		want   int
		member func(r *Record, term string) bool
	}{
		{w.byNum, bucketByNumber, nNumbers, func(r *Record, term string) bool {
			return (r.From.IsValid() && r.From.String() == term) || (r.To.IsValid() && r.To.String() == term)
		}},
		{w.byConv, bucketByConversation, nConv, func(r *Record, term string) bool { return r.ConversationID == term }},
	} {
		if err := c.index(w, idx.b, idx.name, idx.want, idx.member); err != nil {
			return err
		}
	}
	if err := c.checkSubjects(w); err != nil {
		return err
	}
	return c.checkTombstones(w)
}

func hasKey(b *bolt.Bucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return got != nil && string(got) == string(k)
}

// index walks an index bucket, checking that each entry points at an
// existing record, and compares the count with want; on a mismatch it
// walks again decoding each record to name the entries that do not belong.
func (c *checker) index(w *wsBuckets, b *bolt.Bucket, name []byte, want int, member func(*Record, string) bool) error {
	n := 0
	cur := b.Cursor()
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		n++
		_, rk, err := decodeTermKey(k)
		if err != nil {
			c.add(w.corrupt(name, k, err))
			continue
		}
		if w.records.Get(rk) == nil {
			c.add(w.corrupt(name, k, errors.New("points at a missing record")))
		}
	}
	if n == want {
		return nil
	}
	c.add(&CorruptionError{Workspace: w.name, Bucket: string(name), Err: fmt.Errorf("%d entries, records expect %d", n, want)})
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		term, rk, err := decodeTermKey(k)
		if err != nil {
			continue
		}
		v := w.records.Get(rk)
		var r Record
		if v == nil || decodeRecord(w.name, rk, v, &r) != nil {
			continue
		}
		if !member(&r, term) {
			c.add(w.corrupt(name, k, errors.New("the record does not carry this entry")))
		}
	}
	return nil
}
