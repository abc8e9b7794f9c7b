package audit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)

func openDB(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), 0o600, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("audit")); return err }))
	return db
}

func entries() []audit.Entry {
	key := []byte("0123456789abcdef0123456789abcdef")
	return []audit.Entry{
		{Time: t0, Action: "data.erasure", Reason: "ndpr_right_to_erasure", Actor: "key-1", Subject: audit.SubjectHMAC(key, "+2348031234567"), Count: 12},
		{Time: t0.Add(time.Minute), Action: "redact.transaction", Actor: "cdradmin", Subject: audit.SubjectHMAC(key, "209ab3c7536542b91e8b5aef032f6861"), Count: 1, RequestID: "req-7"},
		{Time: t0.Add(time.Hour), Action: "settings.change", Detail: `{"retention":{}} -> {"retention":{"months":6}}`},
	}
}

func appendAll(t *testing.T, db *bolt.DB, es []audit.Entry) []audit.Entry {
	var out []audit.Entry
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, e := range es {
			got, err := audit.Append(tx.Bucket([]byte("audit")), e)
			if err != nil {
				return err
			}
			out = append(out, got)
		}
		return nil
	}))
	return out
}

// The bytes and hashes of entries are pinned: a change is a format change.
func TestGolden(t *testing.T) {
	db := openDB(t)
	stored := appendAll(t, db, entries())
	var b strings.Builder
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("audit")).ForEach(func(k, v []byte) error {
			fmt.Fprintf(&b, "key %x\nvalue %x\n", k, v)
			return nil
		})
	}))
	for _, e := range stored {
		fmt.Fprintf(&b, "hash %d %x\n", e.Seq, e.Hash)
	}
	path := filepath.Join("testdata", "entries.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), b.String())
	assert.Equal(t, [32]byte{}, stored[0].Prev)
	assert.Equal(t, stored[0].Hash, stored[1].Prev)
	assert.Equal(t, stored[1].Hash, stored[2].Prev)
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tamper  func(b *bolt.Bucket) error
		wantSeq uint64
	}{
		{"intact", func(*bolt.Bucket) error { return nil }, 0},
		{"flipped byte", func(b *bolt.Bucket) error {
			v := append([]byte(nil), b.Get(key(2))...)
			v[len(v)-3] ^= 1
			return b.Put(key(2), v)
		}, 3},
		{"deleted middle entry", func(b *bolt.Bucket) error { return b.Delete(key(2)) }, 2},
		{"truncated tail", func(b *bolt.Bucket) error { return b.Delete(key(3)) }, 3},
		{"rewritten entry with a valid encoding", func(b *bolt.Bucket) error {
			e, err := audit.Get(b, 1)
			if err != nil {
				return err
			}
			e.Count = 0
			v, err := audit.Encode(e)
			if err != nil {
				return err
			}
			return b.Put(key(1), v)
		}, 2},
		{"garbage value", func(b *bolt.Bucket) error { return b.Put(key(2), []byte{1, 2, 3}) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			appendAll(t, db, entries())
			require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tc.tamper(tx.Bucket([]byte("audit"))) }))
			require.NoError(t, db.View(func(tx *bolt.Tx) error {
				n, err := audit.Verify(context.Background(), tx.Bucket([]byte("audit")))
				if tc.wantSeq == 0 {
					assert.NoError(t, err)
					assert.Equal(t, uint64(3), n)
					return nil
				}
				require.ErrorIs(t, err, audit.ErrChainBroken)
				var ce *audit.ChainError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.wantSeq, ce.Seq, "%v", err)
				return nil
			}))
		})
	}
}

func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func TestAppendValidatesAndNeverStoresPlaintext(t *testing.T) {
	db := openDB(t)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		_, err := audit.Append(b, audit.Entry{Action: "x"})
		assert.ErrorIs(t, err, audit.ErrInvalidEntry, "time missing")
		_, err = audit.Append(b, audit.Entry{Time: t0})
		assert.ErrorIs(t, err, audit.ErrInvalidEntry, "action missing")
		_, err = audit.Append(b, audit.Entry{Time: t0, Action: "x", Detail: strings.Repeat("d", 1025)})
		assert.ErrorIs(t, err, audit.ErrInvalidEntry)
		return nil
	}))
	appendAll(t, db, entries())
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("audit")).ForEach(func(_, v []byte) error {
			assert.NotContains(t, string(v), "2348031234567")
			assert.NotContains(t, string(v), "209ab3c7536542b91e8b5aef032f6861")
			return nil
		})
	}))
}

func TestVerifyCancelled(t *testing.T) {
	db := openDB(t)
	var es []audit.Entry
	for i := range 300 {
		es = append(es, audit.Entry{Time: t0.Add(time.Duration(i)), Action: "x"})
	}
	appendAll(t, db, es)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		_, err := audit.Verify(ctx, tx.Bucket([]byte("audit")))
		assert.ErrorIs(t, err, context.Canceled)
		return nil
	}))
}

func TestReceipt(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	r := audit.SignReceipt(audit.Receipt{Workspace: "acme", Operation: "data.erasure", Subject: []byte{1, 2, 3}, RecordsAffected: 12, Seq: 7, Hash: [32]byte{9}, Time: t0}, priv)
	require.NoError(t, audit.VerifyReceipt(r, pub))
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	var back audit.Receipt
	require.NoError(t, json.Unmarshal(raw, &back))
	require.NoError(t, audit.VerifyReceipt(back, pub), "a receipt survives JSON")

	for _, mod := range []func(*audit.Receipt){
		func(r *audit.Receipt) { r.Workspace = "acmf" },
		func(r *audit.Receipt) { r.Operation = "data.erasurf" },
		func(r *audit.Receipt) { r.Subject = []byte{1, 2, 4} },
		func(r *audit.Receipt) { r.RecordsAffected = 13 },
		func(r *audit.Receipt) { r.Seq = 8 },
		func(r *audit.Receipt) { r.Hash[31] = 1 },
		func(r *audit.Receipt) { r.Time = r.Time.Add(1) },
		func(r *audit.Receipt) { r.Signature = append([]byte(nil), r.Signature...); r.Signature[0] ^= 1 },
		func(r *audit.Receipt) { r.Signature = nil },
	} {
		c := r
		c.Subject = append([]byte(nil), r.Subject...)
		mod(&c)
		assert.ErrorIs(t, audit.VerifyReceipt(c, pub), audit.ErrBadSignature)
	}
	// Every byte of the JSON form matters too.
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		var c audit.Receipt
		if json.Unmarshal(b, &c) != nil {
			continue
		}
		if string(b) == string(raw) {
			continue
		}
		if err := audit.VerifyReceipt(c, pub); err == nil {
			// Only changes that decode to the same receipt (e.g. hex case) may pass.
			assert.Equal(t, r.SigningBytes(), c.SigningBytes(), "byte %d", i)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range entries() {
		e.Seq = 1
		v, _ := audit.Encode(e)
		f.Add(v)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, v []byte) {
		e, err := audit.Decode(key(1), v)
		if err != nil {
			require.ErrorIs(t, err, audit.ErrCorrupt)
			return
		}
		if e.Time.UnixNano() <= 0 || e.Action == "" {
			return
		}
		v2, err := audit.Encode(e)
		require.NoError(t, err)
		e2, err := audit.Decode(key(1), v2)
		require.NoError(t, err)
		e.Hash = e2.Hash
		require.Equal(t, e, e2)
	})
}

func BenchmarkAppend(b *testing.B) {
	db := openDB(b)
	e := entries()[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := audit.Append(tx.Bucket([]byte("audit")), e)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}
