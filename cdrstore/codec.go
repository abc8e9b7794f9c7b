package cdrstore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/e164"
)

// Record value format versions. Numbers are never reused; decoders for old
// versions are kept forever.
const (
	// codecV1 (formats v1 and v2): from and to are E.164 strings.
	codecV1 byte = 1
	// codecV2 (format v3): from and to each start with a kind byte (see
	// addrKind), so that either may be a short code or a sender ID.
	codecV2 byte = 2

	codecNewest = codecV2
)

// Address kinds of codec v2: what a from or to holds. 0 and 1 are the
// codec's own; 2 and 3 are the AliasKind values.
const (
	addrNone byte = 0 // absent or removed; the string is empty
	addrE164 byte = 1 // canonical E.164
)

// The ID and started_at live in the records key, and the workspace in the
// bucket path, so the value does not repeat them.
//
// value v2 (format v3):
//
//	version u8 (=2) · product u8 · direction u8 ·
//	from addr · to addr · (the rest as in v1, from body on)
//
//	addr = kind u8 · str   kind: 0 none (str empty) · 1 E.164 ·
//	                       2 short code · 3 alphanumeric sender ID
//
// value v1 (formats v1 and v2), still read:
//
//	version u8 (=1) · product u8 · direction u8 ·
//	from str · to str · body str · transcript list<str> · recording_url str ·
//	media list<str url · time expires_at> · conversation_id str ·
//	status str · price str · currency str · network str · client_ref str ·
//	ended_at time · created_at time ·
//	content_retention u8 · address_retention u8 ·
//	redacted.fields uvarint · redacted.at time · redacted.masked str
//
//	str  = uvarint length · bytes
//	list = uvarint count · items
//	time = uvarint (0: zero time, else UnixNano+1)

var productCodes = []Product{1: ProductSMS, 2: ProductVoice, 3: ProductNumberInsight, 4: ProductVerify, 5: ProductVerifySDK, 6: ProductMessages}

func productCode(p Product) byte {
	for i, q := range productCodes {
		if q == p && q != "" {
			return byte(i)
		}
	}
	return 0
}

var directionCodes = []Direction{1: Inbound, 2: Outbound}

var contentCodes = []ContentRetention{0: ContentDefault, 1: ContentRetain, 2: ContentDiscard}

var addressCodes = []AddressRetention{0: AddressDefault, 1: AddressRetain, 2: AddressObfuscate}

func codeOf[T comparable](codes []T, v T) byte {
	for i, c := range codes {
		if c == v {
			return byte(i)
		}
	}
	return 0
}

type encbuf struct{ b []byte }

func (e *encbuf) byte(c byte)      { e.b = append(e.b, c) }
func (e *encbuf) uvarint(u uint64) { e.b = binary.AppendUvarint(e.b, u) }
func (e *encbuf) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encbuf) time(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(t.UnixNano()) + 1)
}

// addr writes a from or to of codec v2: a number, an alias or nothing.
func (e *encbuf) addr(n e164.Number, a Alias) {
	switch {
	case n.IsValid():
		e.byte(addrE164)
		e.str(n.String())
	case !a.IsZero():
		e.byte(byte(a.Kind))
		e.str(a.Value)
	default:
		e.byte(addrNone)
		e.str("")
	}
}

// appendValue encodes r (validated by the caller) after dst.
func appendValue(dst []byte, r *Record) []byte {
	e := encbuf{b: dst}
	e.byte(codecNewest)
	e.byte(productCode(r.Product))
	e.byte(codeOf(directionCodes, r.Direction))
	e.addr(r.From, r.FromAlias)
	e.addr(r.To, r.ToAlias)
	e.str(r.Body)
	e.uvarint(uint64(len(r.Transcript)))
	for _, l := range r.Transcript {
		e.str(l)
	}
	e.str(r.RecordingURL)
	e.uvarint(uint64(len(r.Media)))
	for _, m := range r.Media {
		e.str(m.URL)
		e.time(m.ExpiresAt)
	}
	e.str(r.ConversationID)
	e.str(r.Status)
	e.str(r.Price)
	e.str(r.Currency)
	e.str(r.Network)
	e.str(r.ClientRef)
	e.time(r.EndedAt)
	e.time(r.CreatedAt)
	e.byte(codeOf(contentCodes, r.ContentRetention))
	e.byte(codeOf(addressCodes, r.AddressRetention))
	e.uvarint(uint64(r.Redacted.Fields))
	e.time(r.Redacted.At)
	e.str(r.Redacted.Masked)
	return e.b
}

// decbuf reads a value; its first error is sticky and checked once at the
// end. src is the same bytes as a string, ending where b ends: strings are
// cut from it, so one allocation backs every string of a record.
type decbuf struct {
	b   []byte
	src string
	err error
}

func (d *decbuf) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errCodec}, args...)...)
	}
}

func (d *decbuf) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("unexpected end")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decbuf) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return u
}

func (d *decbuf) str(max int) string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) || n > uint64(max) {
		d.fail("string of %d bytes", n)
		return ""
	}
	off := len(d.src) - len(d.b)
	s := d.src[off : off+int(n)]
	d.b = d.b[n:]
	return s
}

func (d *decbuf) count(max int) int {
	n := d.uvarint()
	// Each item takes at least one byte, so a count larger than what is
	// left cannot be honest; checking it bounds the allocation.
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.fail("list of %d items", n)
		return 0
	}
	return int(n)
}

func (d *decbuf) time() time.Time {
	u := d.uvarint()
	if u == 0 || d.err != nil {
		return time.Time{}
	}
	if u-1 > 1<<63-1 {
		d.fail("time out of range")
		return time.Time{}
	}
	return time.Unix(0, int64(u-1)).UTC()
}

func (d *decbuf) number() e164.Number {
	s := d.str(maxShortLen)
	if s == "" || d.err != nil {
		return e164.Number{}
	}
	n, err := e164.ParseCanonical(s)
	if err != nil {
		d.fail("bad number")
	}
	return n
}

// addr reads a from or to of codec v2.
func (d *decbuf) addr() (e164.Number, Alias) {
	kind := d.byte()
	if d.err != nil {
		return e164.Number{}, Alias{}
	}
	switch kind {
	case addrNone:
		if d.str(0); d.err != nil {
			d.err = nil
			d.fail("an absent address with a value")
		}
		return e164.Number{}, Alias{}
	case addrE164:
		n := d.number()
		if d.err == nil && !n.IsValid() {
			d.fail("an empty number")
		}
		return n, Alias{}
	case byte(AliasShortCode), byte(AliasSenderID):
		a := Alias{Kind: AliasKind(kind), Value: d.str(maxAliasBytes)}
		if d.err == nil && a.validate("address") != nil {
			d.fail("bad %s", a.Kind)
		}
		return e164.Number{}, a
	}
	d.fail("unknown address kind %d", kind)
	return e164.Number{}, Alias{}
}

func pick[T any](d *decbuf, codes []T, c byte, what string) T {
	var zero T
	if int(c) >= len(codes) {
		d.fail("unknown %s code %d", what, c)
		return zero
	}
	return codes[c]
}

// decodeValue decodes a records value into r; ID, StartedAt and Workspace
// come from the key and bucket. r's strings are cut from one copy of v. It
// never panics on bad bytes.
func decodeValue(v []byte, r *Record) error {
	d := decbuf{b: v, src: string(v)}
	ver := d.byte()
	switch {
	case d.err != nil:
		return d.err
	case ver != codecV1 && ver != codecV2:
		return fmt.Errorf("%w: unknown record version %d", errCodec, ver)
	}
	r.Product = pick(&d, productCodes, d.byte(), "product")
	if d.err == nil && r.Product == "" {
		d.fail("unknown product code 0")
	}
	r.Direction = pick(&d, directionCodes, d.byte(), "direction")
	if d.err == nil && r.Direction == "" {
		d.fail("unknown direction code 0")
	}
	if ver == codecV1 {
		r.From = d.number()
		r.To = d.number()
	} else {
		r.From, r.FromAlias = d.addr()
		r.To, r.ToAlias = d.addr()
		if d.err == nil && !r.FromAlias.IsZero() && !r.ToAlias.IsZero() {
			d.fail("two aliases")
		}
	}
	r.Body = d.str(maxTextLen)
	if n := d.count(maxListLen); n > 0 {
		r.Transcript = make([]string, n)
		for i := range r.Transcript {
			r.Transcript[i] = d.str(maxTextLen)
		}
	}
	r.RecordingURL = d.str(maxTextLen)
	if n := d.count(maxListLen); n > 0 {
		r.Media = make([]Media, n)
		for i := range r.Media {
			r.Media[i].URL = d.str(maxTextLen)
			r.Media[i].ExpiresAt = d.time()
		}
	}
	r.ConversationID = d.str(MaxConversationLen)
	r.Status = d.str(maxShortLen)
	r.Price = d.str(maxShortLen)
	r.Currency = d.str(maxShortLen)
	r.Network = d.str(maxShortLen)
	r.ClientRef = d.str(maxShortLen)
	r.EndedAt = d.time()
	r.CreatedAt = d.time()
	r.ContentRetention = pick(&d, contentCodes, d.byte(), "content retention")
	r.AddressRetention = pick(&d, addressCodes, d.byte(), "address retention")
	f := d.uvarint()
	if d.err == nil && f&^fieldAll != 0 {
		d.fail("unknown redacted field bits %#x", f)
	}
	r.Redacted.Fields = Field(f)
	r.Redacted.At = d.time()
	r.Redacted.Masked = d.str(maxShortLen)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// EncodeRecord returns the stored form of r: its records key and value.
// It validates r first and returns a *ValidationError if r is malformed.
// It is exported for tools and fuzzing; the store calls it on every Put.
func EncodeRecord(r *Record) (key, value []byte, err error) {
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	return appendRecordKey(nil, encodeTime(r.StartedAt), r.ID), appendValue(nil, r), nil
}

// DecodeRecord decodes a records key and value written by EncodeRecord (or
// any earlier format version) into a Record of workspace ws. Malformed bytes
// give an error matching ErrCorrupt, never a panic.
func DecodeRecord(ws string, key, value []byte) (Record, error) {
	var r Record
	if err := decodeRecord(ws, key, value, &r); err != nil {
		return Record{}, &CorruptionError{Workspace: ws, Bucket: string(bucketRecords), Key: describeKey(string(bucketRecords), key), Err: err}
	}
	return r, nil
}

func decodeRecord(ws string, key, value []byte, r *Record) error {
	ts, id, err := decodeRecordKey(key)
	if err != nil {
		return err
	}
	if ts == 0 || ts > 1<<63-1 {
		return fmt.Errorf("started_at out of range")
	}
	r.ID, r.Workspace, r.StartedAt = id, ws, decodeTime(ts)
	// One allocation for every string of the value: bbolt's bytes are
	// valid only inside the transaction, so the record takes a copy, and
	// one copy is cheaper than fifteen.
	return decodeValue(value, r)
}
