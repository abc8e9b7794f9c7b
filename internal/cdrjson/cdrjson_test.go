package cdrjson_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/workload"
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

func FuzzDecode(f *testing.F) {
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
