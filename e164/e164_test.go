package e164_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cdrvault/cdrvault/e164"
	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, raw, region string
		want              string
		wantRegion        string
		wantCC            int
	}{
		{"NG national", "0803 123 4567", "NG", "+2348031234567", "NG", 234},
		{"NG international with (0)", "+234 (0) 803 123 4567", "", "+2348031234567", "NG", 234},
		{"NG international, lowercase region", "+234 803 123 4567", "ng", "+2348031234567", "NG", 234},
		{"NG fixed line national", "02033 12 3456", "NG", "+2342033123456", "NG", 234},
		{"GB mobile international", "+44 7400 123456", "", "+447400123456", "GB", 44},
		{"GB mobile national", "07400 123456", "GB", "+447400123456", "GB", 44},
		{"GB with (0)", "+44 (0)7400 123456", "", "+447400123456", "GB", 44},
		{"GB fixed line national", "0121 234 5678", "GB", "+441212345678", "GB", 44},
		{"GB IDD from DE", "00 44 7400 123456", "DE", "+447400123456", "GB", 44},
		{"GG shares +44", "+44 7911 123456", "", "+447911123456", "GG", 44},
		{"US national", "(415) 555-2671", "US", "+14155552671", "US", 1},
		{"US international", "+1 415-555-2671", "", "+14155552671", "US", 1},
		{"US dotted", "415.555.2671", "us", "+14155552671", "US", 1},
		{"US IDD to GB", "011 44 7400 123456", "US", "+447400123456", "GB", 44},
		{"DE mobile national", "01512 3456789", "DE", "+4915123456789", "DE", 49},
		{"DE fixed line", "030 123456", "DE", "+4930123456", "DE", 49},
		{"IN mobile international", "+91 98123 45678", "", "+919812345678", "IN", 91},
		{"IN mobile national", "081234 56789", "IN", "+918123456789", "IN", 91},
		{"BR mobile national", "(11) 96123-4567", "BR", "+5511961234567", "BR", 55},
		{"BR fixed line international", "+55 11 2345-6789", "", "+551123456789", "BR", 55},
		{"JP mobile national", "090-1234-5678", "JP", "+819012345678", "JP", 81},
		{"JP fixed line", "03-1234-5678", "JP", "+81312345678", "JP", 81},
		{"ZA mobile national", "071 123 4567", "ZA", "+27711234567", "ZA", 27},
		{"ZA mobile international", "+27 82 123 456", "", "+2782123456", "ZA", 27},
		{"KE mobile national", "0712 123456", "KE", "+254712123456", "KE", 254},
		{"FR mobile national", "06 12 34 56 78", "FR", "+33612345678", "FR", 33},
		{"FR fixed international", "+33 1 23 45 67 89", "", "+33123456789", "FR", 33},
		{"RU international", "+7 912 345-67-89", "", "+79123456789", "RU", 7},
		{"non-geographic freephone", "+800 1234 5678", "", "+80012345678", "", 800},
		{"short plan (Niue)", "+683 4001", "", "+6834001", "NU", 683},
		{"spaces around", "  +2348031234567  ", "", "+2348031234567", "NG", 234},
		{"tab and no-break space", "\t+234\u00a0803\u00a0123\u00a04567\t", "", "+2348031234567", "NG", 234},
		{"region with spaces", "0803 123 4567", " ng ", "+2348031234567", "NG", 234},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e164.Parse(tc.raw, tc.region)
			require.NoError(t, err)
			assert.True(t, n.IsValid())
			assert.Equal(t, tc.want, n.String())
			assert.Equal(t, tc.wantRegion, n.Region())
			assert.Equal(t, tc.wantCC, n.CountryCode())
			assert.Equal(t, n, e164.MustParse(tc.want, ""), "canonical form parses to the same number")
		})
	}
}

// fourDigits finds a run of four digits: no error may hold one, since the
// masked form keeps at most three.
var fourDigits = regexp.MustCompile(`[0-9]{4,}`)

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name, raw, region string
		reason            e164.Reason
		cause             error // the phonenumbers error wrapped, if any
	}{
		{"empty", "", "", e164.ReasonEmpty, nil},
		{"spaces", "   ", "", e164.ReasonEmpty, nil},
		{"spaces with region", " \t ", "NG", e164.ReasonEmpty, nil},
		{"national without region", "0803 123 4567", "", e164.ReasonNoRegion, nil},
		{"digits only without region", "2348031234567", "", e164.ReasonNoRegion, nil},
		{"region ZZ", "0803 123 4567", "ZZ", e164.ReasonUnknownRegion, nil},
		{"region XX", "0803 123 4567", "XX", e164.ReasonUnknownRegion, nil},
		{"region alpha-3", "0803 123 4567", "NGA", e164.ReasonUnknownRegion, nil},
		{"region non-geographic 001", "0803 123 4567", "001", e164.ReasonUnknownRegion, nil},
		{"unknown region with +", "+2348031234567", "XX", e164.ReasonUnknownRegion, nil},
		{"letters", "+234 803 CALL NOW", "", e164.ReasonSyntax, nil},
		{"vanity", "1-800-FLOWERS", "US", e164.ReasonSyntax, nil},
		{"extension", "+1 415 555 2671 ext. 9", "", e164.ReasonSyntax, nil},
		{"tel URI", "tel:+1-415-555-2671", "", e164.ReasonSyntax, nil},
		{"letters without region", "0803 CALL NOW", "", e164.ReasonSyntax, nil},
		{"star and hash", "*123#", "NG", e164.ReasonSyntax, nil},
		{"arabic-indic digits", "+٢٣٤٨٠٣١٢٣٤٥٦٧", "", e164.ReasonSyntax, nil},
		{"plus alone", "+", "", e164.ReasonSyntax, phonenumbers.ErrNotANumber},
		{"separators only", "+ ( ) -", "", e164.ReasonSyntax, phonenumbers.ErrNotANumber},
		{"too short to parse", "+2348", "", e164.ReasonTooShort, nil},
		{"too short for NG", "+234 803 123 456", "", e164.ReasonTooShort, nil},
		{"too short national", "06 12 34", "FR", e164.ReasonTooShort, nil},
		{"too short national, US", "415 555", "US", e164.ReasonTooShort, nil},
		{"too long to parse", "+2348031234567890123456", "", e164.ReasonTooLong, phonenumbers.ErrNumTooLong},
		{"too long for GB", "+44 1234 5678901", "", e164.ReasonTooLong, nil},
		{"(0) in a US number", "+1 (0) 415 555 2671", "", e164.ReasonTooLong, nil},
		{"no such country code", "+999 123", "", e164.ReasonNotPossible, phonenumbers.ErrInvalidCountryCode},
		{"no such country code, long", "+999 1234 5678", "", e164.ReasonNotPossible, phonenumbers.ErrInvalidCountryCode},
		{"SG length between lengths", "+65 9123 45678", "", e164.ReasonNotPossible, nil},
		{"NO six digits", "+47 222 222", "", e164.ReasonNotPossible, nil},
		{"US without area code", "+1 555 0100", "", e164.ReasonNotValid, nil},
		{"US area code 200", "+1 200 555 0100", "", e164.ReasonNotValid, nil},
		{"GB drama range", "+44 7700 900123", "", e164.ReasonNotValid, nil},
		{"GB drama range national", "07700 900123", "GB", e164.ReasonNotValid, nil},
		{"FR kept trunk 0", "+33 0 12 34 56 78", "", e164.ReasonNotValid, nil},
		{"DE mobile a digit short", "+49 1511 234567", "", e164.ReasonNotValid, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e164.Parse(tc.raw, tc.region)
			require.Error(t, err)
			assert.False(t, n.IsValid())
			require.ErrorIs(t, err, e164.ErrInvalidNumber)
			var ne *e164.NumberError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, tc.reason, ne.Reason, "%v", err)
			assert.Equal(t, e164.Mask(tc.raw), ne.Masked)
			assert.Equal(t, `e164: invalid number "`+ne.Masked+`": `+tc.reason.String(), err.Error())
			if tc.cause != nil {
				assert.ErrorIs(t, err, tc.cause)
			}
			requireNoPlaintext(t, tc.raw, err)
		})
	}
}

// requireNoPlaintext fails if the message of err, or of any error it wraps,
// holds four or more consecutive digits of raw.
func requireNoPlaintext(t testing.TB, raw string, err error) {
	t.Helper()
	var digits strings.Builder
	for _, c := range raw {
		if c >= '0' && c <= '9' {
			digits.WriteRune(c)
		}
	}
	d := digits.String()
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		require.False(t, fourDigits.MatchString(msg), "four digits in %q", msg)
		for i := 0; i+4 <= len(d); i++ {
			require.NotContains(t, msg, d[i:i+4])
		}
	}
}

func TestParseCanonical(t *testing.T) {
	for _, s := range []string{"+2348031234567", "+1234567", "+123456789012345", "+999123456789"} {
		n, err := e164.ParseCanonical(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, n.String())
	}
	assert.Equal(t, e164.MustParse("0803 123 4567", "NG"), must(e164.ParseCanonical("+2348031234567")))

	for _, tc := range []struct {
		name, s string
		reason  e164.Reason
	}{
		{"empty", "", e164.ReasonSyntax},
		{"plus alone", "+", e164.ReasonTooShort},
		{"no plus", "2348031234567", e164.ReasonSyntax},
		{"leading zero", "+023480312345", e164.ReasonSyntax},
		{"six digits", "+123456", e164.ReasonTooShort},
		{"sixteen digits", "+1234567890123456", e164.ReasonTooLong},
		{"letter", "+23480312345a7", e164.ReasonSyntax},
		{"space", "+ 234803123", e164.ReasonSyntax},
		{"trailing space", "+2348031234567 ", e164.ReasonSyntax},
		{"national form", "0803 123 4567", e164.ReasonSyntax},
		{"two plus", "++2348031234567", e164.ReasonSyntax},
		{"NUL", "+234803123\x004567", e164.ReasonSyntax},
		{"full-width digit", "+２348031234567", e164.ReasonSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e164.ParseCanonical(tc.s)
			require.ErrorIs(t, err, e164.ErrInvalidNumber)
			var ne *e164.NumberError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, tc.reason, ne.Reason)
			assert.NoError(t, ne.Err)
			requireNoPlaintext(t, tc.s, err)
		})
	}
}

func TestParseCanonicalDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := e164.ParseCanonical("+2348031234567"); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestMustParsePanics(t *testing.T) {
	assert.Equal(t, "+2348031234567", e164.MustParse("0803 123 4567", "NG").String())
	assert.PanicsWithError(t, `e164: invalid number "080XXXXXXXX": no leading '+' and no region given`, func() {
		e164.MustParse("0803 123 4567", "")
	})
}

func TestMask(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", ""},
		{"+2348031234567", "+234XXXXXXXXXX"},
		{"+234 (0) 803-123-4567", "+234XXXXXXXXXXX"},
		{"0803 123 4567", "080XXXXXXXX"},
		{"  +44 7400 123456", "+447XXXXXXXXX"},
		{"12+34", "123X"}, // only a leading '+' is kept
		{"++1234", "+123X"},
		{"CALL NOW", ""},
		{"+1 415 555 2671 ext. 9", "+141XXXXXXXXX"},
		{"+1234567890123456789012345", "+123XXXXXXXXXXXXXXXX"}, // capped at 20
		{"12345678901234567890123", "123XXXXXXXXXXXXXXXXX"},
		{"+٢٣٤٨٠٣", "+"}, // only ASCII digits are digits
		{"\xff\xfe+1234", "123X"},
	} {
		got := e164.Mask(tc.raw)
		assert.Equal(t, tc.want, got, "%q", tc.raw)
		assert.LessOrEqual(t, len(got), 20)
		assert.False(t, fourDigits.MatchString(got))
	}
}

func TestNumberMethods(t *testing.T) {
	n := e164.MustParse("+14155551234", "")
	assert.Equal(t, "+1415555XXXX", n.Obfuscate())
	assert.Equal(t, "+141XXXXXXXX", n.Masked())
	assert.Equal(t, 1, n.CountryCode())
	assert.Equal(t, "US", n.Region())
	assert.Equal(t, []byte("to=+14155551234"), n.AppendTo([]byte("to=")))

	ng := e164.MustParse("+2348031234567", "")
	assert.Equal(t, "+234803123XXXX", ng.Obfuscate())
	assert.Equal(t, "+234XXXXXXXXXX", ng.Masked())

	short := must(e164.ParseCanonical("+6834001"))
	assert.Equal(t, "+683XXXX", short.Obfuscate())
	assert.Equal(t, 683, short.CountryCode())

	unassigned := must(e164.ParseCanonical("+9991234567"))
	assert.Equal(t, 0, unassigned.CountryCode())
	assert.Equal(t, "", unassigned.Region())

	var zero e164.Number
	assert.False(t, zero.IsValid())
	assert.Equal(t, "", zero.String())
	assert.Equal(t, "", zero.Obfuscate())
	assert.Equal(t, "invalid", zero.Masked())
	assert.Equal(t, 0, zero.CountryCode())
	assert.Equal(t, "", zero.Region())
	assert.Equal(t, []byte("x"), zero.AppendTo([]byte("x")))
	assert.NotEqual(t, zero, n)
}

func TestCompare(t *testing.T) {
	a := e164.MustParse("+14155552671", "")
	b := e164.MustParse("+2348031234567", "")
	c := e164.MustParse("+447400123456", "")
	var zero e164.Number
	got := []e164.Number{c, b, zero, a}
	slices.SortFunc(got, e164.Compare)
	assert.Equal(t, []e164.Number{zero, a, b, c}, got)
	assert.Equal(t, 0, e164.Compare(a, e164.MustParse("(415) 555-2671", "US")))
	assert.Equal(t, -1, e164.Compare(a, b))
	assert.Equal(t, 1, e164.Compare(b, a))
}

func TestText(t *testing.T) {
	n := e164.MustParse("+44 7400 123456", "")
	b, err := n.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "+447400123456", string(b))
	b, err = n.AppendText([]byte("to="))
	require.NoError(t, err)
	assert.Equal(t, "to=+447400123456", string(b))

	var back e164.Number
	require.NoError(t, back.UnmarshalText([]byte("+447400123456")))
	assert.Equal(t, n, back)

	b, err = e164.Number{}.MarshalText()
	require.NoError(t, err)
	assert.Empty(t, b)
	require.NoError(t, back.UnmarshalText(nil))
	assert.Equal(t, e164.Number{}, back, "empty text gives the zero value")

	// Bad text leaves the number unchanged; national form is refused.
	back = n
	for _, bad := range []string{"0740 0123456", "+44 7700 900123", "  ", "+"} {
		err := back.UnmarshalText([]byte(bad))
		require.ErrorIs(t, err, e164.ErrInvalidNumber, "%q", bad)
		assert.Equal(t, n, back)
	}
	var ne *e164.NumberError
	require.ErrorAs(t, back.UnmarshalText([]byte("0803 123 4567")), &ne)
	assert.Equal(t, e164.ReasonNoRegion, ne.Reason)
}

func TestJSON(t *testing.T) {
	type rec struct {
		To   e164.Number  `json:"to"`
		From e164.Number  `json:"from"`
		Via  *e164.Number `json:"via,omitempty"`
	}
	via := e164.MustParse("+33 6 12 34 56 78", "")
	in := rec{To: e164.MustParse("+447400123456", ""), Via: &via}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"to":"+447400123456","from":"","via":"+33612345678"}`, string(b))
	var out rec
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)

	// Numbers as map keys go through the same text methods.
	counts := map[e164.Number]int{in.To: 2, via: 1}
	b, err = json.Marshal(counts)
	require.NoError(t, err)
	assert.JSONEq(t, `{"+447400123456":2,"+33612345678":1}`, string(b))
	var countsBack map[e164.Number]int
	require.NoError(t, json.Unmarshal(b, &countsBack))
	assert.Equal(t, counts, countsBack)

	err = json.Unmarshal([]byte(`{"to":"0803 123 4567"}`), &out)
	require.ErrorIs(t, err, e164.ErrInvalidNumber)
	var ne *e164.NumberError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, e164.ReasonNoRegion, ne.Reason)
	requireNoPlaintext(t, "0803 123 4567", err)
}

func TestReasonString(t *testing.T) {
	for r, want := range map[e164.Reason]string{
		e164.ReasonEmpty:         "empty",
		e164.ReasonNoRegion:      "no leading '+' and no region given",
		e164.ReasonUnknownRegion: "unknown region",
		e164.ReasonSyntax:        "not a phone number",
		e164.ReasonTooShort:      "too short",
		e164.ReasonTooLong:       "too long",
		e164.ReasonNotPossible:   "not a possible number",
		e164.ReasonNotValid:      "not a valid number",
		e164.Reason(0):           "reason(0)",
		e164.Reason(99):          "reason(99)",
	} {
		assert.Equal(t, want, r.String())
	}
	// The values are stable: they may be stored.
	assert.Equal(t, []e164.Reason{1, 2, 3, 4, 5, 6, 7, 8}, []e164.Reason{
		e164.ReasonEmpty, e164.ReasonNoRegion, e164.ReasonUnknownRegion, e164.ReasonSyntax,
		e164.ReasonTooShort, e164.ReasonTooLong, e164.ReasonNotPossible, e164.ReasonNotValid,
	})
}

func TestNumberErrorIs(t *testing.T) {
	err := error(&e164.NumberError{Masked: "+23XX", Reason: e164.ReasonNotValid})
	assert.ErrorIs(t, err, e164.ErrInvalidNumber)
	assert.NotErrorIs(t, err, errors.New("e164: invalid number"), "matches the sentinel itself, not its text")
	assert.Nil(t, errors.Unwrap(err))
	wrapped := &e164.NumberError{Reason: e164.ReasonSyntax, Err: phonenumbers.ErrNotANumber}
	assert.Same(t, phonenumbers.ErrNotANumber, errors.Unwrap(wrapped))
}

// TestParseConcurrent runs Parse and the metadata look-ups from many
// goroutines; under -race it checks that they share no unsynchronised state.
func TestParseConcurrent(t *testing.T) {
	inputs := [][2]string{{"0803 123 4567", "NG"}, {"+44 7400 123456", ""}, {"(415) 555-2671", "US"}, {"090-1234-5678", "JP"}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				in := inputs[(g+i)%len(inputs)]
				n, err := e164.Parse(in[0], in[1])
				if !assert.NoError(t, err) {
					return
				}
				assert.NotEmpty(t, n.Region())
				assert.NotZero(t, n.CountryCode())
			}
		})
	}
	wg.Wait()
}

func must(n e164.Number, err error) e164.Number {
	if err != nil {
		panic(err)
	}
	return n
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, raw, region string }{
		{"national", "0803 123 4567", "NG"},
		{"international", "+44 7400 123456", ""},
		{"invalid", "+1 200 555 0100", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = e164.Parse(bc.raw, bc.region)
			}
		})
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
