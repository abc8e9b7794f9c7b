package e164_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/cdrvault/cdrvault/e164"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ raw, region, want string }{
		{"0803 123 4567", "NG", "+2348031234567"},
		{"+234 (0) 803 123 4567", "", "+2348031234567"},
		{"+234 803 123 4567", "ng", "+2348031234567"},
		{"07911 123456", "GB", "+447911123456"},
		{"+44 7911 123456", "", "+447911123456"},
		{"(415) 555-2671", "US", "+14155552671"},
		{"+1 415-555-2671", "", "+14155552671"},
		{"0151 12345678", "DE", "+4915112345678"},
		{"06 12 34 56 78", "FR", "+33612345678"},
		{"+91 98123 45678", "", "+919812345678"},
		{"(11) 91234-5678", "BR", "+5511912345678"},
		{"090-1234-5678", "JP", "+819012345678"},
		{"082 123 4567", "ZA", "+27821234567"},
		{"0712 345678", "KE", "+254712345678"},
		{"  +2348031234567  ", "", "+2348031234567"},
	} {
		n, err := e164.Parse(tc.raw, tc.region)
		require.NoError(t, err, "%q %s", tc.raw, tc.region)
		assert.Equal(t, tc.want, n.String())
		assert.True(t, n.IsValid())
	}
}

var fourDigits = regexp.MustCompile(`\d{4,}`)

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		raw, region string
		reason      e164.Reason
	}{
		{"", "", e164.ReasonEmpty},
		{"   ", "NG", e164.ReasonEmpty},
		{"0803 123 4567", "", e164.ReasonNoRegion},
		{"0803 123 4567", "ZZ", e164.ReasonUnknownRegion},
		{"0803 123 4567", "XX", e164.ReasonUnknownRegion},
		{"+234 803 CALL NOW", "", e164.ReasonSyntax},
		{"+1 415 555 2671 ext. 9", "", e164.ReasonSyntax},
		{"+2348", "", e164.ReasonTooShort},
		{"+23480312345678901234", "", e164.ReasonTooLong},
		{"+1 200 555 0100", "", e164.ReasonNotValid},
		{"+999 1234 5678", "", e164.ReasonNotPossible}, // no such country code
		{"+44 1234 5678901", "", e164.ReasonTooLong},
	} {
		_, err := e164.Parse(tc.raw, tc.region)
		require.Error(t, err, "%q", tc.raw)
		require.ErrorIs(t, err, e164.ErrInvalidNumber)
		var ne *e164.NumberError
		require.ErrorAs(t, err, &ne)
		assert.Equal(t, tc.reason, ne.Reason, "%q: %v", tc.raw, err)
		assert.False(t, fourDigits.MatchString(err.Error()), "digits leak: %v", err)
	}
}

func TestParseCanonical(t *testing.T) {
	n, err := e164.ParseCanonical("+2348031234567")
	require.NoError(t, err)
	assert.Equal(t, e164.MustParse("+2348031234567", ""), n)
	for _, bad := range []string{"", "+", "2348031234567", "+023480312345", "+123456", "+1234567890123456", "+23480312345a7", "+ 234803123"} {
		_, err := e164.ParseCanonical(bad)
		assert.ErrorIs(t, err, e164.ErrInvalidNumber, bad)
	}
}

func TestObfuscateMaskRegion(t *testing.T) {
	n := e164.MustParse("+14155551234", "")
	assert.Equal(t, "+1415555XXXX", n.Obfuscate())
	assert.Equal(t, "+141XXXXXXXX", n.Masked())
	assert.Equal(t, 1, n.CountryCode())
	assert.Equal(t, "US", n.Region())
	ng := e164.MustParse("+2348031234567", "")
	assert.Equal(t, 234, ng.CountryCode())
	assert.Equal(t, "NG", ng.Region())
	assert.Equal(t, "+23XXXXXXXXXXX"[:0]+"+234XXXXXXXXXX", ng.Masked())
	var zero e164.Number
	assert.False(t, zero.IsValid())
	assert.Equal(t, "", zero.String())
	assert.Equal(t, "", zero.Obfuscate())
	assert.Equal(t, "invalid", zero.Masked())
	assert.Equal(t, "+234XXX", e164.Mask("+234 (0) 8-0"))
	// Input that is not a number is masked to its shape, never to "":
	// letters and other characters become '*'.
	assert.Equal(t, "****", e164.Mask("ACME"))
	assert.Equal(t, "+447X**", e164.Mask("+4477ab"))
	for _, raw := range []string{"ACME", "Bank Alert", "call me"} {
		_, err := e164.Parse(raw, "")
		var ne *e164.NumberError
		require.ErrorAs(t, err, &ne)
		assert.NotEmpty(t, ne.Masked, raw)
		assert.NotContains(t, err.Error(), `""`, raw)
		assert.NotContains(t, err.Error(), raw)
	}
}

func TestText(t *testing.T) {
	type rec struct {
		To   e164.Number `json:"to"`
		From e164.Number `json:"from"`
	}
	in := rec{To: e164.MustParse("+447911123456", "")}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"to":"+447911123456","from":""}`, string(b))
	var out rec
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)
	err = json.Unmarshal([]byte(`{"to":"0803 123 4567"}`), &out)
	assert.ErrorIs(t, err, e164.ErrInvalidNumber)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"+2348031234567", "0803 123 4567", "+44 7911 123456", "(415) 555-2671", "+1 200 555 0100", "", "+", "++1", "+0", "00442079460000", "+8190123456789012"} {
		f.Add(s, "")
		f.Add(s, "NG")
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		n, err := e164.Parse(raw, region)
		if err != nil {
			require.ErrorIs(t, err, e164.ErrInvalidNumber)
			return
		}
		again, err := e164.Parse(n.String(), "")
		require.NoError(t, err)
		require.Equal(t, n, again)
		c, err := e164.ParseCanonical(n.String())
		require.NoError(t, err)
		require.Equal(t, n, c)
	})
}

func FuzzParseCanonical(f *testing.F) {
	f.Add("+2348031234567")
	f.Add("+1")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := e164.ParseCanonical(s)
		if err != nil {
			return
		}
		require.Equal(t, s, n.String())
		_ = n.Obfuscate()
		_ = n.Masked()
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e164.Parse("0803 123 4567", "NG"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCanonical(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e164.ParseCanonical("+2348031234567"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMaskTextHidesWrittenNumbers: every way Parse accepts a number written
// inside text (spaces, dots, dashes, slashes, underscores, tabs,
// non-breaking spaces) leaves MaskText with no more than three of its
// digits.
func TestMaskTextHidesWrittenNumbers(t *testing.T) {
	for _, s := range []string{
		"/v1/contacts/+14155550123",
		"/v1/contacts/+1 415 555 0123",
		"/v1/contacts/+1\u00a0415\u00a0555\u00a00123",
		"/v1/records/+1/415/555/0123",
		"/v1/conversations/+44_20_7946_0958",
		"ticket +1\t415\t555\t0123 closed",
		"call (415) 555-0123 back",
	} {
		got := e164.MaskText(s)
		assert.NotRegexp(t, `[0-9][^0-9]{0,2}[0-9][^0-9]{0,2}[0-9][^0-9]{0,2}[0-9]`, got, "%q masked as %q", s, got)
	}
}
