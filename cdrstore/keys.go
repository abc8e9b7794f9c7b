package cdrstore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/e164"
)

// Bucket names and meta keys, with the format version that introduced them.
//
//	meta                      (v1)
//	  format      -> u32be    (v1) on-disk format version
//	  created_at  -> i64be    (v1) unix nanoseconds
//	  subject_key -> [32]byte (v1) generated HMAC key, absent when Options.SubjectKey is used
//	  subject_key_id -> [8]byte (v1) first 8 bytes of SHA-256(key)
//	  scrubbed_at -> u64be    (v1) unix nanoseconds of the last Scrub
//	ws                        (v1)
//	  <workspace>             (v1) one nested bucket per workspace
//	    records, by_id, by_number, by_conversation, settings, audit,
//	    optout, holds, outbox, requests, keys (all v1)
//	    by_subject            (format v3) HMAC(number)·started_at·id -> ""
//	    subject_of            (format v3) started_at·id -> HMAC(number)…
//	    tombstones            (format v3) term·HMAC·kind -> issued at; created
//	                          on the first tombstone (see tombstone.go)
var (
	bucketMeta = []byte("meta")
	bucketWS   = []byte("ws")

	metaFormat       = []byte("format")
	metaCreatedAt    = []byte("created_at")
	metaSubjectKey   = []byte("subject_key")
	metaSubjectKeyID = []byte("subject_key_id")
	metaScrubbedAt   = []byte("scrubbed_at")

	bucketRecords        = []byte("records")
	bucketByID           = []byte("by_id")
	bucketByNumber       = []byte("by_number")
	bucketByConversation = []byte("by_conversation")
	bucketAudit          = []byte("audit")

	// bucketTombstones is created by the first Tx.PutTombstone of a
	// workspace (format v3). MIGRATION (format v3): the v2 -> v3
	// migration needs no step for it, since a missing bucket holds no
	// tombstone; it goes into the shared v3 migration if eager creation
	// is ever wanted.
	bucketTombstones = []byte("tombstones")

	// The subject index (format v3; see subject.go): created by the first
	// record of a workspace that keeps content after losing a number.
	// MIGRATION (format v3): records that format v2 obfuscated while
	// keeping their content hold no number to link them by; the shared
	// v2 -> v3 migration cannot link them (check counts them).
	bucketBySubject = []byte("by_subject")
	bucketSubjectOf = []byte("subject_of")
)

// Name names one of a workspace's auxiliary buckets, reachable through
// [Tx.Bucket]. The records and their indexes are reachable only through the
// typed methods of Tx.
type Name string

// Auxiliary buckets of a workspace (format v1).
const (
	BucketSettings Name = "settings" // workspace policy
	BucketOptout   Name = "optout"   // HMAC(e164) -> since
	BucketHolds    Name = "holds"    // subject or id -> legal hold
	BucketOutbox   Name = "outbox"   // seq u64be -> pending external deletion
	BucketRequests Name = "requests" // request ID -> first result
	BucketKeys     Name = "keys"     // API credentials
)

var auxBuckets = []Name{BucketSettings, BucketOptout, BucketHolds, BucketOutbox, BucketRequests, BucketKeys}

func (n Name) valid() bool {
	for _, a := range auxBuckets {
		if a == n {
			return true
		}
	}
	return false
}

const tsLen = 8

// encodeTime maps an instant to its key bytes: UnixNano as u64be. Callers
// validate t first (1970-01-01 < t ≤ 2262-04-11).
func encodeTime(t time.Time) uint64 { return uint64(t.UnixNano()) }

func decodeTime(u uint64) time.Time { return time.Unix(0, int64(u)).UTC() }

// id, as it ends every key that names a record (format v2):
//
//	┌──────┬──────┬──────────────┐
//	│ 0x00 │ form │ packed bytes │   an ID in one of the forms below
//	└──────┴──────┴──────────────┘
//	┌──────────────┐
//	│ id (1–64)    │                  any other ID, as its bytes
//	└──────────────┘
//
// Forms: 1 lowercase hex digits, 2 uppercase hex digits (with at least one
// letter; digits alone are form 1), even length 16–64, packed two digits a
// byte; 3 a lowercase UUID (8-4-4-4-12), its 16 bytes. Most transaction IDs
// are one of these (the Redact API's 32 hex digits, UUIDs), and packing
// halves them in the records key and all three indexes. An ID never holds
// 0x00, so the leading 0x00 tells the forms apart, and decoding accepts
// only what encoding produces, so every ID has one key.
const (
	idHexLower = 1
	idHexUpper = 2
	idUUID     = 3
)

func appendID(dst []byte, id string) []byte {
	switch f := idForm(id); f {
	case idHexLower, idHexUpper:
		return appendHex(append(dst, 0, byte(f)), id)
	case idUUID:
		dst = append(dst, 0, idUUID)
		for _, part := range []string{id[0:8], id[9:13], id[14:18], id[19:23], id[24:36]} {
			dst = appendHex(dst, part)
		}
		return dst
	}
	return append(dst, id...)
}

// appendHex appends the bytes of h, an even number of hex digits that
// idForm has checked.
func appendHex(dst []byte, h string) []byte {
	dst, _ = hex.AppendDecode(dst, []byte(h))
	return dst
}

// idForm returns the packed form of id, or 0 when it is stored as is.
func idForm(id string) int {
	if len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-' {
		for i := 0; i < len(id); i++ {
			if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') && !(c == '-' && (i == 8 || i == 13 || i == 18 || i == 23)) {
				return 0
			}
		}
		return idUUID
	}
	if len(id) < 16 || len(id) > MaxIDLen || len(id)%2 != 0 {
		return 0
	}
	lower, upper := false, false
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			lower = true
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return 0
		}
	}
	switch {
	case lower && upper:
		return 0
	case upper:
		return idHexUpper
	}
	return idHexLower
}

// decodeID returns the ID stored as b, checking that b is the one encoding
// of a valid ID.
func decodeID(b []byte) (string, error) {
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("empty id")
	case b[0] != 0:
		id := string(b)
		if err := ValidateID(id); err != nil {
			return "", fmt.Errorf("id: %w", err)
		}
		if idForm(id) != 0 {
			return "", fmt.Errorf("id not in its canonical encoding")
		}
		return id, nil
	case len(b) < 2:
		return "", fmt.Errorf("packed id without a form")
	}
	form, p := b[1], b[2:]
	switch {
	case (form == idHexLower || form == idHexUpper) && len(p) >= 8 && len(p) <= MaxIDLen/2:
		if form == idHexUpper && !hasLetter(p) {
			// Digits alone are form 1: this is not how they are packed.
			return "", fmt.Errorf("id not in its canonical encoding")
		}
		digits := lowerHex
		if form == idHexUpper {
			digits = upperHex
		}
		out := make([]byte, 2*len(p))
		for i, c := range p {
			out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
		}
		return string(out), nil
	case form == idUUID && len(p) == 16:
		var out [36]byte
		j := 0
		for i, c := range p {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				out[j] = '-'
				j++
			}
			out[j], out[j+1] = lowerHex[c>>4], lowerHex[c&15]
			j += 2
		}
		return string(out[:]), nil
	}
	return "", fmt.Errorf("packed id of form %d and %d bytes", form, len(b))
}

const (
	lowerHex = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

// hasLetter reports whether the hex digits of p include one of a–f.
func hasLetter(p []byte) bool {
	for _, c := range p {
		if c>>4 >= 10 || c&15 >= 10 {
			return true
		}
	}
	return false
}

// records key:
//
//	┌──────────────────────┬──────────────┐
//	│ started_at u64be (8) │ id           │
//	└──────────────────────┴──────────────┘
func appendRecordKey(dst []byte, startedAt uint64, id string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, startedAt)
	return appendID(dst, id)
}

// recordKeyOf returns the records key of started_at ts and idKey, an ID as
// keys hold it (a by_id key: already packed).
func recordKeyOf(ts uint64, idKey []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, tsLen+len(idKey)), ts), idKey...)
}

func decodeRecordKey(k []byte) (startedAt uint64, id string, err error) {
	if len(k) < tsLen+1 || len(k) > tsLen+MaxIDLen {
		return 0, "", fmt.Errorf("records key of %d bytes", len(k))
	}
	if id, err = decodeID(k[tsLen:]); err != nil {
		return 0, "", fmt.Errorf("records key: %w", err)
	}
	return binary.BigEndian.Uint64(k), id, nil
}

// by_id key: id (see appendID); value: started_at u64be (8).
func decodeByIDValue(v []byte) (uint64, error) {
	if len(v) != tsLen {
		return 0, fmt.Errorf("by_id value of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// by_number key (value empty):
//
//	┌──────────────────┬──────┬──────────────────────┬────┐
//	│ e164 (8–16, '+') │ 0x00 │ started_at u64be (8) │ id │
//	└──────────────────┴──────┴──────────────────────┴────┘
//
// by_conversation key (value empty):
//
//	┌────────────────────────────┬──────┬──────────────────────┬────┐
//	│ conversation_id (1–128)    │ 0x00 │ started_at u64be (8) │ id │
//	└────────────────────────────┴──────┴──────────────────────┴────┘
//
// The 0x00 terminator keeps a scan for +4477 from matching +44770…, and
// the tail after it equals the records key, so no query needs a second hop.
//
// appendIndexKey returns term · 0x00 · recKey: the by_number or
// by_conversation entry for term of the record whose records key is
// recKey, without packing its ID again.
func appendIndexKey(dst []byte, term string, recKey []byte) []byte {
	return append(appendTermPrefix(dst, term), recKey...)
}

// appendTermPrefix returns term · 0x00, the prefix of every entry for term.
func appendTermPrefix(dst []byte, term string) []byte {
	dst = append(dst, term...)
	return append(dst, 0)
}

// decodeTermKey splits a by_number or by_conversation key into its term
// and the records key it points at (a sub-slice of k).
func decodeTermKey(k []byte) (term string, recKey []byte, err error) {
	i := bytes.IndexByte(k, 0)
	if i < 1 {
		return "", nil, fmt.Errorf("index key without a term")
	}
	recKey = k[i+1:]
	if _, _, err := decodeRecordKey(recKey); err != nil {
		return "", nil, err
	}
	return string(k[:i]), recKey, nil
}

func decodeNumberKey(k []byte) (e164.Number, []byte, error) {
	term, rk, err := decodeTermKey(k)
	if err != nil {
		return e164.Number{}, nil, err
	}
	n, err := e164.ParseCanonical(term)
	if err != nil {
		return e164.Number{}, nil, fmt.Errorf("by_number key: %w", err)
	}
	return n, rk, nil
}

// cursor (opaque to callers, base64url without padding):
//
//	┌─────────────┬──────────────────────┬───────────┐
//	│ version 0x02│ started_at u64be (8) │ id        │   id as in keys
//	└─────────────┴──────────────────────┴───────────┘
//
// It names the last record returned; a query resumes after it. It holds no
// number, so a by-number cursor can be handed to a client.
const (
	cursorVersion = 2 // the records key of format v2
	cursorV1      = 1 // started_at · the ID as is; still accepted
)

// describeKey renders a key of the named bucket for an error message, with
// any phone number masked.
func describeKey(bucket string, k []byte) string {
	switch bucket {
	case string(bucketRecords):
		if ts, id, err := decodeRecordKey(k); err == nil {
			return fmt.Sprintf("%s·%q", decodeTime(ts).Format(time.RFC3339Nano), id)
		}
	case string(bucketByID):
		if id, err := decodeID(k); err == nil {
			return fmt.Sprintf("%q", id)
		}
	case string(bucketByNumber):
		if i := bytes.IndexByte(k, 0); i >= 0 {
			head := e164.Mask(string(k[:i]))
			if ts, id, err := decodeRecordKey(k[i+1:]); err == nil {
				return fmt.Sprintf("%s·%s·%q", head, decodeTime(ts).Format(time.RFC3339Nano), id)
			}
			return head + "·" + hex.EncodeToString(k[i+1:])
		}
		return e164.Mask(string(k))
	case string(bucketTombstones):
		if len(k) == tombKeyLen {
			return fmt.Sprintf("term %d·%s·kind %d", k[0], hex.EncodeToString(k[1:tombKeyLen-1]), k[tombKeyLen-1])
		}
	case string(bucketByConversation):
		if term, rk, err := decodeTermKey(k); err == nil {
			ts, id, _ := decodeRecordKey(rk)
			return fmt.Sprintf("%q·%s·%q", term, decodeTime(ts).Format(time.RFC3339Nano), id)
		}
	}
	return hex.EncodeToString(k)
}
