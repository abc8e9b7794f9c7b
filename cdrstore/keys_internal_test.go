package cdrstore

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/e164"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordKeyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   uint64
		id   string
	}{
		{"hex id", 1, "209ab3c7536542b91e8b5aef032f6861"},
		{"one byte", 1<<63 - 1, "x"},
		{"max id", 12345, strings.Repeat("a", MaxIDLen)},
		{"binary id", 99, "\xff\x01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := appendRecordKey(nil, tc.ts, tc.id)
			ts, id, err := decodeRecordKey(k)
			require.NoError(t, err)
			assert.Equal(t, tc.ts, ts)
			assert.Equal(t, tc.id, id)
		})
	}
}

func TestRecordKeyRejects(t *testing.T) {
	for _, k := range [][]byte{nil, make([]byte, 8), append(make([]byte, 8), strings.Repeat("a", MaxIDLen+1)...), append(make([]byte, 8), 'a', 0)} {
		_, _, err := decodeRecordKey(k)
		assert.Error(t, err, "%x", k)
	}
}

func TestNumberKeyRoundTrip(t *testing.T) {
	n := e164.MustParse("+2348031234567", "")
	k := appendNumberKey(nil, n, 42, "abc")
	got, rk, err := decodeNumberKey(k)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, appendRecordKey(nil, 42, "abc"), rk)

	term, rk, err := decodeTermKey(appendTermKey(nil, "conv-1", 7, "leg-a"))
	require.NoError(t, err)
	assert.Equal(t, "conv-1", term)
	assert.Equal(t, appendRecordKey(nil, 7, "leg-a"), rk)
}

// Sorting encoded keys gives the order of the (term, time, id) tuples.
func TestKeyOrderPreserved(t *testing.T) {
	type tuple struct {
		term string
		ts   uint64
		id   string
	}
	tuples := []tuple{
		{"+447911123456", 5, "b"}, {"+44770090012", 9, "a"}, {"+447911123456", 5, "a"},
		{"+447911123456", 1 << 40, "a"}, {"+14155551234", 3, "z"}, {"+447911123456", 255, "a"},
		{"+447911123456", 256, "a"},
	}
	var keys [][]byte
	for _, tu := range tuples {
		keys = append(keys, appendTermKey(nil, tu.term, tu.ts, tu.id))
	}
	slices.SortFunc(keys, bytes.Compare)
	slices.SortFunc(tuples, func(a, b tuple) int {
		if c := strings.Compare(a.term, b.term); c != 0 {
			return c
		}
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	for i, k := range keys {
		term, rk, err := decodeTermKey(k)
		require.NoError(t, err)
		ts, id, err := decodeRecordKey(rk)
		require.NoError(t, err)
		assert.Equal(t, tuples[i], tuple{term, ts, id}, "position %d", i)
	}
}

// A prefix scan for +4477 must not match +44770…: the terminator ends it.
func TestNumberPrefixBoundary(t *testing.T) {
	short := appendTermPrefix(nil, "+4477")
	long := appendTermKey(nil, "+44770", 1, "id")
	exact := appendTermKey(nil, "+4477", 1, "id")
	assert.False(t, bytes.HasPrefix(long, short))
	assert.True(t, bytes.HasPrefix(exact, short))
	// And time order within one number is byte order.
	assert.Negative(t, bytes.Compare(appendTermKey(nil, "+4477", 1, "z"), appendTermKey(nil, "+4477", 2, "a")))
}

func TestCursorRoundTrip(t *testing.T) {
	r := Record{ID: "abc", StartedAt: time.Unix(1700000000, 5).UTC()}
	after, err := decodeCursor(r.Cursor())
	require.NoError(t, err)
	assert.Equal(t, appendRecordKey(nil, encodeTime(r.StartedAt), "abc"), after)
	for _, bad := range []string{"", "!!!", "AA", "AwAAAAAAAAABYQ", "AQAAAAAAAAAB"} {
		_, err := decodeCursor(bad)
		assert.ErrorIs(t, err, ErrInvalidCursor, bad)
	}

	// A cursor handed out before format v2 (version 1, the ID as is)
	// resumes at the same record; a v2 cursor must hold the packed ID.
	hexID := "209ab3c7536542b91e8b5aef032f6861"
	v1 := base64.RawURLEncoding.EncodeToString(append(binary.BigEndian.AppendUint64([]byte{1}, 7), hexID...))
	after, err = decodeCursor(v1)
	require.NoError(t, err)
	assert.Equal(t, appendRecordKey(nil, 7, hexID), after)
	unpacked := base64.RawURLEncoding.EncodeToString(append(binary.BigEndian.AppendUint64([]byte{2}, 7), hexID...))
	_, err = decodeCursor(unpacked)
	assert.ErrorIs(t, err, ErrInvalidCursor)
}

// IDs of hex digits and UUIDs are packed; everything else is kept as is;
// each ID has exactly one encoding, and decoding refuses any other.
func TestIDForms(t *testing.T) {
	for _, c := range []struct {
		id   string
		want string // hex of the encoding
	}{
		{"209ab3c7536542b91e8b5aef032f6861", "0001209ab3c7536542b91e8b5aef032f6861"},
		{"0B00000127FDA4E1", "00020b00000127fda4e1"},
		{"1234567890123456", "00011234567890123456"}, // digits alone: lowercase form
		{"aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "0003aaaaaaaabbbbccccdddd0123456789ab"},
		{"abc", hex.EncodeToString([]byte("abc"))},                                                                   // too short to pack
		{"0123456789abcdeF", hex.EncodeToString([]byte("0123456789abcdeF"))},                                         // mixed case
		{"0123456789abcde", hex.EncodeToString([]byte("0123456789abcde"))},                                           // odd length
		{"AAAAAAAA-BBBB-CCCC-DDDD-0123456789AB", hex.EncodeToString([]byte("AAAAAAAA-BBBB-CCCC-DDDD-0123456789AB"))}, // uppercase UUID
		{"SM" + strings.Repeat("a", 32), hex.EncodeToString([]byte("SM" + strings.Repeat("a", 32)))},
		{strings.Repeat("f", 64), "0001" + strings.Repeat("ff", 32)},
	} {
		enc := appendID(nil, c.id)
		assert.Equal(t, c.want, hex.EncodeToString(enc), c.id)
		got, err := decodeID(enc)
		require.NoError(t, err, c.id)
		assert.Equal(t, c.id, got)
	}
	for _, bad := range []string{
		"",
		"00",                              // no form
		"0004" + strings.Repeat("ab", 8),  // unknown form
		"0002" + "1234567890123456",       // uppercase form without a letter
		"0001" + "abcd",                   // packs to 4 digits: too short to have been packed
		"0003" + strings.Repeat("ab", 15), // UUID of 15 bytes
		hex.EncodeToString([]byte(strings.Repeat("a", 32))), // packable ID stored as is
		"0001" + strings.Repeat("ab", 33),                   // 66 digits: longer than an ID
	} {
		b, err := hex.DecodeString(bad)
		require.NoError(t, err)
		_, err = decodeID(b)
		assert.Error(t, err, bad)
	}
}

func TestDescribeKeyMasksNumbers(t *testing.T) {
	k := appendNumberKey(nil, e164.MustParse("+2348031234567", ""), 1, "id")
	d := describeKey(string(bucketByNumber), k)
	assert.NotContains(t, d, "8031234567")
	assert.NotContains(t, d, "1234")
	d = describeKey(string(bucketByNumber), []byte("+2348031234567"))
	assert.NotContains(t, d, "1234")
}

func FuzzDecodeKey(f *testing.F) {
	f.Add(appendRecordKey(nil, 1, "abc"))
	f.Add(appendNumberKey(nil, e164.MustParse("+14155551234", ""), 77, "209ab3c7536542b91e8b5aef032f6861"))
	f.Add(appendTermKey(nil, "conv", 1<<62, "leg"))
	f.Add([]byte{0})
	f.Add([]byte("+1\x00"))
	f.Add(appendRecordKey(nil, 9, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"))
	f.Add(appendID(nil, "0B00000127FDA4E1"))
	f.Fuzz(func(t *testing.T, k []byte) {
		if id, err := decodeID(k); err == nil {
			require.Equal(t, k, appendID(nil, id), "one encoding per ID")
			require.NoError(t, ValidateID(id))
		}
		_ = describeKey(string(bucketByID), k)
		if ts, id, err := decodeRecordKey(k); err == nil {
			require.Equal(t, k, appendRecordKey(nil, ts, id))
		}
		if term, rk, err := decodeTermKey(k); err == nil {
			ts, id, err := decodeRecordKey(rk)
			require.NoError(t, err)
			require.Equal(t, k, appendTermKey(nil, term, ts, id))
		}
		if n, rk, err := decodeNumberKey(k); err == nil {
			ts, id, _ := decodeRecordKey(rk)
			require.Equal(t, k, appendNumberKey(nil, n, ts, id))
		}
		_, _ = decodeByIDValue(k)
		_ = describeKey(string(bucketByNumber), k)
		_ = describeKey(string(bucketRecords), k)
		_, _ = decodeCursor(string(k))
	})
}

// appendTermKey and appendNumberKey build an index key from its parts, as
// the format draws it; the store builds them from the records key
// (appendIndexKey).
func appendTermKey(dst []byte, term string, startedAt uint64, id string) []byte {
	return appendIndexKey(dst, term, appendRecordKey(nil, startedAt, id))
}

func appendNumberKey(dst []byte, n e164.Number, startedAt uint64, id string) []byte {
	return appendTermKey(dst, n.String(), startedAt, id)
}
