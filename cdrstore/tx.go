package cdrstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"iter"
	"slices"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/e164"
	bolt "go.etcd.io/bbolt"
)

// Fill percents by bucket, chosen by measurement (bbolt's page statistics
// after loading 100,000 generated records in batches of 10,000). Records
// arrive nearly in time order and append at the right edge, so their pages
// may be packed. by_number takes each number's entries in time order, at
// the end of that number's run: split at 0.8, its leaves end 71% full
// against 54% at bbolt's default 0.5. by_id and by_conversation take keys
// in random order, where a high split point leaves the right-hand page
// nearly empty: 0.9 left them 43% full against 69% at 0.5.
const (
	fillRecords = 0.95
	fillNumber  = 0.8
	fillIndex   = 0.5
)

// Tx is a transaction on a Store, handed to the closures of [Store.View]
// and [Store.Update]. A Tx is not safe for concurrent use and must not be
// used after its closure returns. Records it returns are copies.
type Tx struct {
	s     *Store
	btx   *bolt.Tx
	ws    map[string]*wsBuckets
	arena []byte
	// writes counts the calls that wrote (or may have written) to btx:
	// UpdateGrouped tells by it whether a failed call left writes behind.
	// Every method that writes bumps it before its first write.
	writes int

	hmac     hash.Hash   // keyed HMAC state reused by mac
	macBuf   [32]byte    // mac's result
	scratch  []byte      // mac's input
	wf       WriteFilter // the write hook's filter, once begun
	noHook   bool        // no hook: records are stored as given
	result   WriteResult // what the filter did to this transaction's records
	filtered Record      // the copy of a record the filter may change
}

type wsBuckets struct {
	name          string
	root          *bolt.Bucket
	records, byID *bolt.Bucket
	byNum, byConv *bolt.Bucket
	audit         *bolt.Bucket
	aux           map[Name]*bolt.Bucket
}

func newTx(s *Store, btx *bolt.Tx) *Tx { return &Tx{s: s, btx: btx} }

// next returns the Tx of the next call of a write transaction's group
// (tx is the previous call's, nil for the first): a Tx of its own, whose
// write hook begins and finishes for that call alone, that keeps what the
// previous calls left to reuse (workspaces opened, arena, HMAC state) and
// their count of writes.
func (tx *Tx) next(s *Store, btx *bolt.Tx) *Tx {
	if tx == nil {
		return newTx(s, btx)
	}
	return &Tx{s: s, btx: btx, ws: tx.ws, arena: tx.arena, writes: tx.writes,
		hmac: tx.hmac, scratch: tx.scratch}
}

// Writable reports whether tx can write.
func (tx *Tx) Writable() bool { return tx.btx.Writable() }

// Now returns the store's clock, in UTC.
func (tx *Tx) Now() time.Time { return tx.s.Now() }

// SubjectHMAC is [Store.SubjectHMAC].
func (tx *Tx) SubjectHMAC(subject string) []byte { return tx.s.SubjectHMAC(subject) }

// alloc returns n bytes that stay valid until the transaction ends. bbolt
// keeps references to the keys and values handed to Put until commit, so
// they are carved from chunks that are never reused within the transaction.
func (tx *Tx) alloc(n int) []byte {
	const chunk = 64 << 10
	if n > chunk/4 {
		return make([]byte, 0, n)
	}
	if cap(tx.arena)-len(tx.arena) < n {
		tx.arena = make([]byte, 0, chunk)
	}
	b := tx.arena[len(tx.arena) : len(tx.arena) : len(tx.arena)+n]
	tx.arena = tx.arena[:len(tx.arena)+n]
	return b
}

// Buckets of a workspace that an operation needs opened. Opening a nested
// bucket costs a seek in its parent, so a transaction opens only the ones
// it uses: a Get needs two of the eleven.
const (
	needRecords = 1 << iota
	needByID
	needByNumber
	needByConversation
	needAudit

	needNone    = 0
	needIndexes = needRecords | needByID | needByNumber | needByConversation
	needAll     = needIndexes | needAudit
)

// workspace returns the buckets of ws with those named by need opened,
// creating the workspace when create is set (in a write transaction). It
// returns nil, nil when ws does not exist and create is false.
func (tx *Tx) workspace(ws string, create bool, need int) (*wsBuckets, error) {
	w, ok := tx.ws[ws]
	if !ok {
		var err error
		if w, err = tx.openWorkspace(ws, create); w == nil || err != nil {
			return nil, err
		}
	}
	for i, b := range coreBuckets {
		if need&(1<<i) == 0 || *b.field(w) != nil {
			continue
		}
		bk := w.root.Bucket(b.name)
		if bk == nil {
			return nil, &CorruptionError{Workspace: ws, Bucket: string(b.name), Err: fmt.Errorf("missing")}
		}
		bk.FillPercent = b.fill
		*b.field(w) = bk
	}
	return w, nil
}

// coreBuckets are the buckets of a workspace that Tx reaches directly, in
// the bit order of the need flags.
var coreBuckets = []struct {
	name  []byte
	fill  float64
	field func(*wsBuckets) **bolt.Bucket
}{
	{bucketRecords, fillRecords, func(w *wsBuckets) **bolt.Bucket { return &w.records }},
	{bucketByID, fillIndex, func(w *wsBuckets) **bolt.Bucket { return &w.byID }},
	{bucketByNumber, fillNumber, func(w *wsBuckets) **bolt.Bucket { return &w.byNum }},
	{bucketByConversation, fillIndex, func(w *wsBuckets) **bolt.Bucket { return &w.byConv }},
	{bucketAudit, 1.0, func(w *wsBuckets) **bolt.Bucket { return &w.audit }},
}

// openWorkspace opens (or creates) the bucket of ws and caches it in tx.
func (tx *Tx) openWorkspace(ws string, create bool) (*wsBuckets, error) {
	if err := ValidateWorkspace(ws); err != nil {
		// A bucket of that name exists only in a damaged file (it may
		// have been listed by Workspaces).
		if top := tx.btx.Bucket(bucketWS); top != nil && top.Bucket([]byte(ws)) != nil {
			return nil, badWorkspaceName(ws, err)
		}
		return nil, err
	}
	top := tx.btx.Bucket(bucketWS)
	if top == nil {
		return nil, &CorruptionError{Bucket: string(bucketWS), Err: fmt.Errorf("missing")}
	}
	root := top.Bucket([]byte(ws))
	if root == nil {
		if !create {
			return nil, nil
		}
		if !tx.btx.Writable() {
			return nil, ErrReadOnly
		}
		if err := ValidateNewWorkspace(ws); err != nil {
			return nil, err
		}
		tx.writes++
		var err error
		if root, err = top.CreateBucket([]byte(ws)); err != nil {
			return nil, fmt.Errorf("cdrstore: create workspace: %w", err)
		}
		for _, b := range coreBuckets {
			if _, err := root.CreateBucket(b.name); err != nil {
				return nil, err
			}
		}
		for _, n := range auxBuckets {
			if _, err := root.CreateBucket([]byte(n)); err != nil {
				return nil, err
			}
		}
	}
	w := &wsBuckets{name: ws, root: root}
	if tx.ws == nil {
		tx.ws = make(map[string]*wsBuckets)
	}
	tx.ws[ws] = w
	return w, nil
}

// auxBucket returns the auxiliary bucket n of w, opening it on first use.
func (w *wsBuckets) auxBucket(n Name) (*bolt.Bucket, error) {
	if b, ok := w.aux[n]; ok {
		return b, nil
	}
	b := w.root.Bucket([]byte(n))
	if b == nil {
		return nil, &CorruptionError{Workspace: w.name, Bucket: string(n), Err: fmt.Errorf("missing")}
	}
	if w.aux == nil {
		w.aux = make(map[Name]*bolt.Bucket, len(auxBuckets))
	}
	w.aux[n] = b
	return b, nil
}

// Workspaces returns the names of every workspace, in byte order, as
// stored. In a damaged file a name may not be a valid workspace name;
// every operation on such a name returns an error matching ErrCorrupt, and
// [Store.Workspaces] reports it as one.
func (tx *Tx) Workspaces() []string {
	var names []string
	top := tx.btx.Bucket(bucketWS)
	if top == nil {
		return nil
	}
	top.ForEachBucket(func(k []byte) error {
		names = append(names, string(k))
		return nil
	})
	return names
}

// Workspaces returns the names of every workspace, in byte order, as
// [Tx.Workspaces] does in a read transaction of its own. A stored name
// that is not a valid workspace name (see ValidateWorkspace) can only come
// from a damaged or foreign file: Workspaces then returns an error matching
// ErrCorrupt. It returns ErrClosed after Close.
func (s *Store) Workspaces() ([]string, error) {
	var names []string
	err := s.View(func(tx *Tx) error {
		names = tx.Workspaces()
		for _, ws := range names {
			if err := ValidateWorkspace(ws); err != nil {
				return badWorkspaceName(ws, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// badWorkspaceName is the error for a stored workspace bucket whose name
// ValidateWorkspace refuses with err: no valid write makes one, so it is
// corruption, not a malformed argument. The name is given in hex.
func badWorkspaceName(ws string, err error) error {
	reason := "invalid"
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		reason = ve.Reason
	}
	return &CorruptionError{Bucket: string(bucketWS), Key: describeKey(string(bucketWS), []byte(ws)), Err: fmt.Errorf("workspace name: %s", reason)}
}

// HasWorkspace reports whether workspace ws exists, creating nothing.
func (tx *Tx) HasWorkspace(ws string) (bool, error) {
	w, err := tx.workspace(ws, false, needNone)
	return w != nil, err
}

// CreateWorkspace creates the buckets of ws if it does not exist yet, and
// reports whether it did. Creating a workspace that exists changes
// nothing.
func (tx *Tx) CreateWorkspace(ws string) (created bool, err error) {
	found, err := tx.HasWorkspace(ws)
	if err != nil || found {
		return false, err
	}
	if _, err := tx.workspace(ws, true, needNone); err != nil {
		return false, err
	}
	return true, nil
}

// CreateWorkspace creates workspace ws in a transaction of its own, as
// [Tx.CreateWorkspace] does, and reports whether it did. It is
// idempotent. Besides writing a record, it is the only way a workspace
// comes to exist: configuring one (settings, holds, opt-outs, keys) and
// appending to its audit log require it to exist.
func (s *Store) CreateWorkspace(ws string) (created bool, err error) {
	err = s.Update(func(tx *Tx) error {
		var err error
		created, err = tx.CreateWorkspace(ws)
		return err
	})
	return created, err
}

// Get returns the record id of workspace ws. It returns an error matching
// ErrNotFound when there is none, ErrInvalidRecord for a malformed ID or
// workspace, and ErrCorrupt when the stored bytes cannot be decoded.
func (tx *Tx) Get(ws, id string) (Record, error) {
	if err := ValidateID(id); err != nil {
		return Record{}, err
	}
	w, err := tx.workspace(ws, false, needRecords|needByID)
	if err != nil {
		return Record{}, err
	}
	if w == nil {
		return Record{}, fmt.Errorf("cdrstore: get %q: %w", id, ErrNotFound)
	}
	key := probeKey(id)
	_, v, err := w.lookup(key)
	if err != nil {
		return Record{}, err
	}
	if v == nil {
		return Record{}, fmt.Errorf("cdrstore: get %q: %w", id, ErrNotFound)
	}
	var r Record
	if err := decodeRecord(ws, key, v, &r); err != nil {
		return Record{}, w.corrupt(bucketRecords, key, err)
	}
	return r, nil
}

// lookup finds, through by_id, the record whose records key is key but
// for its started_at: key holds tsLen bytes of any value, then the ID as
// keys hold it. When the record exists, lookup writes its started_at into
// key and returns it with the value; v is nil when it does not.
func (w *wsBuckets) lookup(key []byte) (ts uint64, v []byte, err error) {
	idKey := key[tsLen:]
	tv := w.byID.Get(idKey)
	if tv == nil {
		return 0, nil, nil
	}
	if ts, err = decodeByIDValue(tv); err != nil {
		return 0, nil, w.corrupt(bucketByID, idKey, err)
	}
	binary.BigEndian.PutUint64(key, ts)
	if v = w.records.Get(key); v == nil {
		return 0, nil, w.corrupt(bucketByID, idKey, fmt.Errorf("points at a missing record"))
	}
	return ts, v, nil
}

// probeKey returns the key lookup takes for id: its started_at left zero.
func probeKey(id string) []byte {
	return appendRecordKey(make([]byte, 0, tsLen+len(id)), 0, id)
}

func (w *wsBuckets) corrupt(bucket []byte, key []byte, err error) error {
	return &CorruptionError{Workspace: w.name, Bucket: string(bucket), Key: describeKey(string(bucket), key), Err: err}
}

// Put inserts r, or replaces the record of the same workspace and ID, and
// brings every index in line with the difference between the old record
// and the new one: a number the new record no longer holds leaves the
// by_number index. It returns a *ValidationError (nothing written) when r
// is malformed and ErrReadOnly in a read-only transaction.
//
// A replace never undoes a redaction, so that a record delivered again
// after it was redacted stays redacted: every field the stored record
// marks in Redacted.Fields keeps its stored (redacted) value unless r's is
// empty, the marks are the union of both, Redacted.At keeps its stored
// value when r's is zero and Redacted.Masked when r's is empty (unless the
// merged marks say the masked number is removed), and the index
// entries follow the merged record (a removed number does not return to
// by_number). Fields not marked take r's values. Removing more (a
// placeholder body, an obfuscated number) always takes effect.
func (tx *Tx) Put(r Record) error {
	_, err := tx.PutResult(r)
	return err
}

// PutResult is Put, and returns what the store's write hook decided for r
// (Keep when none is installed): Changed when r was stored changed, Drop
// or Expire when it was not stored (and a stored record of its ID was
// removed). It returns ErrNoWriteHook when the store holds tombstones and
// no hook is installed.
func (tx *Tx) PutResult(r Record) (Verdict, error) {
	if err := r.Validate(); err != nil {
		return Keep, err
	}
	return tx.put(&r)
}

// WriteResult returns what the write hook did to the records this
// transaction stored so far.
func (tx *Tx) WriteResult() WriteResult { return tx.result }

func (tx *Tx) put(r *Record) (Verdict, error) {
	if !tx.btx.Writable() {
		return Keep, ErrReadOnly
	}
	f, err := tx.filter()
	if err != nil {
		return Keep, err
	}
	w, err := tx.workspace(r.Workspace, true, needIndexes)
	if err != nil {
		return Keep, err
	}
	// The ID is packed once, into key; the index keys and the lookup of
	// the stored record reuse it. All of them live in the arena.
	ts := encodeTime(r.StartedAt)
	key := appendRecordKey(tx.alloc(tsLen+len(r.ID)), ts, r.ID)
	oldKey := append(tx.alloc(len(key)), key...)
	oldTS, oldV, err := w.lookup(oldKey)
	if err != nil {
		return Keep, err
	}
	var old Record
	if oldV != nil {
		if err := decodeRecord(r.Workspace, oldKey, oldV, &old); err != nil {
			return Keep, w.corrupt(bucketRecords, oldKey, err)
		}
		if old.Redacted.Fields != 0 {
			// r is the caller's (PutBatch's slice): merge into a copy.
			m := *r
			keepRedactions(&m, &old)
			r = &m
		}
	}
	verdict := Keep
	in := r // as given (merged), before the hook changes it
	if f != nil {
		m := Match{Stored: oldV != nil}
		if m.Tombstones, err = tx.matchTombstones(w, r); err != nil {
			return Keep, err
		}
		// The filter may change the record, and r may be the caller's:
		// it gets a copy, kept in tx so that it costs no allocation.
		c := &tx.filtered
		*c = *r
		if verdict, err = f.Filter(c, m); err != nil {
			return Keep, err
		}
		switch verdict {
		case Drop, Expire:
			tx.result.add(verdict)
			if oldV != nil {
				return verdict, tx.RemoveAll([]Record{old})
			}
			return verdict, nil
		case Changed:
			if c.ID != r.ID || c.Workspace != r.Workspace || !c.StartedAt.Equal(r.StartedAt) {
				return Keep, fmt.Errorf("cdrstore: put %q: the write hook moved the record", r.ID)
			}
			if err := c.Validate(); err != nil {
				return Keep, fmt.Errorf("cdrstore: put %q: the write hook made it invalid: %w", r.ID, err)
			}
			r = c
		}
	}
	tx.result.add(verdict)
	moved := oldV != nil && oldTS != ts

	tx.writes++
	val := appendValue(tx.alloc(256+len(r.Body)), r)
	if moved {
		if err := w.records.Delete(oldKey); err != nil {
			return Keep, err
		}
	}
	if err := w.records.Put(key, val); err != nil {
		return Keep, err
	}
	if oldV == nil || moved {
		if err := w.byID.Put(key[tsLen:], key[:tsLen]); err != nil {
			return Keep, err
		}
	}
	// Index diff: entries of the old record that the new one does not
	// carry (all of them if it moved in time) go; new ones come.
	for _, n := range old.Numbers() {
		if moved || !r.HasNumber(n) {
			if err := w.byNum.Delete(appendIndexKey(nil, n.String(), oldKey)); err != nil {
				return Keep, err
			}
		}
	}
	for _, n := range r.Numbers() {
		if oldV == nil || moved || !old.HasNumber(n) {
			k := appendIndexKey(tx.alloc(len(n.String())+1+len(key)), n.String(), key)
			if err := w.byNum.Put(k, nil); err != nil {
				return Keep, err
			}
		}
	}
	if old.ConversationID != "" && (moved || old.ConversationID != r.ConversationID) {
		if err := w.byConv.Delete(appendIndexKey(nil, old.ConversationID, oldKey)); err != nil {
			return Keep, err
		}
	}
	if r.ConversationID != "" && (oldV == nil || moved || old.ConversationID != r.ConversationID) {
		k := appendIndexKey(tx.alloc(len(r.ConversationID)+1+len(key)), r.ConversationID, key)
		if err := w.byConv.Put(k, nil); err != nil {
			return Keep, err
		}
	}
	if err := tx.relink(w, oldV != nil, &old, oldKey, in, r, key); err != nil {
		return Keep, err
	}
	return verdict, nil
}

// keepRedactions makes r, which replaces old, keep old's redactions, so
// that a replace never undoes one. Each field old marks as redacted keeps
// old's value, unless r's is empty: removing what a redaction left (the
// "[REDACTED]" placeholder, say) redacts further and undoes nothing. The
// marks are the union of both; At stays old's when r's is zero. Masked
// stays old's when r's is empty, unless the union marks the masked number
// removed (see Redaction.Masked). r's index entries are derived
// afterwards, so a removed number stays out of by_number.
func keepRedactions(r, old *Record) {
	f := old.Redacted.Fields
	if f.Has(FieldBody) && r.Body != "" {
		r.Body = old.Body
	}
	if f.Has(FieldTranscript) && len(r.Transcript) > 0 {
		r.Transcript = old.Transcript
	}
	if f.Has(FieldRecording) && r.RecordingURL != "" {
		r.RecordingURL = old.RecordingURL
	}
	if f.Has(FieldMedia) && len(r.Media) > 0 {
		r.Media = old.Media
	}
	if f&(FieldFrom|FieldFromObfuscated) != 0 && r.From.IsValid() {
		r.From = old.From
	}
	if f&(FieldTo|FieldToObfuscated) != 0 && r.To.IsValid() {
		r.To = old.To
	}
	r.Redacted.Fields |= f
	if r.Redacted.Masked == "" && !r.Redacted.maskRemoved() {
		r.Redacted.Masked = old.Redacted.Masked
	}
	if r.Redacted.At.IsZero() {
		r.Redacted.At = old.Redacted.At
	}
}

// Delete removes the record id of workspace ws with every index entry
// that points at it, and returns the removed record. It returns an error
// matching ErrNotFound when there is none.
func (tx *Tx) Delete(ws, id string) (Record, error) {
	if err := ValidateID(id); err != nil {
		return Record{}, err
	}
	if !tx.btx.Writable() {
		return Record{}, ErrReadOnly
	}
	w, err := tx.workspace(ws, false, needIndexes)
	if err != nil {
		return Record{}, err
	}
	if w == nil {
		return Record{}, fmt.Errorf("cdrstore: delete %q: %w", id, ErrNotFound)
	}
	key := probeKey(id)
	_, v, err := w.lookup(key)
	if err != nil {
		return Record{}, err
	}
	if v == nil {
		return Record{}, fmt.Errorf("cdrstore: delete %q: %w", id, ErrNotFound)
	}
	var r Record
	if err := decodeRecord(ws, key, v, &r); err != nil {
		return Record{}, w.corrupt(bucketRecords, key, err)
	}
	if err := tx.Remove(&r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// Remove deletes r with every index entry that points at it, like Delete,
// for a caller that already holds the record because it read it in this
// transaction: it saves Delete's lookup through by_id and its decode. r's
// ID, StartedAt, numbers and conversation ID must be the stored ones,
// since they name the index entries; its content may have been changed
// since. It returns an error matching ErrNotFound when no record is stored
// under r's ID and StartedAt.
func (tx *Tx) Remove(r *Record) error {
	return tx.RemoveAll([]Record{*r})
}

// RemoveAll is Remove for many records: it deletes them, then their index
// entries bucket by bucket in key order, so that each bucket is walked
// from left to right instead of at random (the redaction package's
// deletions go through it). When a record is not stored it returns an
// error matching ErrNotFound, and other records of rs may already be gone:
// roll the transaction back.
func (tx *Tx) RemoveAll(rs []Record) error {
	if !tx.btx.Writable() {
		return ErrReadOnly
	}
	tx.writes++
	byWS := map[string][]int{}
	for i := range rs {
		if err := ValidateID(rs[i].ID); err != nil {
			return err
		}
		byWS[rs[i].Workspace] = append(byWS[rs[i].Workspace], i)
	}
	for ws, idx := range byWS {
		w, err := tx.workspace(ws, false, needIndexes)
		if err != nil {
			return err
		}
		if w == nil {
			return fmt.Errorf("cdrstore: remove %q: %w", rs[idx[0]].ID, ErrNotFound)
		}
		var byID, byNum, byConv [][]byte
		c := w.records.Cursor()
		for _, i := range idx {
			r := &rs[i]
			ts := encodeTime(r.StartedAt)
			key := appendRecordKey(tx.alloc(tsLen+len(r.ID)), ts, r.ID)
			if k, _ := c.Seek(key); !bytes.Equal(k, key) {
				return fmt.Errorf("cdrstore: remove %q: %w", r.ID, ErrNotFound)
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if err := w.removeLinks(r, key); err != nil {
				return err
			}
			byID = append(byID, key[tsLen:])
			for _, n := range r.Numbers() {
				byNum = append(byNum, appendIndexKey(nil, n.String(), key))
			}
			if r.ConversationID != "" {
				byConv = append(byConv, appendIndexKey(nil, r.ConversationID, key))
			}
		}
		for _, b := range []struct {
			bucket *bolt.Bucket
			keys   [][]byte
		}{{w.byID, byID}, {w.byNum, byNum}, {w.byConv, byConv}} {
			slices.SortFunc(b.keys, bytes.Compare)
			for _, k := range b.keys {
				if err := b.bucket.Delete(k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ByNumber returns the records of workspace ws whose From or To is n, in
// time order, bounded by q, and the records that held n until a redaction
// obfuscated or removed it and still hold content (found through the
// keyed HMAC of n: see the subject index). A workspace that does not
// exist yields nothing.
func (tx *Tx) ByNumber(ws string, n e164.Number, q Query) iter.Seq2[Record, error] {
	if !n.IsValid() {
		return errSeq(&ValidationError{Field: "number", Reason: "zero number"})
	}
	return tx.scanMerged(ws, q, needRecords|needByNumber, func(w *wsBuckets) []source {
		srcs := []source{{bucket: w.byNum, prefix: appendTermPrefix(nil, n.String())}}
		if by := w.subjectBucket(); by != nil {
			srcs = append(srcs, source{bucket: by, prefix: tx.s.SubjectHMAC(n.String())})
		}
		return srcs
	})
}

// ByConversation returns the records (voice legs) of workspace ws that
// share conversation ID conv, in time order, bounded by q.
func (tx *Tx) ByConversation(ws, conv string, q Query) iter.Seq2[Record, error] {
	if conv == "" || len(conv) > MaxConversationLen || bytes.IndexByte([]byte(conv), 0) >= 0 {
		return errSeq(&ValidationError{Field: "conversation_id", Reason: "empty, too long or holds 0x00"})
	}
	return tx.scan(ws, q, needRecords|needByConversation, func(w *wsBuckets) (*bolt.Bucket, []byte) {
		return w.byConv, appendTermPrefix(nil, conv)
	})
}

// ByTime returns the records of workspace ws in time order, bounded by q.
func (tx *Tx) ByTime(ws string, q Query) iter.Seq2[Record, error] {
	return tx.scan(ws, q, needRecords, func(w *wsBuckets) (*bolt.Bucket, []byte) { return w.records, nil })
}

func errSeq(err error) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) { yield(Record{}, err) }
}

// scan walks the entries of an index bucket (or the records bucket when
// prefix is nil) under prefix, within q's time range, after q's cursor.
// Every index key ends with the records key it points at.
func (tx *Tx) scan(ws string, q Query, need int, pick func(*wsBuckets) (*bolt.Bucket, []byte)) iter.Seq2[Record, error] {
	return tx.scanMerged(ws, q, need, func(w *wsBuckets) []source {
		b, prefix := pick(w)
		return []source{{bucket: b, prefix: prefix}}
	})
}

// source is one index bucket (or records) and prefix that a scan walks.
type source struct {
	bucket *bolt.Bucket
	prefix []byte
	c      *bolt.Cursor
	k, v   []byte // the current entry; k nil when done
}

func (s *source) next() {
	if s.k, s.v = s.c.Next(); s.k != nil && !bytes.HasPrefix(s.k, s.prefix) {
		s.k = nil
	}
}

// scanMerged is scan over several sources at once, whose entries all end
// with a records key: it yields their records in records-key order (time
// order), each record once.
func (tx *Tx) scanMerged(ws string, q Query, need int, pick func(*wsBuckets) []source) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		b, err := q.bounds()
		if err != nil {
			yield(Record{}, err)
			return
		}
		w, err := tx.workspace(ws, false, need)
		if err != nil {
			yield(Record{}, err)
			return
		}
		if w == nil {
			return
		}
		tail := appendRecordKey(nil, b.since, "")
		if b.after != nil && bytes.Compare(b.after, tail) >= 0 {
			tail = b.after
		}
		srcs := pick(w)
		for i := range srcs {
			s := &srcs[i]
			s.c = s.bucket.Cursor()
			if s.k, s.v = s.c.Seek(append(append([]byte(nil), s.prefix...), tail...)); s.k != nil && !bytes.HasPrefix(s.k, s.prefix) {
				s.k = nil
			}
		}
		n := 0
		for {
			// The source whose entry names the smallest records key.
			var cur *source
			for i := range srcs {
				s := &srcs[i]
				if s.k != nil && (cur == nil || bytes.Compare(s.k[len(s.prefix):], cur.k[len(cur.prefix):]) < 0) {
					cur = s
				}
			}
			if cur == nil {
				return
			}
			k, v := cur.k, cur.v
			rk := k[len(cur.prefix):]
			for i := range srcs {
				if s := &srcs[i]; s != cur && s.k != nil && bytes.Equal(s.k[len(s.prefix):], rk) {
					s.next() // the same record through another source
				}
			}
			cur.next()
			if len(rk) < tsLen {
				yield(Record{}, w.corrupt(bucketName(cur.bucket, w), k, fmt.Errorf("short key")))
				return
			}
			if ts := beUint64(rk); ts >= b.until {
				// This source is past the range; the others may not be.
				cur.k = nil
				continue
			}
			if b.after != nil && bytes.Equal(rk, b.after) {
				continue
			}
			if cur.bucket != w.records {
				if v = w.records.Get(rk); v == nil {
					yield(Record{}, w.corrupt(bucketName(cur.bucket, w), k, fmt.Errorf("points at a missing record")))
					return
				}
			}
			var r Record
			if err := decodeRecord(ws, rk, v, &r); err != nil {
				yield(Record{}, w.corrupt(bucketRecords, rk, err))
				return
			}
			if !yield(r, nil) {
				return
			}
			if n++; n == b.limit {
				return
			}
		}
	}
}

func bucketName(b *bolt.Bucket, w *wsBuckets) []byte {
	switch b {
	case w.byNum:
		return bucketByNumber
	case w.byConv:
		return bucketByConversation
	case w.byID:
		return bucketByID
	case w.records:
		return bucketRecords
	}
	return bucketBySubject
}

// AppendAudit appends e to the audit log of workspace ws inside this
// transaction and returns the stored entry (with its seq and hash). A
// workspace that does not exist is a *NoWorkspaceError: AppendAudit never
// creates one.
func (tx *Tx) AppendAudit(ws string, e audit.Entry) (audit.Entry, error) {
	if !tx.btx.Writable() {
		return audit.Entry{}, ErrReadOnly
	}
	w, err := tx.workspace(ws, false, needAudit)
	if err != nil {
		return audit.Entry{}, err
	}
	if w == nil {
		return audit.Entry{}, &NoWorkspaceError{Workspace: ws}
	}
	tx.writes++
	return audit.Append(w.audit, e)
}

// AuditEntries returns the audit entries of workspace ws with a seq
// greater than after, in order.
func (tx *Tx) AuditEntries(ws string, after uint64) iter.Seq2[audit.Entry, error] {
	w, err := tx.workspace(ws, false, needAudit)
	if err != nil || w == nil {
		return func(yield func(audit.Entry, error) bool) {
			if err != nil {
				yield(audit.Entry{}, err)
			}
		}
	}
	return audit.Entries(w.audit, after)
}

// AuditHead returns the last audit entry of workspace ws; ok is false when
// the log is empty.
func (tx *Tx) AuditHead(ws string) (e audit.Entry, ok bool, err error) {
	w, err := tx.workspace(ws, false, needAudit)
	if err != nil || w == nil {
		return audit.Entry{}, false, err
	}
	return audit.Head(w.audit)
}

// VerifyAudit walks the audit chain of workspace ws (see audit.Verify) and
// returns its entry count and head. A missing workspace has an empty chain.
func (tx *Tx) VerifyAudit(ctx context.Context, ws string) (uint64, audit.Entry, error) {
	w, err := tx.workspace(ws, false, needAudit)
	if err != nil || w == nil {
		return 0, audit.Entry{}, err
	}
	n, err := audit.Verify(ctx, w.audit)
	if err != nil {
		return n, audit.Entry{}, err
	}
	head, _, err := audit.Head(w.audit)
	return n, head, err
}
