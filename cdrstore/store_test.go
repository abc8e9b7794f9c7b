package cdrstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var (
	ada   = e164.MustParse("+2348031234567", "")
	bob   = e164.MustParse("+447911123456", "")
	plat  = e164.MustParse("+14155552671", "")
	t2026 = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
)

func sms(id string, at time.Time, to e164.Number, body string) cdrstore.Record {
	return cdrstore.Record{
		ID: id, Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: plat, To: to, Body: body, StartedAt: at, Status: "delivered", Price: "0.0065", Currency: "EUR",
	}
}

func collect(t *testing.T, s *cdrstore.Store, q func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool)) []string {
	t.Helper()
	var ids []string
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for r, err := range q(tx) {
			if err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
		return nil
	}))
	return ids
}

func TestPutGetDelete(t *testing.T) {
	s := storetest.Open(t, nil)
	r := fullRecord()
	require.NoError(t, s.Put(r))
	got, err := s.Get("acme", r.ID)
	require.NoError(t, err)
	assert.Equal(t, r, got)

	_, err = s.Get("other", r.ID)
	assert.ErrorIs(t, err, cdrstore.ErrNotFound, "workspaces are isolated")
	_, err = s.Get("acme", "nope")
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)

	del, err := s.Delete("acme", r.ID)
	require.NoError(t, err)
	assert.Equal(t, r, del)
	_, err = s.Get("acme", r.ID)
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)
	_, err = s.Delete("acme", r.ID)
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)
	assert.Empty(t, collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByNumber("acme", r.To, cdrstore.Query{})
	}))
}

// Remove deletes a record the caller read in the same transaction, with
// every index entry, as Delete does; a record that is not stored is
// ErrNotFound and nothing changes.
func TestRemove(t *testing.T) {
	s := storetest.Open(t, nil)
	r := fullRecord()
	other := sms("keep-1", r.StartedAt, r.To, "hi")
	require.NoError(t, s.PutBatch([]cdrstore.Record{r, other}))

	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		got, err := tx.Get("acme", r.ID)
		require.NoError(t, err)
		got.Body = "" // content may change before Remove
		moved := got
		moved.StartedAt = moved.StartedAt.Add(time.Second)
		assert.ErrorIs(t, tx.Remove(&moved), cdrstore.ErrNotFound)
		require.NoError(t, tx.Remove(&got))
		assert.ErrorIs(t, tx.Remove(&got), cdrstore.ErrNotFound, "already removed")
		return nil
	}))
	_, err := s.Get("acme", r.ID)
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)
	for _, n := range r.Numbers() {
		ids := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
			return tx.ByNumber("acme", n, cdrstore.Query{})
		})
		assert.NotContains(t, ids, r.ID)
	}
	assert.Empty(t, collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByConversation("acme", r.ConversationID, cdrstore.Query{})
	}))
	assert.Equal(t, []string{"keep-1"}, collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByTime("acme", cdrstore.Query{})
	}))
	require.NoError(t, s.Check(context.Background()), "no index entry is left pointing at the removed record")

	require.ErrorIs(t, s.View(func(tx *cdrstore.Tx) error { return tx.Remove(&other) }), cdrstore.ErrReadOnly)
}

// RemoveAll removes many records of several workspaces with every index
// entry, as Remove does each.
func TestRemoveAll(t *testing.T) {
	s := storetest.Open(t, nil)
	var rs []cdrstore.Record
	for i := range 50 {
		r := sms(fmt.Sprintf("%032x", i), t2026.Add(time.Duration(i)*time.Minute), bob, "hi")
		if i%2 == 1 {
			r.Workspace = "globex"
		}
		if i%5 == 0 {
			r.ConversationID = fmt.Sprintf("conv-%d", i)
		}
		rs = append(rs, r)
	}
	require.NoError(t, s.PutBatch(rs))
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error { return tx.RemoveAll(rs[:40]) }))
	for _, ws := range []string{"acme", "globex"} {
		ids := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
			return tx.ByNumber(ws, bob, cdrstore.Query{})
		})
		assert.Len(t, ids, 5, ws)
	}
	require.NoError(t, s.Check(context.Background()))

	// Records 40, 42 and 44 (acme) go before rs[0], removed above, fails:
	// the transaction must roll them back.
	err := s.Update(func(tx *cdrstore.Tx) error { return tx.RemoveAll(append(slices.Clone(rs[40:45]), rs[0])) })
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	n := 0
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range []string{"acme", "globex"} {
			c, err := tx.Count(ws)
			n += c
			if err != nil {
				return err
			}
		}
		return nil
	}))
	assert.Equal(t, 10, n, "the failed transaction removed nothing")
}

// Put is an upsert: the indexes follow the difference between the old
// record and the new one.
func TestPutMaintainsIndexesFromDiff(t *testing.T) {
	s := storetest.Open(t, nil)
	r := sms("m1", t2026, ada, "hello")
	r.ConversationID = "c1"
	require.NoError(t, s.Put(r))

	byNum := func(n e164.Number) []string {
		return collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
			return tx.ByNumber("acme", n, cdrstore.Query{})
		})
	}
	byConv := func(c string) []string {
		return collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
			return tx.ByConversation("acme", c, cdrstore.Query{})
		})
	}
	assert.Equal(t, []string{"m1"}, byNum(ada))
	assert.Equal(t, []string{"m1"}, byNum(plat))

	// The counterparty changes: the old number leaves the index.
	r.To = bob
	r.ConversationID = "c2"
	require.NoError(t, s.Put(r))
	assert.Empty(t, byNum(ada))
	assert.Equal(t, []string{"m1"}, byNum(bob))
	assert.Empty(t, byConv("c1"))
	assert.Equal(t, []string{"m1"}, byConv("c2"))

	// The number is removed altogether (a redaction).
	r.To = e164.Number{}
	require.NoError(t, s.Put(r))
	assert.Empty(t, byNum(bob))
	assert.Equal(t, []string{"m1"}, byNum(plat))

	// The record moves in time: every entry follows it.
	r.To = ada
	r.StartedAt = t2026.Add(time.Hour)
	require.NoError(t, s.Put(r))
	got := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByNumber("acme", ada, cdrstore.Query{Since: t2026.Add(30 * time.Minute)})
	})
	assert.Equal(t, []string{"m1"}, got)
	assert.Equal(t, []string{"m1"}, collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByTime("acme", cdrstore.Query{})
	}))
	require.NoError(t, s.Check(context.Background()))
}

// putPaths are the ways a caller writes records; each must keep a stored
// record's redactions.
var putPaths = []struct {
	name string
	put  func(*cdrstore.Store, cdrstore.Record) error
}{
	{"Store.Put", (*cdrstore.Store).Put},
	{"Tx.Put", func(s *cdrstore.Store, r cdrstore.Record) error {
		return s.Update(func(tx *cdrstore.Tx) error { return tx.Put(r) })
	}},
	{"PutBatch", func(s *cdrstore.Store, r cdrstore.Record) error { return s.PutBatch([]cdrstore.Record{r}) }},
	{"PutGrouped", func(s *cdrstore.Store, r cdrstore.Record) error { return s.PutGrouped([]cdrstore.Record{r}) }},
}

// contentful is an outbound message to ada with every kind of content.
func contentful(id string) cdrstore.Record {
	return cdrstore.Record{
		ID: id, Workspace: "acme", Product: cdrstore.ProductMessages, Direction: cdrstore.Outbound,
		From: plat, To: ada, Body: "my card number is 4111", Transcript: []string{"hello, is that Ada?"},
		RecordingURL: "https://media.example.net/rec/" + id + ".mp3",
		Media:        []cdrstore.Media{{URL: "https://media.example.net/m/" + id + ".jpg"}},
		StartedAt:    t2026, Status: "delivered",
	}
}

// Re-ingesting a record (a message bus delivers it again, the same file
// is ingested twice) never undoes a redaction: fields the stored record
// marks as redacted keep their redacted values, a removed number stays out
// of the record and of by_number, and the marks stay; fields that were
// not redacted take the new values.
func TestRePutNeverUndoesRedaction(t *testing.T) {
	redactedAt := t2026.Add(48 * time.Hour)
	for _, tc := range []struct {
		name   string
		redact func(r *cdrstore.Record) // as the redaction package writes it
		gone   bool                     // the counterparty's number left the record
	}{
		{"redact by ID", func(r *cdrstore.Record) {
			r.Body, r.Transcript, r.RecordingURL, r.Media, r.To = "", nil, "", nil, e164.Number{}
			r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldTranscript | cdrstore.FieldRecording | cdrstore.FieldMedia | cdrstore.FieldTo, At: redactedAt}
		}, true},
		{"contact erasure", func(r *cdrstore.Record) {
			r.Body, r.Transcript, r.RecordingURL, r.Media = "[REDACTED]", []string{"[REDACTED]"}, "", nil
			r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldTranscript | cdrstore.FieldRecording | cdrstore.FieldMedia, At: redactedAt}
		}, false},
		{"auto-redaction with obfuscation", func(r *cdrstore.Record) {
			r.Body, r.Transcript, r.RecordingURL, r.Media = "", nil, "", nil
			r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldTranscript | cdrstore.FieldRecording | cdrstore.FieldMedia, At: redactedAt}
			r.Redacted.Masked = r.To.Obfuscate()
			r.Redacted.Fields |= cdrstore.FieldToObfuscated
			r.To = e164.Number{}
		}, true},
	} {
		for _, path := range putPaths {
			t.Run(tc.name+"/"+path.name, func(t *testing.T) {
				s := storetest.Open(t, nil)
				orig := contentful("c1")
				require.NoError(t, s.Put(orig))
				redacted := orig.Clone()
				tc.redact(&redacted)
				require.NoError(t, s.Put(redacted))

				again := orig.Clone()
				again.Status = "read" // a field the redaction did not touch
				require.NoError(t, path.put(s, again))

				got, err := s.Get("acme", "c1")
				require.NoError(t, err)
				want := redacted.Clone()
				want.Status = "read"
				assert.Equal(t, want, got, "the redacted content, number and marks stay; the status is new")
				ids := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
					return tx.ByNumber("acme", ada, cdrstore.Query{})
				})
				if tc.gone {
					assert.Empty(t, ids, "the removed number does not come back into by_number")
				} else {
					assert.Equal(t, []string{"c1"}, ids)
				}
				assert.Equal(t, []string{"c1"}, collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
					return tx.ByNumber("acme", plat, cdrstore.Query{})
				}))
			})
		}
	}
}

// A replace may redact further: removing what an earlier redaction left
// (the "[REDACTED]" placeholder, an obfuscated number) takes effect, and
// writing the same redaction again changes nothing.
func TestRePutMayRedactFurther(t *testing.T) {
	s := storetest.Open(t, nil)
	erasedAt, redactedAt := t2026.Add(24*time.Hour), t2026.Add(48*time.Hour)

	// Contact erasure, then a redaction by ID.
	r := contentful("c1")
	require.NoError(t, s.Put(r))
	r.Body, r.Transcript, r.RecordingURL, r.Media = "[REDACTED]", []string{"[REDACTED]"}, "", nil
	r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldTranscript | cdrstore.FieldRecording | cdrstore.FieldMedia, At: erasedAt}
	require.NoError(t, s.Put(r))
	r.Body, r.Transcript, r.To = "", nil, e164.Number{}
	r.Redacted.Fields |= cdrstore.FieldTo
	r.Redacted.At = redactedAt
	require.NoError(t, s.Put(r))
	got, err := s.Get("acme", "c1")
	require.NoError(t, err)
	assert.Equal(t, r, got)

	// Obfuscation, then a redaction by ID that removes the masked form.
	o := contentful("c2")
	require.NoError(t, s.Put(o))
	o.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldToObfuscated, At: erasedAt, Masked: o.To.Obfuscate()}
	o.To = e164.Number{}
	require.NoError(t, s.Put(o))
	o.Body, o.Transcript, o.RecordingURL, o.Media = "", nil, "", nil
	o.Redacted.Masked = ""
	o.Redacted.Fields |= cdrstore.FieldBody | cdrstore.FieldTranscript | cdrstore.FieldRecording | cdrstore.FieldMedia | cdrstore.FieldFrom | cdrstore.FieldTo
	o.Redacted.At = redactedAt
	require.NoError(t, s.Put(o))
	got, err = s.Get("acme", "c2")
	require.NoError(t, err)
	assert.Equal(t, o, got)
	assert.Empty(t, got.Redacted.Masked, "the masked number is gone too")

	// Re-ingesting the original now keeps all of it.
	require.NoError(t, s.PutBatch([]cdrstore.Record{contentful("c1"), contentful("c2")}))
	for _, want := range []cdrstore.Record{r, o} {
		got, err := s.Get("acme", want.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	assert.Empty(t, collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByNumber("acme", ada, cdrstore.Query{})
	}))
}

func TestQueriesRangeLimitCursor(t *testing.T) {
	s := storetest.Open(t, nil)
	var batch []cdrstore.Record
	for i := range 25 {
		to := ada
		if i%5 == 0 {
			to = bob
		}
		batch = append(batch, sms(fmt.Sprintf("m%02d", i), t2026.Add(time.Duration(i)*time.Minute), to, "x"))
	}
	require.NoError(t, s.PutBatch(batch))

	var pages [][]string
	q := cdrstore.Query{Limit: 7}
	for {
		var page []string
		var last cdrstore.Record
		require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
			for r, err := range tx.ByNumber("acme", ada, q) {
				require.NoError(t, err)
				page = append(page, r.ID)
				last = r
			}
			return nil
		}))
		if len(page) == 0 {
			break
		}
		pages = append(pages, page)
		q.Cursor = last.Cursor()
	}
	require.Len(t, pages, 3)
	assert.Len(t, pages[0], 7)
	assert.Len(t, pages[2], 6)
	assert.Equal(t, "m01", pages[0][0])
	assert.Equal(t, "m24", pages[2][5])

	inRange := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByNumber("acme", bob, cdrstore.Query{Since: t2026.Add(5 * time.Minute), Until: t2026.Add(15 * time.Minute)})
	})
	assert.Equal(t, []string{"m05", "m10"}, inRange, "since inclusive, until exclusive")

	byTime := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByTime("acme", cdrstore.Query{Since: t2026.Add(23 * time.Minute)})
	})
	assert.Equal(t, []string{"m23", "m24"}, byTime)

	// A cursor before Since does not widen the range.
	first := batch[0]
	got := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByTime("acme", cdrstore.Query{Since: t2026.Add(24 * time.Minute), Cursor: first.Cursor()})
	})
	assert.Equal(t, []string{"m24"}, got)

	err := s.View(func(tx *cdrstore.Tx) error {
		for _, err := range tx.ByTime("acme", cdrstore.Query{Cursor: "garbage!"}) {
			return err
		}
		return nil
	})
	assert.ErrorIs(t, err, cdrstore.ErrInvalidCursor)
}

// A prefix scan for one number never returns a longer number that starts
// with it.
func TestByNumberPrefixBoundary(t *testing.T) {
	s := storetest.Open(t, nil)
	short := e164.MustParse("+442079460000", "")
	require.NoError(t, s.Put(sms("a", t2026, short, "x")))
	long, err := e164.ParseCanonical("+4420794600001")
	require.NoError(t, err)
	require.NoError(t, s.Put(sms("b", t2026, long, "x")))
	got := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByNumber("acme", short, cdrstore.Query{})
	})
	assert.Equal(t, []string{"a"}, got)
}

// Bad input returns a typed error and writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	s := storetest.Open(t, nil)
	require.NoError(t, s.Put(sms("keep", t2026, ada, "kept")))
	var before bytes.Buffer
	require.NoError(t, s.Dump(&before))

	for _, tc := range []struct {
		name  string
		mod   func(r *cdrstore.Record)
		field string
	}{
		{"empty id", func(r *cdrstore.Record) { r.ID = "" }, "id"},
		{"id over 64 bytes", func(r *cdrstore.Record) { r.ID = strings.Repeat("a", 65) }, "id"},
		{"id with 0x00", func(r *cdrstore.Record) { r.ID = "a\x00b" }, "id"},
		{"workspace with 0x00", func(r *cdrstore.Record) { r.Workspace = "ac\x00me" }, "workspace"},
		{"empty workspace", func(r *cdrstore.Record) { r.Workspace = "" }, "workspace"},
		{"unknown product", func(r *cdrstore.Record) { r.Product = "fax" }, "product"},
		{"unknown direction", func(r *cdrstore.Record) { r.Direction = "sideways" }, "direction"},
		{"missing started_at", func(r *cdrstore.Record) { r.StartedAt = time.Time{} }, "started_at"},
		{"started_at before 1970", func(r *cdrstore.Record) { r.StartedAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "started_at"},
		{"ended before started", func(r *cdrstore.Record) { r.EndedAt = r.StartedAt.Add(-time.Second) }, "ended_at"},
		{"float price", func(r *cdrstore.Record) { r.Price = "1e-3" }, "price"},
		{"conversation with 0x00", func(r *cdrstore.Record) { r.ConversationID = "c\x00" }, "conversation_id"},
		{"bad content retention", func(r *cdrstore.Record) { r.ContentRetention = "forever" }, "content_retention"},
		{"bad address retention", func(r *cdrstore.Record) { r.AddressRetention = "hash" }, "address_retention"},
		{"media without url", func(r *cdrstore.Record) { r.Media = []cdrstore.Media{{}} }, "media"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sms("new", t2026, ada, "secret body 4567")
			tc.mod(&r)
			for _, err := range []error{s.Put(r), s.PutBatch([]cdrstore.Record{sms("good", t2026, bob, "fine"), r})} {
				require.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
				var ve *cdrstore.ValidationError
				require.ErrorAs(t, err, &ve)
				assert.Equal(t, tc.field, ve.Field)
				assert.NotContains(t, err.Error(), "secret body")
				assert.NotContains(t, err.Error(), "8031234567")
			}
			var after bytes.Buffer
			require.NoError(t, s.Dump(&after))
			assert.Equal(t, before.String(), after.String(), "nothing written")
		})
	}

	for _, id := range []string{"", strings.Repeat("a", 65), "a\x00"} {
		_, err := s.Get("acme", id)
		assert.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
	}
	_, err := s.Get("ac\x00me", "keep")
	assert.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
	err = s.View(func(tx *cdrstore.Tx) error {
		for _, err := range tx.ByNumber("acme", e164.Number{}, cdrstore.Query{}) {
			return err
		}
		return nil
	})
	assert.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
}

// Concurrent PutGrouped calls each store their records whole; a malformed
// record is refused before its call joins a commit, and fails that call
// only.
func TestPutGrouped(t *testing.T) {
	s := storetest.Open(t, nil)
	const writers, each = 16, 20
	errs := make(chan error, writers)
	for g := range writers {
		go func() {
			var rs []cdrstore.Record
			for i := range each {
				rs = append(rs, sms(fmt.Sprintf("g%d-%d", g, i), t2026.Add(time.Duration(g*each+i)*time.Second), bob, "hi"))
			}
			if g == 3 {
				rs[5].Product = "fax"
			}
			errs <- s.PutGrouped(rs)
		}()
	}
	failed := 0
	for range writers {
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
			failed++
		}
	}
	assert.Equal(t, 1, failed)
	ids := collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
		return tx.ByNumber("acme", bob, cdrstore.Query{Limit: 1000})
	})
	assert.Len(t, ids, (writers-1)*each)
	assert.NotContains(t, ids, "g3-0")
	require.NoError(t, s.Check(context.Background()))
}

// A batch behaves as Put-ing its records in order: of two records with
// the same workspace and ID, the later in the slice wins, whichever
// started first, and the indexes hold only the winner.
func TestPutBatchAtomicAndLastWins(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, last time.Time // StartedAt of the first and last occurrence
	}{
		{"last starts later", t2026, t2026.Add(time.Second)},
		{"last starts earlier", t2026.Add(time.Second), t2026},
		{"same start", t2026, t2026},
	} {
		for _, put := range []struct {
			name string
			fn   func(*cdrstore.Store, []cdrstore.Record) error
		}{
			{"PutBatch", (*cdrstore.Store).PutBatch},
			{"PutGrouped", (*cdrstore.Store).PutGrouped},
		} {
			t.Run(tc.name+"/"+put.name, func(t *testing.T) {
				s := storetest.Open(t, nil)
				orig := sms("dup", tc.first, ada, "orig")
				orig.ConversationID = "c-orig"
				corrected := sms("dup", tc.last, bob, "corrected")
				corrected.ConversationID = "c-corrected"
				other := sms("other", t2026.Add(500*time.Millisecond), bob, "other")
				require.NoError(t, put.fn(s, []cdrstore.Record{orig, other, corrected}))

				got, err := s.Get("acme", "dup")
				require.NoError(t, err)
				assert.Equal(t, corrected, got)
				byNum := func(n e164.Number) []string {
					return collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
						return tx.ByNumber("acme", n, cdrstore.Query{})
					})
				}
				assert.Empty(t, byNum(ada), "the replaced record's number left the index")
				assert.ElementsMatch(t, []string{"dup", "other"}, byNum(bob))
				assert.Empty(t, collect(t, s, func(tx *cdrstore.Tx) func(func(cdrstore.Record, error) bool) {
					return tx.ByConversation("acme", "c-orig", cdrstore.Query{})
				}))
				var times []time.Time
				require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
					for r, err := range tx.ByTime("acme", cdrstore.Query{}) {
						if err != nil {
							return err
						}
						if r.ID == "dup" {
							times = append(times, r.StartedAt)
						}
					}
					return nil
				}))
				assert.Equal(t, []time.Time{tc.last}, times, "one record, at the winner's time")
				require.NoError(t, s.Check(context.Background()))
			})
		}
	}
}

// A populated map behaves like any other, across the remaps of a growing
// file and in a read-only open.
func TestPopulateMmap(t *testing.T) {
	f := storetest.BuildFixture(t, 3000)
	p := filepath.Join(t.TempDir(), "s.db")
	storetest.CopyFile(t, f.Path, p)
	s, err := cdrstore.Open(p, &cdrstore.Options{PopulateMmap: true, NoSync: true})
	require.NoError(t, err)
	batch := make([]cdrstore.Record, 2000)
	for i := range batch {
		batch[i] = sms(fmt.Sprintf("grow-%d", i), t2026.Add(time.Duration(i)*time.Second), bob, strings.Repeat("x", 2000))
	}
	require.NoError(t, s.PutBatch(batch), "grows the file past its map")
	got, err := s.Get("acme", f.IDs[17])
	require.NoError(t, err)
	assert.Equal(t, f.IDs[17], got.ID)
	require.NoError(t, s.Close())

	ro, err := cdrstore.Open(p, &cdrstore.Options{PopulateMmap: true, ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	require.NoError(t, ro.Check(context.Background()))
	got, err = ro.Get("acme", "grow-1999")
	require.NoError(t, err)
	assert.Len(t, got.Body, 2000)
}

func TestReopenAndOptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Put(fullRecord()))
	assert.True(t, s.SubjectKeyInFile())
	h1 := s.SubjectHMAC("+2348031234567")

	// A second opener waits for the lock, then fails with ErrLocked.
	_, err = cdrstore.Open(path, &cdrstore.Options{LockTimeout: 50 * time.Millisecond, ReadOnly: true})
	require.ErrorIs(t, err, cdrstore.ErrLocked)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.Get("acme", "x")
	require.ErrorIs(t, err, cdrstore.ErrClosed)
	require.ErrorIs(t, s.Put(fullRecord()), cdrstore.ErrClosed)

	ro, err := cdrstore.Open(path, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	got, err := ro.Get("acme", fullRecord().ID)
	require.NoError(t, err)
	assert.Equal(t, fullRecord(), got)
	assert.Equal(t, h1, ro.SubjectHMAC("+2348031234567"), "the generated key persists")
	require.ErrorIs(t, ro.Put(fullRecord()), cdrstore.ErrReadOnly)
	require.NoError(t, ro.Close())

	_, err = cdrstore.Open(path, &cdrstore.Options{SubjectKey: bytes.Repeat([]byte{1}, 32)})
	require.ErrorIs(t, err, cdrstore.ErrKeyMismatch)
	_, err = cdrstore.Open(path, &cdrstore.Options{SubjectKey: []byte("short")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SubjectKey")

	_, err = cdrstore.Open(filepath.Join(dir, "missing.db"), &cdrstore.Options{ReadOnly: true})
	require.Error(t, err)
}

func TestOpenRejectsNewerFormatAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint32(nil, cdrstore.FormatNewest+1))
	})
	_, err = cdrstore.Open(path, nil)
	require.ErrorIs(t, err, cdrstore.ErrUnsupportedFormat)
	_, err = cdrstore.Open(path, &cdrstore.Options{ReadOnly: true})
	require.ErrorIs(t, err, cdrstore.ErrUnsupportedFormat)

	// A file that is not bbolt at all.
	junk := filepath.Join(dir, "junk.db")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte("not a store "), 2000), 0o600))
	_, err = cdrstore.Open(junk, nil)
	require.ErrorIs(t, err, cdrstore.ErrCorrupt)

	// An empty file is not a store to a read-only open, which writes
	// nothing (a writable open makes it one).
	zero := filepath.Join(dir, "zero.db")
	require.NoError(t, os.WriteFile(zero, nil, 0o600))
	_, err = cdrstore.Open(zero, &cdrstore.Options{ReadOnly: true})
	require.ErrorIs(t, err, cdrstore.ErrCorrupt)
	fi, err := os.Stat(zero)
	require.NoError(t, err)
	assert.Zero(t, fi.Size())

	// A bbolt file of another application is refused, by a writable open
	// too, and left byte for byte as it was: only a file without buckets
	// becomes a store.
	for _, tc := range []struct {
		name    string
		buckets []string
	}{
		{"members bucket", []string{"members"}},
		{"ws bucket", []string{"ws"}},
		{"meta bucket", []string{"meta"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "other.db")
			rawUpdate(t, other, func(tx *bolt.Tx) error {
				for _, name := range tc.buckets {
					b, err := tx.CreateBucket([]byte(name))
					if err != nil {
						return err
					}
					if err := b.Put([]byte("alice"), []byte("admin")); err != nil {
						return err
					}
				}
				return nil
			})
			before, err := os.ReadFile(other)
			require.NoError(t, err)
			for _, opts := range []*cdrstore.Options{nil, {ReadOnly: true}} {
				s, err := cdrstore.Open(other, opts)
				if err == nil {
					s.Close()
				}
				require.ErrorIs(t, err, cdrstore.ErrCorrupt)
				var ce *cdrstore.CorruptionError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, "meta", ce.Bucket)
			}
			after, err := os.ReadFile(other)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(before, after), "the file is unchanged")
			db, err := bolt.Open(other, 0o600, &bolt.Options{ReadOnly: true})
			require.NoError(t, err)
			defer db.Close()
			require.NoError(t, db.View(func(tx *bolt.Tx) error {
				var names []string
				err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
					names = append(names, string(name))
					return nil
				})
				assert.Equal(t, tc.buckets, names, "no bucket was added")
				return err
			}))
		})
	}

	// A bbolt file without buckets becomes a store.
	empty := filepath.Join(dir, "empty.db")
	rawUpdate(t, empty, func(*bolt.Tx) error { return nil })
	s, err = cdrstore.Open(empty, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Put(sms("m1", t2026, ada, "hi")))
	require.NoError(t, s.Check(context.Background()))
	require.NoError(t, s.Close())
}

// A truncated file is refused with a typed error, not a fault.
func TestOpenTruncatedFile(t *testing.T) {
	f := storetest.BuildFixture(t, 3000)
	for _, damageMeta0 := range []bool{false, true} {
		for _, keep := range []int64{2, 3, 10} { // keep 1/keep of the file
			p := filepath.Join(t.TempDir(), "s.db")
			storetest.CopyFile(t, f.Path, p)
			fi, err := os.Stat(p)
			require.NoError(t, err)
			if damageMeta0 {
				// bbolt then reads the second meta page; so must the
				// size check, or bbolt maps the short file and faults.
				fh, err := os.OpenFile(p, os.O_RDWR, 0)
				require.NoError(t, err)
				_, err = fh.WriteAt(bytes.Repeat([]byte{0xAB}, 64), 16)
				require.NoError(t, err)
				require.NoError(t, fh.Close())
			}
			require.NoError(t, os.Truncate(p, fi.Size()/keep))
			_, err = cdrstore.Open(p, nil)
			require.ErrorIs(t, err, cdrstore.ErrCorrupt, "meta 0 damaged: %v, kept 1/%d", damageMeta0, keep)
			assert.Contains(t, err.Error(), "truncated")
		}
	}
}

// A damaged page is a typed error, not a panic, whether Open reads it (the
// free page list) or Check finds it in the tree; neither error holds key
// bytes, which may be phone numbers.
func TestOpenDamagedPage(t *testing.T) {
	f := storetest.BuildFixture(t, 3000)
	for _, target := range []string{"freelist", "by_number"} {
		t.Run(target, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "s.db")
			storetest.CopyFile(t, f.Path, p)
			var page int
			db, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
			require.NoError(t, err)
			require.NoError(t, db.View(func(tx *bolt.Tx) error {
				if target == "by_number" {
					page = int(tx.Bucket([]byte("ws")).Bucket([]byte("acme")).Bucket([]byte("by_number")).Root())
					return nil
				}
				for id := 2; id < int(tx.Size())/db.Info().PageSize; id++ {
					if info, err := tx.Page(id); err == nil && info != nil && info.Type == "freelist" {
						page = id
						return nil
					}
				}
				return nil
			}))
			pageSize := int64(db.Info().PageSize)
			require.NoError(t, db.Close())
			require.NotZero(t, page, "no %s page found", target)

			file, err := os.OpenFile(p, os.O_RDWR, 0)
			require.NoError(t, err)
			orig := make([]byte, pageSize)
			_, err = file.ReadAt(orig, int64(page)*pageSize)
			require.NoError(t, err)
			_, err = file.WriteAt(bytes.Repeat([]byte{0xAB}, int(pageSize)), int64(page)*pageSize)
			require.NoError(t, err)

			s, err := cdrstore.Open(p, nil)
			if err == nil {
				err = s.Check(context.Background())
				require.NoError(t, s.Close())
			}
			require.ErrorIs(t, err, cdrstore.ErrCorrupt)
			assert.NotContains(t, err.Error(), "+")

			// The failed open let go of the file: once repaired, it opens
			// (it did not wait out the lock timeout for ErrLocked).
			_, err = file.WriteAt(orig, int64(page)*pageSize)
			require.NoError(t, err)
			require.NoError(t, file.Close())
			s, err = cdrstore.Open(p, &cdrstore.Options{LockTimeout: 100 * time.Millisecond})
			require.NoError(t, err)
			require.NoError(t, s.Close())
		})
	}
}

func TestFormatNumbersPinned(t *testing.T) {
	assert.Equal(t, uint32(1), cdrstore.FormatV1)
	assert.Equal(t, uint32(2), cdrstore.FormatV2)
	assert.Equal(t, uint32(3), cdrstore.FormatV3)
	assert.Equal(t, cdrstore.FormatV3, cdrstore.FormatNewest)
	assert.Equal(t, cdrstore.FormatV1, cdrstore.FormatMinSupported)
	// The record codec's versions and the address kinds codec v2 writes.
	assert.Equal(t, byte(1), cdrstore.CodecV1)
	assert.Equal(t, byte(2), cdrstore.CodecV2)
	assert.Equal(t, cdrstore.CodecV2, cdrstore.CodecNewest)
	assert.Equal(t, cdrstore.AliasKind(2), cdrstore.AliasShortCode)
	assert.Equal(t, cdrstore.AliasKind(3), cdrstore.AliasSenderID)
}

func rawUpdate(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	require.NoError(t, db.Close())
}

func wsBucket(tx *bolt.Tx, ws, name string) *bolt.Bucket {
	return tx.Bucket([]byte("ws")).Bucket([]byte(ws)).Bucket([]byte(name))
}

// Corrupt bytes on disk give typed errors naming bucket and key, never a
// panic, and never a plaintext number.
func TestCorruptionIsTyped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	r := sms("m1", t2026, ada, "hello")
	require.NoError(t, s.PutBatch([]cdrstore.Record{r, sms("m2", t2026.Add(time.Minute), ada, "there")}))
	require.NoError(t, s.Close())

	for _, tc := range []struct {
		name   string
		break_ func(tx *bolt.Tx) error
		bucket string
	}{
		{"truncated record value", func(tx *bolt.Tx) error {
			b := wsBucket(tx, "acme", "records")
			k, v := b.Cursor().First()
			return b.Put(k, append([]byte(nil), v[:len(v)/2]...))
		}, "records"},
		{"flipped record byte", func(tx *bolt.Tx) error {
			b := wsBucket(tx, "acme", "records")
			k, v := b.Cursor().First()
			v = append([]byte(nil), v...)
			v[1] = 0x7f
			return b.Put(k, v)
		}, "records"},
		{"missing by_number entry", func(tx *bolt.Tx) error {
			b := wsBucket(tx, "acme", "by_number")
			k, _ := b.Cursor().First()
			return b.Delete(k)
		}, "records"},
		{"stray by_number entry", func(tx *bolt.Tx) error {
			b := wsBucket(tx, "acme", "by_number")
			k, _ := b.Cursor().First()
			k = append([]byte(nil), k...)
			k[len(k)-1] = 'x'
			return b.Put(k, nil)
		}, "by_number"},
		{"by_id points elsewhere", func(tx *bolt.Tx) error {
			return wsBucket(tx, "acme", "by_id").Put([]byte("m1"), make([]byte, 8))
		}, "by_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.db")
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, raw, 0o600))
			rawUpdate(t, p, tc.break_)
			s, err := cdrstore.Open(p, &cdrstore.Options{NoSync: true})
			require.NoError(t, err)
			defer s.Close()
			err = s.Check(context.Background())
			require.ErrorIs(t, err, cdrstore.ErrCorrupt)
			var ce *cdrstore.CorruptionError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, "acme", ce.Workspace)
			found := false
			for _, e := range unjoin(err) {
				if errors.As(e, &ce) && ce.Bucket == tc.bucket {
					found = true
				}
			}
			assert.True(t, found, "a problem in bucket %s: %v", tc.bucket, err)
			assert.NotContains(t, err.Error(), "8031234567")
			// Reads fail with a typed error, or succeed, but never panic.
			_, _ = s.Get("acme", "m1")
			_ = s.View(func(tx *cdrstore.Tx) error {
				for _, err := range tx.ByNumber("acme", ada, cdrstore.Query{}) {
					if err != nil {
						assert.ErrorIs(t, err, cdrstore.ErrCorrupt)
						assert.NotContains(t, err.Error(), "8031234567")
					}
				}
				return nil
			})
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestCheckCancelled(t *testing.T) {
	s := storetest.Open(t, nil)
	var rs []cdrstore.Record
	for i := range 300 {
		rs = append(rs, sms(fmt.Sprintf("m%d", i), t2026.Add(time.Duration(i)*time.Second), ada, "x"))
	}
	require.NoError(t, s.PutBatch(rs))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Check(ctx), context.Canceled)
}

func TestAuxBucket(t *testing.T) {
	s := storetest.Open(t, nil)
	created, err := s.CreateWorkspace("acme")
	require.NoError(t, err)
	assert.True(t, created)
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket("acme", cdrstore.BucketSettings)
		require.NoError(t, err)
		require.NoError(t, kv.Put([]byte("a/1"), []byte("x")))
		require.NoError(t, kv.Put([]byte("a/2"), []byte("y")))
		require.NoError(t, kv.Put([]byte("b/1"), []byte("z")))
		_, err = tx.Bucket("acme", "nope")
		assert.Error(t, err)
		return nil
	}))
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket("acme", cdrstore.BucketSettings)
		require.NoError(t, err)
		var keys []string
		for k := range kv.Scan([]byte("a/"), nil) {
			keys = append(keys, string(k))
		}
		assert.Equal(t, []string{"a/1", "a/2"}, keys)
		assert.Equal(t, []byte("z"), kv.Get([]byte("b/1")))
		assert.ErrorIs(t, kv.Put([]byte("c"), nil), cdrstore.ErrReadOnly)
		empty, err := tx.Bucket("ghost", cdrstore.BucketSettings)
		require.NoError(t, err)
		assert.Nil(t, empty.Get([]byte("a/1")))
		assert.Equal(t, []string{"acme"}, tx.Workspaces())
		return nil
	}))
}

// A workspace comes to exist only by a record written to it or by
// CreateWorkspace: reaching an auxiliary bucket or the audit log of a
// mistyped name in a write transaction is an error naming it, and
// creates nothing.
func TestNoWorkspaceBySideEffect(t *testing.T) {
	s := storetest.Open(t, nil)
	require.NoError(t, s.Put(sms("m1", t2026, ada, "hello")))
	before := storetest.Dump(t, s)
	for _, name := range cdrstore.AuxBuckets() {
		err := s.Update(func(tx *cdrstore.Tx) error {
			_, err := tx.Bucket("acmee", name)
			return err
		})
		require.ErrorIs(t, err, cdrstore.ErrNotFound, name)
		var nw *cdrstore.NoWorkspaceError
		require.ErrorAs(t, err, &nw)
		assert.Equal(t, "acmee", nw.Workspace)
		assert.Contains(t, err.Error(), `"acmee"`)
	}
	err := s.Update(func(tx *cdrstore.Tx) error {
		_, err := tx.AppendAudit("acmee", audit.Entry{Time: t2026, Action: "hold.change"})
		return err
	})
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	assert.Equal(t, before, storetest.Dump(t, s), "nothing created")
	names, err := s.Workspaces()
	require.NoError(t, err)
	assert.Equal(t, []string{"acme"}, names)

	created, err := s.CreateWorkspace("acmee")
	require.NoError(t, err)
	assert.True(t, created)
	created, err = s.CreateWorkspace("acmee")
	require.NoError(t, err)
	assert.False(t, created, "creating it again changes nothing")
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		_, err := tx.AppendAudit("acmee", audit.Entry{Time: t2026, Action: "hold.change"})
		return err
	}))
}

// oneRecordFile returns the path of a closed store holding one record.
func oneRecordFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Put(sms("m1", t2026, ada, "hello")))
	require.NoError(t, s.Close())
	return path
}

// Opening a store that needs no migration, reading it and closing it
// write nothing to its file: its bytes and modification time stay.
func TestOpenWritesNothing(t *testing.T) {
	path := oneRecordFile(t)
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(path, old, old))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	_, err = s.Get("acme", "nope")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	require.NoError(t, s.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after), "a writable open changed the file")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, old, fi.ModTime().UTC())
}

// A workspace bucket whose name no valid write could make (too long, not
// UTF-8, holding 0x00) is corruption: Check reports it as such, as it
// does every problem, and so do Workspaces and the operations on it;
// none of them calls it a malformed argument.
func TestBadWorkspaceNameIsCorruption(t *testing.T) {
	path := oneRecordFile(t)
	for _, tc := range []struct{ name, ws string }{
		{"65 bytes", strings.Repeat("w", 65)},
		{"not UTF-8", "acme\xff"},
		{"holds 0x00", "ac\x00me"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.db")
			storetest.CopyFile(t, path, p)
			storetest.PlantWorkspaces(t, p, tc.ws)
			s, err := cdrstore.Open(p, &cdrstore.Options{NoSync: true})
			require.NoError(t, err)
			defer s.Close()

			err = s.Check(context.Background())
			require.Error(t, err)
			for _, e := range unjoin(err) {
				assert.ErrorIs(t, e, cdrstore.ErrCorrupt)
				assert.NotErrorIs(t, e, cdrstore.ErrInvalidRecord)
			}
			var ce *cdrstore.CorruptionError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "ws", ce.Bucket)

			_, err = s.Workspaces()
			require.ErrorIs(t, err, cdrstore.ErrCorrupt)
			assert.NotErrorIs(t, err, cdrstore.ErrInvalidRecord)

			require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
				assert.Contains(t, tx.Workspaces(), tc.ws, "listed as stored")
				_, err := tx.Count(tc.ws)
				assert.ErrorIs(t, err, cdrstore.ErrCorrupt)
				assert.NotErrorIs(t, err, cdrstore.ErrInvalidRecord)
				return nil
			}))
			got, err := s.Get("acme", "m1")
			require.NoError(t, err, "other workspaces still work")
			assert.Equal(t, "hello", got.Body)
		})
	}

	// A name the caller gives is still a malformed argument.
	s := storetest.Open(t, nil)
	_, err := s.Get(strings.Repeat("w", 65), "m1")
	require.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
	names, err := s.Workspaces()
	require.NoError(t, err)
	assert.Empty(t, names)
	require.NoError(t, s.Put(sms("m1", t2026, ada, "hello")))
	names, err = s.Workspaces()
	require.NoError(t, err)
	assert.Equal(t, []string{"acme"}, names)
}

// The masked form of a number goes when that number is marked removed,
// and only then: removing the other number keeps it.
func TestMaskedGoesWithItsNumberOnly(t *testing.T) {
	s := storetest.Open(t, nil)
	o := contentful("m1")
	o.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldToObfuscated, At: t2026, Masked: o.To.Obfuscate()}
	masked := o.Redacted.Masked
	o.To = e164.Number{}
	require.NoError(t, s.Put(o))

	other := o
	other.From, other.Redacted.Masked = e164.Number{}, ""
	other.Redacted.Fields = cdrstore.FieldFrom
	require.NoError(t, s.Put(other))
	got, err := s.Get("acme", "m1")
	require.NoError(t, err)
	assert.Equal(t, masked, got.Redacted.Masked, "removing From leaves To's masked form")

	same := got
	same.Redacted.Masked = ""
	same.Redacted.Fields = cdrstore.FieldTo
	require.NoError(t, s.Put(same))
	got, err = s.Get("acme", "m1")
	require.NoError(t, err)
	assert.Empty(t, got.Redacted.Masked, "removing To removes its masked form")
	assert.Equal(t, cdrstore.FieldFrom|cdrstore.FieldTo|cdrstore.FieldToObfuscated, got.Redacted.Fields)
}
