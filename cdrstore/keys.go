package cdrstore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
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

// records key:
//
//	┌──────────────────────┬──────────────┐
//	│ started_at u64be (8) │ id (1–64)    │
//	└──────────────────────┴──────────────┘
func appendRecordKey(dst []byte, startedAt uint64, id string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, startedAt)
	return append(dst, id...)
}

func decodeRecordKey(k []byte) (startedAt uint64, id string, err error) {
	if len(k) < tsLen+1 || len(k) > tsLen+MaxIDLen {
		return 0, "", fmt.Errorf("records key of %d bytes", len(k))
	}
	id = string(k[tsLen:])
	if strings.IndexByte(id, 0) >= 0 {
		return 0, "", fmt.Errorf("records key id holds 0x00")
	}
	return binary.BigEndian.Uint64(k), id, nil
}

// by_id key: id (1–64 bytes); value: started_at u64be (8).
func decodeByIDValue(v []byte) (uint64, error) {
	if len(v) != tsLen {
		return 0, fmt.Errorf("by_id value of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// by_number key (value empty):
//
//	┌──────────────────┬──────┬──────────────────────┬───────────┐
//	│ e164 (8–16, '+') │ 0x00 │ started_at u64be (8) │ id (1–64) │
//	└──────────────────┴──────┴──────────────────────┴───────────┘
//
// by_conversation key (value empty):
//
//	┌────────────────────────────┬──────┬──────────────────────┬───────────┐
//	│ conversation_id (1–128)    │ 0x00 │ started_at u64be (8) │ id (1–64) │
//	└────────────────────────────┴──────┴──────────────────────┴───────────┘
//
// The 0x00 terminator keeps a scan for +4477 from matching +44770…, and
// the tail after it equals the records key, so no query needs a second hop.
func appendTermKey(dst []byte, term string, startedAt uint64, id string) []byte {
	dst = append(dst, term...)
	dst = append(dst, 0)
	return appendRecordKey(dst, startedAt, id)
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

func appendNumberKey(dst []byte, n e164.Number, startedAt uint64, id string) []byte {
	return appendTermKey(dst, n.String(), startedAt, id)
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
//	│ version 0x01│ started_at u64be (8) │ id (1–64) │
//	└─────────────┴──────────────────────┴───────────┘
//
// It names the last record returned; a query resumes after it. It holds no
// number, so a by-number cursor can be handed to a client.
const cursorVersion = 1

// describeKey renders a key of the named bucket for an error message, with
// any phone number masked.
func describeKey(bucket string, k []byte) string {
	switch bucket {
	case string(bucketRecords):
		if ts, id, err := decodeRecordKey(k); err == nil {
			return fmt.Sprintf("%s·%q", decodeTime(ts).Format(time.RFC3339Nano), id)
		}
	case string(bucketByID):
		if ValidateID(string(k)) == nil {
			return fmt.Sprintf("%q", k)
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
	case string(bucketByConversation):
		if term, rk, err := decodeTermKey(k); err == nil {
			ts, id, _ := decodeRecordKey(rk)
			return fmt.Sprintf("%q·%s·%q", term, decodeTime(ts).Format(time.RFC3339Nano), id)
		}
	}
	return hex.EncodeToString(k)
}
