package cdrstore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/cdrvault/cdrvault/e164"
	bolt "go.etcd.io/bbolt"
)

// Term says which part of a record a tombstone matches: a record matches a
// tombstone of term TermID when the keyed HMAC of its ID is the
// tombstone's subject, and so on. It is part of the format.
type Term uint8

// Terms of tombstones (format v3).
const (
	TermID           Term = 1 // the record's ID
	TermNumber       Term = 2 // either of the record's numbers (From, To)
	TermConversation Term = 3 // the record's conversation ID
)

func (t Term) valid() bool { return t >= TermID && t <= TermConversation }

// Tombstone is what an erasure leaves behind so that a record it covers
// cannot be stored whole later: a CDR that started before the erasure and
// arrives after it, or one delivered again. cdrstore keeps tombstones and
// finds those a record matches; what a match does to the record is the
// WriteHook's business, named by Kind.
type Tombstone struct {
	Term    Term
	Kind    byte   // what the erasure was; cdrstore only stores it (not 0)
	Subject []byte // the keyed HMAC (Store.SubjectHMAC) of the ID, number or conversation ID, 32 bytes
	// At is when the erasure was issued: the tombstone covers the records
	// that started before it.
	At time.Time
}

// Verdict is what a WriteFilter decides for a record about to be stored.
type Verdict uint8

// Verdicts.
const (
	Keep    Verdict = iota // store the record as it is
	Changed                // store the record, which the filter changed
	Drop                   // do not store it (and remove a stored one of that ID)
	Expire                 // do not store it: past retention (and remove a stored one)
)

// Match is what a WriteFilter learns about a record about to be stored.
type Match struct {
	// Tombstones are the tombstones the record matches that cover it
	// (it started before their At); nil when none does.
	Tombstones []Tombstone
	// Stored is set when a record of the same workspace and ID is stored:
	// the record handed to the filter is already merged with it (a
	// replace never undoes a redaction).
	Stored bool
}

// WriteHook lets a package above cdrstore decide, inside cdrstore's write
// paths (Tx.Put, Store.Put, PutBatch, PutGrouped), what becomes of each
// record before it is stored. cdrstore applies it without knowing why: it
// only finds the tombstones a record matches. Install it with
// [Store.SetWriteHook]; a store holding tombstones refuses writes while
// none is installed (ErrNoWriteHook).
type WriteHook interface {
	// Begin is called in a write transaction before its first record is
	// stored and returns the filter of that transaction.
	Begin(tx *Tx) (WriteFilter, error)
}

// WriteFilter sees the records of one write transaction.
type WriteFilter interface {
	// Filter is called for each record about to be stored. It may change
	// *r (replacing slices, never writing into them) and returns Changed
	// when it did; Drop and Expire keep the record out of the store.
	Filter(r *Record, m Match) (Verdict, error)
	// Finish is called once, before the transaction commits, when Begin
	// was called.
	Finish() error
}

// WriteResult says what the write hook did to the records of one write.
type WriteResult struct {
	Stored  int `json:"stored"`            // records stored, changed or not
	Changed int `json:"changed,omitempty"` // of them, stored changed (erased) by the hook
	Dropped int `json:"dropped,omitempty"` // not stored: an erasure covered them
	Expired int `json:"expired,omitempty"` // not stored: past retention
}

func (w *WriteResult) add(v Verdict) {
	switch v {
	case Keep:
		w.Stored++
	case Changed:
		w.Stored++
		w.Changed++
	case Drop:
		w.Dropped++
	case Expire:
		w.Expired++
	}
}

// SetWriteHook installs h (nil removes it) on every write path of s. It is
// safe to call concurrently with transactions: each write transaction
// uses the hook installed when it stores its first record.
func (s *Store) SetWriteHook(h WriteHook) {
	s.tombs.mu.Lock()
	s.tombs.hook = h
	s.tombs.mu.Unlock()
}

// tombSet is the store's in-memory image of its tombstones: per workspace,
// the set of (term, subject) pairs stored, so that a write learns without
// a read whether a record can match one. It may hold more than the file
// (a rolled-back transaction's tombstones), never less: a hit is confirmed
// by reading the bucket.
type tombSet struct {
	mu   sync.RWMutex
	hook WriteHook
	ws   map[string]*wsTombs
	n    int // pairs in every workspace
}

type wsTombs struct {
	terms [TermConversation + 1]int // pairs per term
	set   map[tombMemKey]struct{}
}

type tombMemKey [1 + sha256.Size]byte

func memKey(t Term, subject []byte) (k tombMemKey) {
	k[0] = byte(t)
	copy(k[1:], subject)
	return k
}

func (ts *tombSet) add(ws string, t Term, subject []byte) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.ws == nil {
		ts.ws = map[string]*wsTombs{}
	}
	w := ts.ws[ws]
	if w == nil {
		w = &wsTombs{set: map[tombMemKey]struct{}{}}
		ts.ws[ws] = w
	}
	k := memKey(t, subject)
	if _, ok := w.set[k]; !ok {
		w.set[k] = struct{}{}
		w.terms[t]++
		ts.n++
	}
}

func (ts *tombSet) remove(ws string, t Term, subject []byte) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	w := ts.ws[ws]
	if w == nil {
		return
	}
	k := memKey(t, subject)
	if _, ok := w.set[k]; ok {
		delete(w.set, k)
		w.terms[t]--
		ts.n--
	}
}

// state returns the hook and whether any tombstone is stored.
func (ts *tombSet) state() (WriteHook, bool) {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	return ts.hook, ts.n > 0
}

// lookup reports whether (t, subject) may be stored in ws.
func (ts *tombSet) lookup(ws string, t Term, subject []byte) bool {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	w := ts.ws[ws]
	if w == nil || w.terms[t] == 0 {
		return false
	}
	_, ok := w.set[memKey(t, subject)]
	return ok
}

// terms returns the pair counts per term of ws.
func (ts *tombSet) terms(ws string) [TermConversation + 1]int {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	if w := ts.ws[ws]; w != nil {
		return w.terms
	}
	return [TermConversation + 1]int{}
}

// loadTombstones fills the in-memory set from the file (at Open).
func (s *Store) loadTombstones(btx *bolt.Tx) error {
	top := btx.Bucket(bucketWS)
	if top == nil {
		return nil
	}
	return top.ForEachBucket(func(name []byte) error {
		b := top.Bucket(name).Bucket(bucketTombstones)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			t, err := decodeTombstone(k, v)
			if err != nil {
				return &CorruptionError{Workspace: string(name), Bucket: string(bucketTombstones), Key: describeKey(string(bucketTombstones), k), Err: err}
			}
			s.tombs.add(string(name), t.Term, t.Subject)
			return nil
		})
	})
}

// tombstones key (format v3):
//
//	┌─────────┬──────────────────────┬─────────┐
//	│ term u8 │ subject HMAC (32)    │ kind u8 │
//	└─────────┴──────────────────────┴─────────┘
//
// value: issued at, u64be Unix nanoseconds (8).
func appendTombstoneKey(dst []byte, t Term, subject []byte, kind byte) []byte {
	dst = append(dst, byte(t))
	dst = append(dst, subject...)
	return append(dst, kind)
}

const tombKeyLen = 1 + sha256.Size + 1

func decodeTombstone(k, v []byte) (Tombstone, error) {
	if len(k) != tombKeyLen {
		return Tombstone{}, fmt.Errorf("tombstone key of %d bytes", len(k))
	}
	if t := Term(k[0]); !t.valid() {
		return Tombstone{}, fmt.Errorf("tombstone term %d", k[0])
	}
	if k[tombKeyLen-1] == 0 {
		return Tombstone{}, errors.New("tombstone kind 0")
	}
	if len(v) != tsLen {
		return Tombstone{}, fmt.Errorf("tombstone value of %d bytes", len(v))
	}
	at := binary.BigEndian.Uint64(v)
	if at == 0 || at > 1<<63-1 {
		return Tombstone{}, fmt.Errorf("tombstone time %d", at)
	}
	return Tombstone{Term: Term(k[0]), Subject: bytes.Clone(k[1 : 1+sha256.Size]), Kind: k[tombKeyLen-1], At: decodeTime(at)}, nil
}

// PutTombstone stores t in workspace ws. When a tombstone of the same
// term, subject and kind is stored, the later At wins. It returns an
// error matching ErrNotFound when ws does not exist (see
// [Tx.CreateWorkspace]), ErrInvalidRecord when t is malformed and
// ErrReadOnly in a read-only transaction.
func (tx *Tx) PutTombstone(ws string, t Tombstone) error {
	switch {
	case !t.Term.valid():
		return &ValidationError{Field: "tombstone", Reason: "unknown term"}
	case t.Kind == 0:
		return &ValidationError{Field: "tombstone", Reason: "kind 0"}
	case len(t.Subject) != sha256.Size:
		return &ValidationError{Field: "tombstone", Reason: fmt.Sprintf("subject of %d bytes, want %d", len(t.Subject), sha256.Size)}
	}
	if err := validateTime("tombstone.at", t.At, true); err != nil {
		return err
	}
	if !tx.btx.Writable() {
		return ErrReadOnly
	}
	w, err := tx.workspace(ws, false, needNone)
	if err != nil {
		return err
	}
	if w == nil {
		return fmt.Errorf("cdrstore: tombstone in workspace %q: %w", ws, ErrNotFound)
	}
	key := appendTombstoneKey(tx.alloc(tombKeyLen), t.Term, t.Subject, t.Kind)
	at := encodeTime(t.At)
	b := w.root.Bucket(bucketTombstones)
	if b != nil {
		if old := b.Get(key); len(old) == tsLen && binary.BigEndian.Uint64(old) >= at {
			return nil // a later one is kept: nothing to write
		}
	}
	tx.writes++
	if b == nil {
		if b, err = w.root.CreateBucket(bucketTombstones); err != nil {
			return err
		}
	}
	if err := b.Put(key, binary.BigEndian.AppendUint64(tx.alloc(tsLen), at)); err != nil {
		return err
	}
	// Added before commit: a rollback leaves a pair the file lacks, which
	// costs a read when a record matches it, and is right after a reopen.
	tx.s.tombs.add(ws, t.Term, t.Subject)
	return nil
}

// Tombstones yields the tombstones of workspace ws in key order.
func (tx *Tx) Tombstones(ws string) iter.Seq2[Tombstone, error] {
	return func(yield func(Tombstone, error) bool) {
		w, err := tx.workspace(ws, false, needNone)
		if err != nil {
			yield(Tombstone{}, err)
			return
		}
		if w == nil {
			return
		}
		b := w.root.Bucket(bucketTombstones)
		if b == nil {
			return
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			t, err := decodeTombstone(k, v)
			if err != nil {
				yield(Tombstone{}, w.corrupt(bucketTombstones, k, err))
				return
			}
			if !yield(t, nil) {
				return
			}
		}
	}
}

// DropTombstones removes the tombstones of workspace ws issued at or
// before t, which cover no record started after t, and returns how many
// it removed.
func (tx *Tx) DropTombstones(ws string, t time.Time) (int, error) {
	if !tx.btx.Writable() {
		return 0, ErrReadOnly
	}
	w, err := tx.workspace(ws, false, needNone)
	if err != nil || w == nil {
		return 0, err
	}
	b := w.root.Bucket(bucketTombstones)
	if b == nil {
		return 0, nil
	}
	var gone []Tombstone
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		ts, err := decodeTombstone(k, v)
		if err != nil {
			return 0, w.corrupt(bucketTombstones, k, err)
		}
		if !ts.At.After(t) {
			gone = append(gone, ts)
		}
	}
	if len(gone) > 0 {
		tx.writes++
	}
	for _, g := range gone {
		if err := b.Delete(appendTombstoneKey(nil, g.Term, g.Subject, g.Kind)); err != nil {
			return 0, err
		}
	}
	// A pair leaves the in-memory set, after commit, when no kind of it
	// is left in the file.
	var empty []Tombstone
	for _, g := range gone {
		prefix := append([]byte{byte(g.Term)}, g.Subject...)
		if k, _ := b.Cursor().Seek(prefix); k == nil || !bytes.HasPrefix(k, prefix) {
			empty = append(empty, g)
		}
	}
	if len(empty) > 0 {
		tx.btx.OnCommit(func() {
			for _, e := range empty {
				tx.s.tombs.remove(ws, e.Term, e.Subject)
			}
		})
	}
	return len(gone), nil
}

// mac returns the transaction's keyed HMAC of subject (Store.SubjectHMAC)
// in tx.macBuf, valid until the next call: no allocation per call.
func (tx *Tx) mac(subject string) []byte {
	if tx.hmac == nil {
		tx.hmac = hmac.New(sha256.New, tx.s.subjectKey)
	}
	tx.hmac.Reset()
	tx.scratch = append(tx.scratch[:0], subject...)
	tx.hmac.Write(tx.scratch)
	return tx.hmac.Sum(tx.macBuf[:0])
}

// matchTombstones returns the tombstones of w that cover r: r matches
// their subject and started before them. It reads the file only when the
// in-memory set has a candidate.
func (tx *Tx) matchTombstones(w *wsBuckets, r *Record) ([]Tombstone, error) {
	terms := tx.s.tombs.terms(w.name)
	if terms == [TermConversation + 1]int{} {
		return nil, nil
	}
	var out []Tombstone
	var err error
	if terms[TermID] > 0 {
		if out, err = tx.matchTerm(w, r, TermID, r.ID, out); err != nil {
			return nil, err
		}
	}
	if terms[TermNumber] > 0 {
		for _, n := range []e164.Number{r.From, r.To} {
			if n.IsValid() && !(n == r.To && r.To == r.From) {
				if out, err = tx.matchTerm(w, r, TermNumber, n.String(), out); err != nil {
					return nil, err
				}
			}
		}
	}
	if terms[TermConversation] > 0 && r.ConversationID != "" {
		if out, err = tx.matchTerm(w, r, TermConversation, r.ConversationID, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// matchTerm appends to out the tombstones of w for (t, subject) that
// cover r.
func (tx *Tx) matchTerm(w *wsBuckets, r *Record, t Term, subject string, out []Tombstone) ([]Tombstone, error) {
	h := tx.mac(subject)
	if !tx.s.tombs.lookup(w.name, t, h) {
		return out, nil
	}
	b := w.root.Bucket(bucketTombstones)
	if b == nil {
		return out, nil
	}
	prefix := append([]byte{byte(t)}, h...)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ts, err := decodeTombstone(k, v)
		if err != nil {
			return nil, w.corrupt(bucketTombstones, k, err)
		}
		if r.StartedAt.Before(ts.At) {
			out = append(out, ts)
		}
	}
	return out, nil
}

// filter returns the write filter of tx: the installed hook's, begun on
// first use, or nil when no hook is installed. Without a hook, a store
// holding tombstones refuses to write records (ErrNoWriteHook).
func (tx *Tx) filter() (WriteFilter, error) {
	if tx.wf != nil || tx.noHook {
		return tx.wf, nil
	}
	h, holds := tx.s.tombs.state()
	if h == nil {
		if holds {
			return nil, ErrNoWriteHook
		}
		tx.noHook = true
		return nil, nil
	}
	f, err := h.Begin(tx)
	if err != nil {
		return nil, err
	}
	tx.wf = f
	return f, nil
}

// finish runs the filter's Finish before a write transaction commits.
func (tx *Tx) finish() error {
	if tx.wf == nil {
		return nil
	}
	f := tx.wf
	tx.wf, tx.noHook = nil, true
	return f.Finish()
}

// checkTombstones checks that every tombstone of w decodes.
func (c *checker) checkTombstones(w *wsBuckets) error {
	b := w.root.Bucket(bucketTombstones)
	if b == nil {
		return nil
	}
	cur := b.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		if _, err := decodeTombstone(k, v); err != nil {
			c.add(w.corrupt(bucketTombstones, k, err))
		}
	}
	return nil
}
