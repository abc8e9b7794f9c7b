package cdrstore

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// DefaultLimit is the number of records a query yields when Query.Limit is 0.
const DefaultLimit = 1000

// Query bounds a range query: a half-open time range [Since, Until) on
// started_at, a limit, and a cursor to resume after the last record of a
// previous page.
type Query struct {
	Since time.Time // inclusive; zero: from the first record
	Until time.Time // exclusive; zero: to the last record
	Limit int       // at most this many records; 0 means DefaultLimit
	// Cursor resumes after the record it names; take it from
	// [Record.Cursor] of the last record of the previous page. Empty
	// starts at Since.
	Cursor string
}

type bounds struct {
	since, until uint64
	after        []byte // records key of the cursor, nil if none
	limit        int
}

func (q Query) bounds() (bounds, error) {
	b := bounds{until: 1<<64 - 1, limit: q.Limit}
	if b.limit == 0 {
		b.limit = DefaultLimit
	}
	if b.limit < 0 {
		return b, &ValidationError{Field: "limit", Reason: "negative"}
	}
	if !q.Since.IsZero() {
		if err := validateTime("since", q.Since, true); err != nil {
			return b, err
		}
		b.since = encodeTime(q.Since)
	}
	if !q.Until.IsZero() {
		if err := validateTime("until", q.Until, true); err != nil {
			return b, err
		}
		b.until = encodeTime(q.Until)
	}
	if q.Cursor != "" {
		after, err := decodeCursor(q.Cursor)
		if err != nil {
			return b, err
		}
		b.after = after
	}
	return b, nil
}

// Cursor returns the opaque cursor that resumes a query after r. It holds
// r's started_at and ID, never a number.
func (r *Record) Cursor() string {
	k := append([]byte{cursorVersion}, appendRecordKey(nil, encodeTime(r.StartedAt), r.ID)...)
	return base64.RawURLEncoding.EncodeToString(k)
}

// CursorTime returns the started_at of the record cursor c names: where a
// query resumed from c starts, in time. The error matches ErrInvalidCursor.
func CursorTime(c string) (time.Time, error) {
	key, err := decodeCursor(c)
	if err != nil {
		return time.Time{}, err
	}
	return decodeTime(beUint64(key)), nil
}

func decodeCursor(s string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 1 || (raw[0] != cursorVersion && raw[0] != cursorV1) {
		return nil, fmt.Errorf("%w: not a cursor", ErrInvalidCursor)
	}
	if raw[0] == cursorV1 {
		// A cursor handed out before format v2 holds the ID as is.
		if len(raw) < 1+tsLen+1 || ValidateID(string(raw[1+tsLen:])) != nil {
			return nil, fmt.Errorf("%w: not a cursor", ErrInvalidCursor)
		}
		return appendRecordKey(nil, beUint64(raw[1:]), string(raw[1+tsLen:])), nil
	}
	if _, _, err := decodeRecordKey(raw[1:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCursor, err)
	}
	return raw[1:], nil
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
