package cdrstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingHook is a WriteHook that drops records matching a tombstone of
// kind 'd', empties the body of those matching one of kind 'e', and
// records every match it saw.
type recordingHook struct {
	seen     map[string]cdrstore.Match
	finished int
}

func (h *recordingHook) Begin(*cdrstore.Tx) (cdrstore.WriteFilter, error) { return h, nil }

func (h *recordingHook) Filter(r *cdrstore.Record, m cdrstore.Match) (cdrstore.Verdict, error) {
	if h.seen == nil {
		h.seen = map[string]cdrstore.Match{}
	}
	h.seen[r.ID] = m
	v := cdrstore.Keep
	for _, t := range m.Tombstones {
		switch t.Kind {
		case 'd':
			return cdrstore.Drop, nil
		case 'e':
			r.Body = ""
			v = cdrstore.Changed
		}
	}
	return v, nil
}

func (h *recordingHook) Finish() error { h.finished++; return nil }

func putTombstone(t *testing.T, s *cdrstore.Store, ws string, term cdrstore.Term, subject string, kind byte, at time.Time) {
	t.Helper()
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
		return tx.PutTombstone(ws, cdrstore.Tombstone{Term: term, Kind: kind, Subject: tx.SubjectHMAC(subject), At: at})
	}))
}

// Once a store holds a tombstone, no write path stores a record without a
// write hook: a program using cdrstore alone cannot store what an erasure
// covered. Nothing is written.
func TestTombstonesRefuseWritesWithoutHook(t *testing.T) {
	s := storetest.Open(t, nil)
	require.NoError(t, s.Put(sms("s0", t2026, ada, "hello")))
	require.NoError(t, s.Put(sms("s1", t2026, ada, "hello")), "no tombstone: no hook needed")
	putTombstone(t, s, "acme", cdrstore.TermNumber, ada.String(), 'e', t2026.Add(time.Hour))
	before := storetest.Dump(t, s)

	r := sms("s2", t2026, bob, "hi")
	assert.ErrorIs(t, s.Put(r), cdrstore.ErrNoWriteHook)
	assert.ErrorIs(t, s.PutBatch([]cdrstore.Record{r}), cdrstore.ErrNoWriteHook)
	assert.ErrorIs(t, s.PutGrouped([]cdrstore.Record{r}), cdrstore.ErrNoWriteHook)
	assert.ErrorIs(t, s.Update(func(tx *cdrstore.Tx) error { return tx.Put(r) }), cdrstore.ErrNoWriteHook)
	assert.Equal(t, before, storetest.Dump(t, s))
}

// The in-memory set of tombstones is loaded at Open: a reopened store
// holding tombstones still refuses writes without a hook, and applies
// them with one.
func TestTombstonesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Put(sms("s0", t2026, ada, "hello")))
	putTombstone(t, s, "acme", cdrstore.TermID, "late", 'd', t2026.Add(time.Hour))
	require.NoError(t, s.Close())

	s, err = cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	assert.ErrorIs(t, s.Put(sms("late", t2026, bob, "x")), cdrstore.ErrNoWriteHook)
	s.SetWriteHook(&recordingHook{})
	res, err := s.PutBatchResult([]cdrstore.Record{sms("late", t2026, bob, "x"), sms("other", t2026, bob, "x")})
	require.NoError(t, err)
	assert.Equal(t, cdrstore.WriteResult{Stored: 1, Dropped: 1}, res)
	_, err = s.Get("acme", "late")
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)
}

// A record matches a tombstone by the keyed HMAC of its ID, either number
// or its conversation ID, and only when it started before the tombstone.
// The hook's verdict decides what is stored, on every write path, and the
// write's result counts it.
func TestTombstoneMatching(t *testing.T) {
	at := t2026.Add(time.Hour)
	s := storetest.Open(t, nil)
	h := &recordingHook{}
	s.SetWriteHook(h)
	require.NoError(t, s.Put(sms("seed", t2026, plat, "x")))
	putTombstone(t, s, "acme", cdrstore.TermNumber, ada.String(), 'e', at)
	putTombstone(t, s, "acme", cdrstore.TermID, "gone", 'd', at)
	putTombstone(t, s, "acme", cdrstore.TermConversation, "conv-1", 'd', at)

	before := sms("early", t2026, ada, "secret")
	after := sms("later", at, ada, "kept")
	gone := sms("gone", t2026, bob, "secret")
	leg := sms("leg", t2026, bob, "secret")
	leg.ConversationID = "conv-1"
	other := sms("other", t2026, bob, "kept")

	res, err := s.PutBatchResult([]cdrstore.Record{before, after, gone, leg, other})
	require.NoError(t, err)
	assert.Equal(t, cdrstore.WriteResult{Stored: 3, Changed: 1, Dropped: 2}, res)
	assert.Positive(t, h.finished)

	got, err := s.Get("acme", "early")
	require.NoError(t, err)
	assert.Empty(t, got.Body, "started before a matching tombstone: the hook erased it")
	got, err = s.Get("acme", "later")
	require.NoError(t, err)
	assert.Equal(t, "kept", got.Body, "started after the tombstone: stored whole")
	for _, id := range []string{"gone", "leg"} {
		_, err = s.Get("acme", id)
		assert.ErrorIs(t, err, cdrstore.ErrNotFound, id)
	}
	assert.Empty(t, h.seen["other"].Tombstones)
	require.Len(t, h.seen["early"].Tombstones, 1)
	m := h.seen["early"].Tombstones[0]
	assert.Equal(t, cdrstore.TermNumber, m.Term)
	assert.True(t, at.Equal(m.At))

	// Every write path applies them.
	v, err := s.PutResult(sms("gone", t2026, bob, "again"))
	require.NoError(t, err)
	assert.Equal(t, cdrstore.Drop, v)
	res, err = s.PutGroupedResult([]cdrstore.Record{sms("gone", t2026, bob, "again")})
	require.NoError(t, err)
	assert.Equal(t, cdrstore.WriteResult{Dropped: 1}, res)
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) error { return tx.Put(sms("gone", t2026, bob, "again")) }))
	_, err = s.Get("acme", "gone")
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)

	// A Drop removes a record of that ID stored before the tombstone was.
	h2 := sms("stored-first", t2026, bob, "x")
	require.NoError(t, s.Put(h2))
	putTombstone(t, s, "acme", cdrstore.TermID, "stored-first", 'd', at)
	v, err = s.PutResult(h2)
	require.NoError(t, err)
	assert.Equal(t, cdrstore.Drop, v)
	assert.True(t, h.seen["stored-first"].Stored)
	_, err = s.Get("acme", "stored-first")
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)
}

// PutTombstone keeps the latest issue time of a subject and kind, refuses
// a workspace that does not exist and malformed tombstones, and
// DropTombstones removes those no record after a cutoff can match; once
// none is left, writes need no hook.
func TestPutAndDropTombstones(t *testing.T) {
	s := storetest.Open(t, nil)
	require.NoError(t, s.Put(sms("seed", t2026, plat, "x")))
	putTombstone(t, s, "acme", cdrstore.TermNumber, ada.String(), 'e', t2026.Add(2*time.Hour))
	putTombstone(t, s, "acme", cdrstore.TermNumber, ada.String(), 'e', t2026.Add(time.Hour))
	putTombstone(t, s, "acme", cdrstore.TermID, "x", 'd', t2026.Add(3*time.Hour))

	err := s.Update(func(tx *cdrstore.Tx) error {
		return tx.PutTombstone("nope", cdrstore.Tombstone{Term: cdrstore.TermID, Kind: 'd', Subject: tx.SubjectHMAC("x"), At: t2026})
	})
	assert.ErrorIs(t, err, cdrstore.ErrNotFound)
	for _, bad := range []cdrstore.Tombstone{
		{Term: 9, Kind: 'd', Subject: make([]byte, 32), At: t2026},
		{Term: cdrstore.TermID, Kind: 0, Subject: make([]byte, 32), At: t2026},
		{Term: cdrstore.TermID, Kind: 'd', Subject: []byte("+447911123456"), At: t2026},
		{Term: cdrstore.TermID, Kind: 'd', Subject: make([]byte, 32)},
	} {
		err := s.Update(func(tx *cdrstore.Tx) error { return tx.PutTombstone("acme", bad) })
		assert.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
	}

	list := func() []cdrstore.Tombstone {
		var out []cdrstore.Tombstone
		require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
			for ts, err := range tx.Tombstones("acme") {
				if err != nil {
					return err
				}
				out = append(out, ts)
			}
			return nil
		}))
		return out
	}
	got := list()
	require.Len(t, got, 2)
	assert.Equal(t, cdrstore.TermNumber, got[1].Term)
	assert.True(t, t2026.Add(2*time.Hour).Equal(got[1].At), "the later issue time wins")

	var n int
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) (err error) {
		n, err = tx.DropTombstones("acme", t2026.Add(2*time.Hour))
		return err
	}))
	assert.Equal(t, 1, n)
	assert.Len(t, list(), 1)
	assert.ErrorIs(t, s.Put(sms("s1", t2026, bob, "x")), cdrstore.ErrNoWriteHook)
	require.NoError(t, s.Update(func(tx *cdrstore.Tx) (err error) {
		n, err = tx.DropTombstones("acme", t2026.Add(3*time.Hour))
		return err
	}))
	assert.Equal(t, 1, n)
	assert.NoError(t, s.Put(sms("s1", t2026, bob, "x")), "no tombstone left")
}
