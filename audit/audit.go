package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Entry is one audit log entry.
type Entry struct {
	Seq       uint64    // assigned by Append, from 1
	Time      time.Time // UTC; required
	Action    string    // e.g. "redact.transaction", "data.erasure"; required
	Reason    string    // e.g. "gdpr_art17", "ndpr_right_to_erasure"
	Actor     string    // who asked: a key ID, "cdradmin"
	Subject   []byte    // keyed HMAC of the subject (SubjectHMAC), never plaintext
	Count     uint64    // records affected
	Detail    string    // non-personal detail, e.g. "retention.sms: 13 -> 6"
	RequestID string    // idempotency key
	Prev      [32]byte  // SHA-256 of the previous entry's stored value; zero for seq 1
	Hash      [32]byte  // SHA-256 of this entry's stored value
}

// Field limits, in bytes.
const (
	maxShort     = 128
	maxDetail    = 1024
	maxSubject   = 64
	entryVersion = 1
)

// SubjectHMAC returns HMAC-SHA256(key, subject): the pseudonym under which
// a subject (a number, an ID) appears in the log.
func SubjectHMAC(key []byte, subject string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(subject))
	return m.Sum(nil)
}

func (e *Entry) validate() error {
	bad := func(f string) error { return fmt.Errorf("%w: %s", ErrInvalidEntry, f) }
	switch {
	case e.Time.IsZero() || e.Time.UnixNano() <= 0:
		return bad("time missing or before 1970")
	case e.Action == "" || len(e.Action) > maxShort:
		return bad("action empty or over 128 bytes")
	case len(e.Reason) > maxShort:
		return bad("reason over 128 bytes")
	case len(e.Actor) > maxShort:
		return bad("actor over 128 bytes")
	case len(e.RequestID) > maxShort:
		return bad("request_id over 128 bytes")
	case len(e.Detail) > maxDetail:
		return bad("detail over 1024 bytes")
	case len(e.Subject) > maxSubject:
		return bad("subject over 64 bytes")
	}
	return nil
}

func appendStr(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Encode returns the stored value of e:
//
//	version u8 (1) · prev [32] · seq u64be · time i64be (unix ns) ·
//	action str · reason str · actor str · subject str · count uvarint ·
//	detail str · request_id str          (str = uvarint length · bytes)
//
// Its SHA-256 is the entry's hash, so the hash covers the version, the link
// to the previous entry and every field.
func Encode(e Entry) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(e.Action)+len(e.Reason)+len(e.Actor)+len(e.Subject)+len(e.Detail)+len(e.RequestID)+16)
	b = append(b, entryVersion)
	b = append(b, e.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = appendStr(b, []byte(e.Action))
	b = appendStr(b, []byte(e.Reason))
	b = appendStr(b, []byte(e.Actor))
	b = appendStr(b, e.Subject)
	b = binary.AppendUvarint(b, e.Count)
	b = appendStr(b, []byte(e.Detail))
	b = appendStr(b, []byte(e.RequestID))
	return b, nil
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("%w: truncated", ErrCorrupt)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return u
}

func (d *dec) str(max int) []byte {
	n := d.uvarint()
	if d.err == nil && n > uint64(max) {
		d.err = fmt.Errorf("%w: field of %d bytes", ErrCorrupt, n)
		return nil
	}
	return d.take(int(n))
}

// Decode decodes a stored entry (key: seq u64be; value: Encode's bytes) and
// computes its hash. Bad bytes give an error matching ErrCorrupt, never a
// panic.
func Decode(key, value []byte) (Entry, error) {
	var e Entry
	if len(key) != 8 {
		return e, fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(key))
	}
	d := dec{b: value}
	if v := d.take(1); d.err == nil && v[0] != entryVersion {
		return e, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v[0])
	}
	copy(e.Prev[:], d.take(32))
	if seq := d.take(8); d.err == nil {
		e.Seq = binary.BigEndian.Uint64(seq)
	}
	if ts := d.take(8); d.err == nil {
		e.Time = time.Unix(0, int64(binary.BigEndian.Uint64(ts))).UTC()
	}
	e.Action = string(d.str(maxShort))
	e.Reason = string(d.str(maxShort))
	e.Actor = string(d.str(maxShort))
	if s := d.str(maxSubject); len(s) > 0 {
		e.Subject = bytes.Clone(s)
	}
	e.Count = d.uvarint()
	e.Detail = string(d.str(maxDetail))
	e.RequestID = string(d.str(maxShort))
	if d.err != nil {
		return Entry{}, d.err
	}
	if len(d.b) != 0 {
		return Entry{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	if e.Seq != binary.BigEndian.Uint64(key) {
		return Entry{}, fmt.Errorf("%w: key seq %d holds seq %d", ErrCorrupt, binary.BigEndian.Uint64(key), e.Seq)
	}
	e.Hash = sha256.Sum256(value)
	return e, nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Append adds e to the log in bucket b (inside the caller's write
// transaction): it assigns Seq from the bucket's sequence, links Prev to the
// last entry, and returns the stored entry with its Hash. Time is stored
// in UTC.
func Append(b *bolt.Bucket, e Entry) (Entry, error) {
	e.Time = e.Time.UTC()
	if err := e.validate(); err != nil {
		return Entry{}, err
	}
	head, ok, err := Head(b)
	if err != nil {
		return Entry{}, err
	}
	if ok {
		e.Prev = head.Hash
	} else {
		e.Prev = [32]byte{}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return Entry{}, err
	}
	e.Seq = seq
	v, err := Encode(e)
	if err != nil {
		return Entry{}, err
	}
	if err := b.Put(seqKey(seq), v); err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	e.Hash = sha256.Sum256(v)
	return e, nil
}

// Head returns the last entry; ok is false when the log is empty.
func Head(b *bolt.Bucket) (e Entry, ok bool, err error) {
	k, v := b.Cursor().Last()
	if k == nil {
		return Entry{}, false, nil
	}
	e, err = Decode(k, v)
	if err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// Get returns the entry seq, or ErrNotFound.
func Get(b *bolt.Bucket, seq uint64) (Entry, error) {
	k := seqKey(seq)
	v := b.Get(k)
	if v == nil {
		return Entry{}, fmt.Errorf("audit: seq %d: %w", seq, ErrNotFound)
	}
	return Decode(k, v)
}

// Entries yields the entries with a seq greater than after, in order. It
// stops after the first error.
func Entries(b *bolt.Bucket, after uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		c := b.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			e, err := Decode(k, v)
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// Verify walks the whole chain in b and returns the number of entries. It
// returns a *ChainError naming the first bad seq when an entry does not
// decode, its seq is out of order or skips one, its Prev is not the hash
// of the entry before it, or entries are missing at the end (the bucket's
// sequence is beyond the last entry). It checks ctx every 128 entries.
func Verify(ctx context.Context, b *bolt.Bucket) (uint64, error) {
	var (
		n    uint64
		prev [32]byte
	)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n%128 == 127 {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("audit: verify: %w", err)
			}
		}
		want := n + 1
		if len(k) != 8 {
			return n, &ChainError{Seq: want, Err: fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(k))}
		}
		if got := binary.BigEndian.Uint64(k); got != want {
			return n, &ChainError{Seq: want, Err: fmt.Errorf("entry missing (next is %d)", got)}
		}
		e, err := Decode(k, v)
		if err != nil {
			return n, &ChainError{Seq: want, Err: err}
		}
		if e.Prev != prev {
			return n, &ChainError{Seq: want, Err: errors.New("does not link to the previous entry")}
		}
		prev = e.Hash
		n++
	}
	if s := b.Sequence(); s > n {
		return n, &ChainError{Seq: n + 1, Err: fmt.Errorf("entries %d..%d missing at the end", n+1, s)}
	}
	return n, nil
}
