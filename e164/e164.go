package e164

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Number is an E.164 phone number in canonical form: '+' and 7 to 15
// digits, the first not '0'. It is a small comparable value in the style of
// netip.Addr: use == and map keys. The zero value is not a number; IsValid
// reports false for it. A Number is immutable and safe for concurrent use.
type Number struct {
	s string // "+" and digits, or "" for the zero value
}

// separators are the characters Parse accepts besides digits and '+'.
// Letters (vanity numbers, "ext."), '*', '#' and "tel:" URIs are refused:
// phonenumbers would read some of them and drop the rest silently.
const separators = " ()-./\t\u00a0"

// Parse reads raw in international form ("+234 (0) 803 123 4567") or, when
// region is given, also in that region's national form ("0803 123 4567" in
// NG, or with the region's international prefix, "011 44 7400 123456" in
// US), and returns it in canonical E.164 form.
//
// Spaces around raw are ignored. Input that does not start with '+' needs a
// region: Parse never guesses a country. region is an ISO 3166 alpha-2 code
// in any case ("NG", "ng"); a region phonenumbers does not know is an error
// even when raw starts with '+'. The number must be valid for the numbering
// plan (phonenumbers.IsValidNumber), not merely possible. Parse
// normalises: a trunk prefix after the country code is dropped
// ("+234 (0) 803…"), so its result may differ from input that is already in
// canonical syntax; its result parses to itself.
//
// Every error is a *NumberError that matches ErrInvalidNumber; its Reason
// says which test failed and its message holds raw only masked (see Mask).
// Parse is safe for concurrent use.
func Parse(raw, region string) (Number, error) {
	in := strings.TrimSpace(raw)
	if in == "" {
		return Number{}, fail(raw, ReasonEmpty, nil)
	}
	region = strings.ToUpper(strings.TrimSpace(region))
	if region != "" && phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return Number{}, fail(raw, ReasonUnknownRegion, nil)
	}
	for _, c := range in {
		if (c < '0' || c > '9') && c != '+' && !strings.ContainsRune(separators, c) {
			return Number{}, fail(raw, ReasonSyntax, nil)
		}
	}
	if in[0] != '+' {
		if region == "" {
			return Number{}, fail(raw, ReasonNoRegion, nil)
		}
	} else if region == "" {
		region = "ZZ" // international form: phonenumbers needs no region
	}
	pn, err := parseNumber(in, region)
	if err != nil {
		switch err {
		case phonenumbers.ErrTooShortNSN, phonenumbers.ErrTooShortAfterIDD:
			return Number{}, fail(raw, ReasonTooShort, err)
		case phonenumbers.ErrNumTooLong:
			return Number{}, fail(raw, ReasonTooLong, err)
		case phonenumbers.ErrInvalidCountryCode:
			return Number{}, fail(raw, ReasonNotPossible, err)
		}
		return Number{}, fail(raw, ReasonSyntax, err)
	}
	// IsPossibleNumber counts IS_POSSIBLE_LOCAL_ONLY (a number dialled
	// without its area code) as possible; so does Parse, which then fails
	// it as not valid.
	switch phonenumbers.IsPossibleNumberWithReason(pn) {
	case phonenumbers.IS_POSSIBLE, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
	case phonenumbers.TOO_SHORT:
		return Number{}, fail(raw, ReasonTooShort, nil)
	case phonenumbers.TOO_LONG:
		return Number{}, fail(raw, ReasonTooLong, nil)
	default: // INVALID_LENGTH, INVALID_COUNTRY_CODE
		return Number{}, fail(raw, ReasonNotPossible, nil)
	}
	if !phonenumbers.IsValidNumber(pn) {
		return Number{}, fail(raw, ReasonNotValid, nil)
	}
	s := phonenumbers.Format(pn, phonenumbers.E164)
	if r := checkCanonical(s); r != 0 {
		// A number valid for its plan that E.164 cannot hold; not seen
		// with the v1.8.1 metadata, kept so the invariant never breaks.
		return Number{}, fail(raw, r, nil)
	}
	return Number{s: s}, nil
}

// parseNumber calls phonenumbers.Parse and turns a panic inside it into an
// error: input from users must never crash the caller.
func parseNumber(in, region string) (pn *phonenumbers.PhoneNumber, err error) {
	defer func() {
		if recover() != nil {
			pn, err = nil, errPanic
		}
	}()
	return phonenumbers.Parse(in, region)
}

// ParseCanonical accepts s only in canonical form: '+' and 7 to 15 ASCII
// digits, the first not '0'. It checks syntax only, not the numbering plan,
// and does not allocate on success: decoders of stored data use it. Numbers
// it accepts may be ones Parse refuses. Its errors are *NumberError values
// with Reason ReasonSyntax, ReasonTooShort or ReasonTooLong, matching
// ErrInvalidNumber.
func ParseCanonical(s string) (Number, error) {
	if r := checkCanonical(s); r != 0 {
		return Number{}, fail(s, r, nil)
	}
	return Number{s: s}, nil
}

// checkCanonical returns why s is not canonical, or 0 when it is.
func checkCanonical(s string) Reason {
	if s == "" || s[0] != '+' {
		return ReasonSyntax
	}
	d := s[1:]
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return ReasonSyntax
		}
	}
	switch {
	case len(d) < 7:
		return ReasonTooShort
	case len(d) > 15:
		return ReasonTooLong
	case d[0] == '0':
		return ReasonSyntax
	}
	return 0
}

// MustParse is like Parse but panics on error. It is for tests, examples
// and constants, never for input.
func MustParse(raw, region string) Number {
	n, err := Parse(raw, region)
	if err != nil {
		panic(err)
	}
	return n
}

// IsValid reports whether n holds a number, that is, is not the zero value.
func (n Number) IsValid() bool { return n.s != "" }

// String returns the canonical form, '+' and digits, or "" for the zero
// value. It is the plaintext number, personal data: never log it; log
// Masked.
func (n Number) String() string { return n.s }

// AppendTo appends the canonical form of n to b and returns the result.
// The zero value appends nothing.
func (n Number) AppendTo(b []byte) []byte { return append(b, n.s...) }

// Masked returns Mask of the number: a form safe for logs and errors, the
// '+', the first three digits and an X for every other digit
// ("+234XXXXXXXXXX"). The zero value gives "invalid".
func (n Number) Masked() string {
	if n.s == "" {
		return "invalid"
	}
	return Mask(n.s)
}

// Obfuscate returns the canonical form with its last four digits replaced
// by X ("+14155551234" gives "+1415555XXXX"), the form stored once policy
// redaction has run. The zero value gives "".
func (n Number) Obfuscate() string {
	if len(n.s) < 5 {
		return n.s
	}
	return n.s[:len(n.s)-4] + "XXXX"
}

// CountryCode returns the country calling code of n (234 for "+234…"), or
// 0 for the zero value and for a number from ParseCanonical whose leading
// digits are no assigned code. Codes are prefix-free, so the first one to
// three digits name at most one.
func (n Number) CountryCode() int {
	cc := 0
	for i := 1; i <= 3 && i < len(n.s); i++ {
		cc = cc*10 + int(n.s[i]-'0')
		if phonenumbers.GetRegionCodeForCountryCode(cc) != "ZZ" {
			return cc
		}
	}
	return 0
}

// Region returns the ISO 3166 alpha-2 region of n ("NG"), or "" when there
// is none: the zero value, a code shared by several regions when the
// number fits none of them, and the non-geographic codes (+800, +882…).
// Numbers of a shared code resolve to the region whose plan they fit
// ("+44 7911 123456" is "GG", Guernsey, not "GB"). Region parses the number
// each time; cache it if it is hot.
func (n Number) Region() string {
	if n.s == "" {
		return ""
	}
	pn, err := parseNumber(n.s, "ZZ")
	if err != nil {
		return ""
	}
	r := phonenumbers.GetRegionCodeForNumber(pn)
	if len(r) != 2 || r == "ZZ" { // "001" is the non-geographic entity
		return ""
	}
	return r
}

// Compare returns an integer comparing a and b by their canonical form:
// -1 if a < b, 0 if a == b, +1 if a > b. The zero value sorts first.
func Compare(a, b Number) int { return strings.Compare(a.s, b.s) }

// MarshalText implements encoding.TextMarshaler: the canonical form, empty
// for the zero value. It never fails.
func (n Number) MarshalText() ([]byte, error) { return []byte(n.s), nil }

// AppendText implements encoding.TextAppender, like MarshalText.
func (n Number) AppendText(b []byte) ([]byte, error) { return append(b, n.s...), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse(text, ""):
// the number must be in international form and valid. Empty text gives the
// zero value. On error n is left unchanged.
func (n *Number) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*n = Number{}
		return nil
	}
	p, err := Parse(string(text), "")
	if err != nil {
		return err
	}
	*n = p
	return nil
}

// maxMasked caps the length of Mask's result.
const maxMasked = 20

// Mask returns a form of raw that is safe for logs and errors: a leading
// '+' (the first character after any spaces) is kept, the first three
// digits are kept, every later digit becomes 'X', and every other
// character is dropped; the result is at most 20 bytes long. Mask never
// fails; it is meant for input that may not be a number at all.
func Mask(raw string) string {
	var b [maxMasked]byte
	n, digits := 0, 0
	lead := true // no character but spaces seen yet
	for _, c := range raw {
		if n == len(b) {
			break
		}
		switch {
		case c == '+' && lead:
			b[n] = '+'
			n++
		case c >= '0' && c <= '9':
			if digits < 3 {
				b[n] = byte(c)
			} else {
				b[n] = 'X'
			}
			n++
			digits++
		}
		if c != ' ' && c != '\t' {
			lead = false
		}
	}
	return string(b[:n])
}
