package cdrjson_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/workload"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	for _, r := range workload.New(workload.Config{Seed: 3, N: 500}).All() {
		line, err := json.Marshal(cdrjson.Encode(&r))
		require.NoError(t, err)
		got, err := cdrjson.Decode(line, "")
		require.NoError(t, err, string(line))
		r.CreatedAt = got.CreatedAt // not on the wire
		assert.Equal(t, r, got)
	}
}

func TestBadLines(t *testing.T) {
	good := `{"id":"a1","workspace":"acme","product":"sms","direction":"outbound","from":"+14155552671","to":"+2348031234567","body":"secret words","recording_url":null,"started_at":"2026-01-02T03:04:05Z"}`
	_, err := cdrjson.Decode([]byte(good), "")
	require.NoError(t, err)
	for _, tc := range []struct{ name, line, field string }{
		{"unknown field", strings.Replace(good, `"body"`, `"bodyy"`, 1), "bodyy"},
		{"a number as a field name", strings.Replace(good, `"body"`, `"+2348031234567":1,"body"`, 1), "+234XXXXXXXXXX"},
		{"bad number", strings.Replace(good, "+2348031234567", "+23480312", 1), "to"},
		{"national without region", strings.Replace(good, "+2348031234567", "08031234567", 1), "to"},
		{"bad time", strings.Replace(good, "2026-01-02T03:04:05Z", "yesterday", 1), "started_at"},
		{"missing id", strings.Replace(good, `"id":"a1",`, "", 1), "id"},
		{"float price", strings.Replace(good, `"body"`, `"price":0.5,"body"`, 1), "price"},
		{"unknown product", strings.Replace(good, `"sms"`, `"fax"`, 1), "product"},
		{"truncated", good[:50], ""},
		{"workspace with a newline", strings.Replace(good, `"acme"`, `"acme\n"`, 1), "workspace"},
		{"workspace with a leading space", strings.Replace(good, `"acme"`, `" acme"`, 1), "workspace"},
		{"workspace with a bidi override", strings.Replace(good, `"acme"`, `"acme\u202e"`, 1), "workspace"},
		{"workspace with an ANSI escape", strings.Replace(good, `"acme"`, `"\u001b[31macme"`, 1), "workspace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cdrjson.Decode([]byte(tc.line), "")
			require.ErrorIs(t, err, cdrjson.ErrBadLine)
			var le *cdrjson.LineError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, tc.field, le.Field)
			assert.NotContains(t, err.Error(), "8031234567")
			assert.NotContains(t, err.Error(), "secret words")
		})
	}
	r, err := cdrjson.Decode([]byte(strings.Replace(good, "+2348031234567", "0803 123 4567", 1)), "NG")
	require.NoError(t, err)
	assert.Equal(t, "+2348031234567", r.To.String())
}

// The platform's side of a record may be a short code or an alphanumeric
// sender ID, kept as given; the counterparty must be a number, and the
// error says so with the input masked, never as "".
func TestSenderIDsAndShortCodes(t *testing.T) {
	line := func(dir, from, to string) []byte {
		return []byte(`{"id":"a1","workspace":"acme","product":"sms","direction":"` + dir + `","from":"` + from + `","to":"` + to + `","body":"hi","started_at":"2026-01-02T03:04:05Z"}`)
	}
	for _, tc := range []struct {
		name, dir, from, to string
		fromAlias, toAlias  cdrstore.Alias
	}{
		{"sender ID sends", "outbound", "ACME", "+2348031234567", cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "ACME"}, cdrstore.Alias{}},
		{"short code sends", "outbound", "32665", "+2348031234567", cdrstore.Alias{Kind: cdrstore.AliasShortCode, Value: "32665"}, cdrstore.Alias{}},
		{"reply to a short code", "inbound", "+2348031234567", "32665", cdrstore.Alias{}, cdrstore.Alias{Kind: cdrstore.AliasShortCode, Value: "32665"}},
		{"sender ID with a space", "outbound", "Bank Alert", "+2348031234567", cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "Bank Alert"}, cdrstore.Alias{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := cdrjson.Decode(line(tc.dir, tc.from, tc.to), "")
			require.NoError(t, err)
			assert.Equal(t, tc.fromAlias, r.FromAlias)
			assert.Equal(t, tc.toAlias, r.ToAlias)
			assert.Equal(t, "+2348031234567", redaction.Counterparty(&r).String())
			j := cdrjson.Encode(&r)
			assert.Equal(t, tc.from, j.From, "shown as given")
			assert.Equal(t, tc.to, j.To)
		})
	}
	for _, tc := range []struct{ name, dir, from, to, field, masked string }{
		{"sender ID as the counterparty", "outbound", "+14155552671", "ACME", "to", `"****"`},
		{"short code as the counterparty", "inbound", "32665", "+14155552671", "from", `"326XX"`},
		{"two aliases", "outbound", "ACME", "32665", "to", `"326XX"`},
		{"neither number nor alias", "outbound", "ACME CORPORATION LTD", "+2348031234567", "from", `"******************"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cdrjson.Decode(line(tc.dir, tc.from, tc.to), "")
			require.ErrorIs(t, err, cdrjson.ErrBadLine)
			require.ErrorIs(t, err, e164.ErrInvalidNumber, "the number's typed error")
			var le *cdrjson.LineError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, tc.field, le.Field)
			assert.Contains(t, err.Error(), tc.masked)
			assert.NotContains(t, err.Error(), `""`)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"s1","workspace":"acme","product":"sms","direction":"outbound","from":"ACME","to":"+2348031234567","started_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"id":"s2","workspace":"acme","product":"sms","direction":"inbound","from":"+2348031234567","to":"32665","started_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"id":"a1","workspace":"acme","product":"sms","direction":"outbound","from":"+14155552671","to":"+2348031234567","body":"x","started_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"id":"v","workspace":"w","product":"voice","direction":"inbound","transcript":["a"],"media":[{"url":"u","expires_at":"2026-01-02T03:04:05Z"}],"started_at":"2026-01-02T03:04:05.5+01:00"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := cdrjson.Decode(line, "")
		if err != nil {
			require.ErrorIs(t, err, cdrjson.ErrBadLine)
			return
		}
		require.NoError(t, r.Validate())
		out, err := json.Marshal(cdrjson.Encode(&r))
		require.NoError(t, err)
		r2, err := cdrjson.Decode(out, "")
		require.NoError(t, err)
		require.Equal(t, r, r2)
	})
}
