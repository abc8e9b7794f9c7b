package cdrstore_test

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fullRecord sets every field of the data model.
func fullRecord() cdrstore.Record {
	t0 := time.Date(2026, 1, 15, 9, 30, 0, 123456789, time.UTC)
	return cdrstore.Record{
		ID:             "209ab3c7536542b91e8b5aef032f6861",
		Workspace:      "acme",
		Product:        cdrstore.ProductVoice,
		Direction:      cdrstore.Outbound,
		From:           e164.MustParse("+447911123456", ""),
		To:             e164.MustParse("+2348031234567", ""),
		Body:           "",
		Transcript:     []string{"hello, is that Ada?", "yes, speaking"},
		RecordingURL:   "https://media.example.net/rec/abc.mp3",
		Media:          []cdrstore.Media{{URL: "https://media.example.net/m/1.jpg", ExpiresAt: t0.Add(15 * time.Minute)}, {URL: "https://media.example.net/m/2.jpg"}},
		ConversationID: "CON-4f2a",
		Status:         "completed",
		Price:          "0.0125",
		Currency:       "EUR",
		Network:        "62130",
		ClientRef:      "order-77",
		StartedAt:      t0,
		EndedAt:        t0.Add(95 * time.Second),
		CreatedAt:      t0.Add(2 * time.Second),

		ContentRetention: cdrstore.ContentDiscard,
		AddressRetention: cdrstore.AddressObfuscate,
		Redacted: cdrstore.Redaction{
			Fields: cdrstore.FieldMedia | cdrstore.FieldToObfuscated,
			At:     t0.Add(time.Hour),
			Masked: "+234803123XXXX",
		},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    cdrstore.Record
	}{
		{"full", fullRecord()},
		{"minimal sms", cdrstore.Record{ID: "x", Workspace: "w", Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound, StartedAt: time.Unix(1, 0).UTC()}},
		{"sender ID", func() cdrstore.Record {
			r := fullRecord()
			r.From, r.FromAlias = e164.Number{}, cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "Bank-Alert"}
			return r
		}()},
		{"GSM sender ID", func() cdrstore.Record {
			r := fullRecord()
			r.From, r.FromAlias = e164.Number{}, cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "Café Ñü 24"}
			return r
		}()},
		{"short code", func() cdrstore.Record {
			r := fullRecord()
			r.Direction, r.To, r.ToAlias = cdrstore.Inbound, e164.Number{}, cdrstore.Alias{Kind: cdrstore.AliasShortCode, Value: "32665"}
			return r
		}()},
		{"numbers removed", func() cdrstore.Record {
			r := fullRecord()
			r.From, r.To = e164.Number{}, e164.Number{}
			r.Redacted.Fields |= cdrstore.FieldFrom | cdrstore.FieldTo
			return r
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, v, err := cdrstore.EncodeRecord(&tc.r)
			require.NoError(t, err)
			got, err := cdrstore.DecodeRecord(tc.r.Workspace, k, v)
			require.NoError(t, err)
			assert.Equal(t, tc.r, got)
		})
	}
}

// The bytes of the current format (v3, record codec v2) are pinned: a
// change here is a format change and needs a new version, a migration and
// docs/format.md. The bytes of formats v1 and v2 stay pinned beside them
// and decode to the same record: decoders of old versions are kept.
func TestCodecGolden(t *testing.T) {
	r := fullRecord()
	k, v, err := cdrstore.EncodeRecord(&r)
	require.NoError(t, err)
	got := "key   " + hex.EncodeToString(k) + "\nvalue " + hex.EncodeToString(v) + "\n"
	path := filepath.Join("testdata", "record_v3.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)

	// The golden bytes decode to the record.
	gk, gv := readGolden(t, path)
	dec, err := cdrstore.DecodeRecord("acme", gk, gv)
	require.NoError(t, err)
	assert.Equal(t, r, dec)

	// v3 changed the value alone: codec v2 writes a kind byte before from
	// and to (1: E.164). v2's codec v1 value still decodes to the record.
	k2, v2 := readGolden(t, filepath.Join("testdata", "record_v2.golden"))
	assert.Equal(t, gk, k2)
	assert.Equal(t, byte(1), v2[0])
	assert.Equal(t, byte(2), gv[0])
	assert.Equal(t, append([]byte{1}, v2[3:3+1+13]...), gv[3:3+1+1+13], "from: kind 1 · str")
	dec2, err := cdrstore.DecodeRecord("acme", k2, v2)
	require.NoError(t, err)
	assert.Equal(t, r, dec2)
	gk, gv = k2, v2

	// v1 had the same value as v2 and the ID as is in the key; v2 packs
	// the 32 hex digits of this ID into 0x00 · 0x01 · 16 bytes.
	k1, v1 := readGolden(t, filepath.Join("testdata", "record_v1.golden"))
	assert.Equal(t, gv, v1)
	assert.Equal(t, r.ID, string(k1[8:]))
	assert.Equal(t, k1[:8], gk[:8])
	assert.Equal(t, append([]byte{0, 1}, mustHex(t, r.ID)...), gk[8:])
	_, err = cdrstore.DecodeRecord("acme", k1, v1)
	assert.ErrorIs(t, err, cdrstore.ErrCorrupt, "a v1 key of a packable ID is not canonical in v2: Open migrates it")
}

func readGoldenF(f *testing.F, path string) (key, value []byte) {
	raw, err := os.ReadFile(path)
	require.NoError(f, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	key, err = hex.DecodeString(strings.TrimPrefix(lines[0], "key   "))
	require.NoError(f, err)
	value, err = hex.DecodeString(strings.TrimPrefix(lines[1], "value "))
	require.NoError(f, err)
	return key, value
}

func readGolden(t *testing.T, path string) (key, value []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 2)
	return mustHex(t, strings.TrimPrefix(lines[0], "key   ")), mustHex(t, strings.TrimPrefix(lines[1], "value "))
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// Every truncation and every single-byte corruption of a valid value
// decodes to an error matching ErrCorrupt or to some record; never a panic.
func TestDecodeBadBytes(t *testing.T) {
	r := fullRecord()
	k, v, err := cdrstore.EncodeRecord(&r)
	require.NoError(t, err)
	for i := range v {
		_, err := cdrstore.DecodeRecord("acme", k, v[:i])
		require.ErrorIs(t, err, cdrstore.ErrCorrupt, "truncated at %d", i)
		var ce *cdrstore.CorruptionError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "records", ce.Bucket)
	}
	for i := range v {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), v...)
			b[i] ^= x
			_, _ = cdrstore.DecodeRecord("acme", k, b)
		}
	}
	_, err = cdrstore.DecodeRecord("acme", k, append([]byte{9}, v[1:]...))
	assert.ErrorIs(t, err, cdrstore.ErrCorrupt, "unknown version")
	_, err = cdrstore.DecodeRecord("acme", k, append(append([]byte(nil), v...), 0))
	assert.ErrorIs(t, err, cdrstore.ErrCorrupt, "trailing byte")
}

// Codec v2's addresses: a kind byte, then the string. Each malformed one
// is corruption.
func TestCodecAddresses(t *testing.T) {
	m := cdrstore.Record{ID: "x", Workspace: "w", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, StartedAt: time.Unix(1, 0).UTC(),
		FromAlias: cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "ACME"}, To: e164.MustParse("+2348031234567", "")}
	k, v, err := cdrstore.EncodeRecord(&m)
	require.NoError(t, err)
	head := []byte{2, 1, 2, 3, 4, 'A', 'C', 'M', 'E', 1, 14}
	require.Equal(t, head, v[:len(head)], "version 2 · sms · outbound · from: kind 3, \"ACME\" · to: kind 1, 14 bytes")
	for name, bad := range map[string][]byte{
		"unknown kind":          {2, 1, 2, 4, 4, 'A', 'C', 'M', 'E'},
		"absent with a value":   {2, 1, 2, 0, 1, 'A'},
		"empty number":          {2, 1, 2, 1, 0},
		"short code of letters": {2, 1, 2, 2, 4, 'A', 'C', 'M', 'E'},
		"sender ID of digits":   {2, 1, 2, 3, 4, '1', '2', '3', '4'},
		"sender ID too long":    append([]byte{2, 1, 2, 3, 12}, "ABCDEFGHIJKL"...),
		"two aliases":           {2, 1, 2, 3, 4, 'A', 'C', 'M', 'E', 2, 5, '3', '2', '6', '6', '5'},
	} {
		// The bytes after "to" are those of m.
		val := append(append([]byte(nil), bad...), v[len(head)+14:]...)
		_, err := cdrstore.DecodeRecord("w", k, val)
		assert.ErrorIs(t, err, cdrstore.ErrCorrupt, name)
	}
}

func TestParseAlias(t *testing.T) {
	for in, want := range map[string]cdrstore.Alias{
		"32665":       {Kind: cdrstore.AliasShortCode, Value: "32665"},
		"123":         {Kind: cdrstore.AliasShortCode, Value: "123"},
		"12345678":    {Kind: cdrstore.AliasShortCode, Value: "12345678"},
		"ACME":        {Kind: cdrstore.AliasSenderID, Value: "ACME"},
		"Bank Alert":  {Kind: cdrstore.AliasSenderID, Value: "Bank Alert"},
		"InfoSMS-24":  {Kind: cdrstore.AliasSenderID, Value: "InfoSMS-24"},
		"Müller&Co":   {Kind: cdrstore.AliasSenderID, Value: "Müller&Co"},
		"ABCDEFGHIJK": {Kind: cdrstore.AliasSenderID, Value: "ABCDEFGHIJK"},
	} {
		got, err := cdrstore.ParseAlias(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, in := range []string{"", "12", "123456789", "ABCDEFGHIJKL", " ACME", "ACME ", "AC\nME", "ACME\u202e", "日本", "AC\x00ME", "+2348031234567", "AC[ME]", "+12", "+-12", "12-34", "+44ABC"} {
		_, err := cdrstore.ParseAlias(in)
		require.ErrorIs(t, err, cdrstore.ErrInvalidRecord, "%q", in)
		if len(in) >= 4 {
			assert.NotContains(t, err.Error(), in, "the input is not echoed")
		}
	}
}

func FuzzParseAlias(f *testing.F) {
	for _, s := range []string{"32665", "ACME", "Bank Alert", "Müller&Co", "Ñandú", "", "12", "+2348031234567", "ABCDEFGHIJKL", " A", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := cdrstore.ParseAlias(s)
		if err != nil {
			require.ErrorIs(t, err, cdrstore.ErrInvalidRecord)
			return
		}
		require.Equal(t, s, a.Value, "kept as given")
		again, err := cdrstore.ParseAlias(a.Value)
		require.NoError(t, err)
		require.Equal(t, a, again)
	})
}

func FuzzDecodeRecord(f *testing.F) {
	r := fullRecord()
	k, v, _ := cdrstore.EncodeRecord(&r)
	f.Add(k, v)
	m := cdrstore.Record{ID: "x", Workspace: "w", Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound, StartedAt: time.Unix(1, 0).UTC(), Body: "hi"}
	k2, v2, _ := cdrstore.EncodeRecord(&m)
	f.Add(k2, v2)
	f.Add([]byte{}, []byte{})
	f.Add(k, []byte{1, 1, 1, 0x80})
	for _, a := range []cdrstore.Alias{{Kind: cdrstore.AliasSenderID, Value: "ACME"}, {Kind: cdrstore.AliasShortCode, Value: "32665"}} {
		s := m
		s.FromAlias = a
		ka, va, _ := cdrstore.EncodeRecord(&s)
		f.Add(ka, va)
	}
	// A codec v1 value (formats v1 and v2), still read.
	k1, v1 := readGoldenF(f, filepath.Join("testdata", "record_v2.golden"))
	f.Add(k1, v1)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := cdrstore.DecodeRecord("w", key, value)
		if err != nil {
			require.ErrorIs(t, err, cdrstore.ErrCorrupt)
			return
		}
		if r.Validate() != nil {
			return
		}
		k, v, err := cdrstore.EncodeRecord(&r)
		require.NoError(t, err)
		r2, err := cdrstore.DecodeRecord("w", k, v)
		require.NoError(t, err)
		require.Equal(t, r, r2)
	})
}
