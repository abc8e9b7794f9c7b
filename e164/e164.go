package e164

import (
	"regexp"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Number is an E.164 phone number in canonical form ("+" and up to 15
// digits). It is a comparable value: use == and map keys. The zero value is
// not a number; IsValid reports false for it.
type Number struct {
	s string
}

// Parse reads raw, in international form ("+234 (0) 803 123 4567") or, when
// region is an ISO 3166 alpha-2 code, in that region's national form
// ("0803 123 4567" in NG), and returns it in canonical E.164 form. Input
// without a leading '+' and no region is refused rather than guessed. The
// number must be valid per the numbering plan, not merely possible; the
// *NumberError's Reason says which test failed.
func Parse(raw, region string) (Number, error) {
	in := strings.TrimSpace(raw)
	if in == "" {
		return Number{}, fail(raw, ReasonEmpty, nil)
	}
	region = strings.ToUpper(strings.TrimSpace(region))
	if !strings.HasPrefix(in, "+") {
		if region == "" {
			return Number{}, fail(raw, ReasonNoRegion, nil)
		}
		if phonenumbers.GetCountryCodeForRegion(region) == 0 {
			return Number{}, fail(raw, ReasonUnknownRegion, nil)
		}
	} else {
		region = "ZZ" // international form: the region plays no part
	}
	for _, c := range in {
		if !strings.ContainsRune("+0123456789 ()-./\u00a0", c) {
			return Number{}, fail(raw, ReasonSyntax, nil)
		}
	}
	pn, err := phonenumbers.Parse(in, region)
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
	switch phonenumbers.IsPossibleNumberWithReason(pn) {
	case phonenumbers.IS_POSSIBLE, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
	case phonenumbers.TOO_SHORT:
		return Number{}, fail(raw, ReasonTooShort, nil)
	case phonenumbers.TOO_LONG:
		return Number{}, fail(raw, ReasonTooLong, nil)
	default:
		return Number{}, fail(raw, ReasonNotPossible, nil)
	}
	if !phonenumbers.IsValidNumber(pn) {
		return Number{}, fail(raw, ReasonNotValid, nil)
	}
	n, err := ParseCanonical(phonenumbers.Format(pn, phonenumbers.E164))
	if err != nil {
		return Number{}, fail(raw, ReasonSyntax, err)
	}
	return n, nil
}

// ParseCanonical accepts s only in canonical form: '+' and 7 to 15 ASCII
// digits, the first not '0'. It checks syntax only (no numbering plan),
// which makes it cheap: decoders of stored data use it.
func ParseCanonical(s string) (Number, error) {
	if len(s) < 1 || s[0] != '+' {
		return Number{}, fail(s, ReasonSyntax, nil)
	}
	d := s[1:]
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return Number{}, fail(s, ReasonSyntax, nil)
		}
	}
	switch {
	case len(d) < 7:
		return Number{}, fail(s, ReasonTooShort, nil)
	case len(d) > 15:
		return Number{}, fail(s, ReasonTooLong, nil)
	case d[0] == '0':
		return Number{}, fail(s, ReasonSyntax, nil)
	}
	return Number{s: s}, nil
}

// MustParse is Parse that panics on error. It is for tests and examples.
func MustParse(raw, region string) Number {
	n, err := Parse(raw, region)
	if err != nil {
		panic(err)
	}
	return n
}

// IsValid reports whether n holds a number (is not the zero value).
func (n Number) IsValid() bool { return n.s != "" }

// String returns the canonical form, "+" and digits, or "" for the zero
// value. It is the plaintext number: never log it; use Masked.
func (n Number) String() string { return n.s }

// AppendTo appends the canonical form to b.
func (n Number) AppendTo(b []byte) []byte { return append(b, n.s...) }

// Masked returns a form safe for logs and errors: the '+', the first three
// digits, and X for every other digit ("+234XXXXXXXXXX"). The zero value
// gives "invalid".
func (n Number) Masked() string {
	if n.s == "" {
		return "invalid"
	}
	return Mask(n.s)
}

// Obfuscate returns the number with its last four digits replaced by X
// ("+14155551234" gives "+1415555XXXX"), the form policy redaction stores.
// The zero value gives "".
func (n Number) Obfuscate() string {
	if len(n.s) < 5 {
		return n.s
	}
	return n.s[:len(n.s)-4] + "XXXX"
}

// CountryCode returns the country calling code (234 for "+234…"), or 0.
func (n Number) CountryCode() int {
	for l := 1; l <= 3 && l < len(n.s); l++ {
		cc := 0
		for _, c := range n.s[1 : 1+l] {
			cc = cc*10 + int(c-'0')
		}
		if phonenumbers.GetRegionCodeForCountryCode(cc) != "ZZ" {
			return cc
		}
	}
	return 0
}

// Region returns the ISO 3166 region of the number ("NG"), or "" when it is
// not known.
func (n Number) Region() string {
	if n.s == "" {
		return ""
	}
	pn, err := phonenumbers.Parse(n.s, "ZZ")
	if err != nil {
		return ""
	}
	r := phonenumbers.GetRegionCodeForNumber(pn)
	if r == "ZZ" {
		return ""
	}
	return r
}

// Compare orders numbers by their canonical form.
func Compare(a, b Number) int { return strings.Compare(a.s, b.s) }

// MarshalText returns the canonical form ("" for the zero value).
func (n Number) MarshalText() ([]byte, error) { return []byte(n.s), nil }

// UnmarshalText parses international form with Parse(text, ""). Empty text
// gives the zero value.
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

// numberRun matches a run of digits that could be a written phone number,
// with the separators Mask passes over (and '_').
var numberRun = regexp.MustCompile(`\+?[0-9][0-9 ()\-./_\t\x{00A0}]{5,}[0-9]`)

// MaskText returns s with every run of digits that could be a phone
// number passed through Mask: for text from elsewhere (a URL path, an
// error from a caller's code) on its way to a log.
func MaskText(s string) string {
	return numberRun.ReplaceAllStringFunc(s, Mask)
}

// Mask returns raw with every digit after the first three replaced by X,
// the separators of a written number (space, parentheses, '-', '.', '/')
// dropped, a leading '+' kept and any other character replaced by '*', at
// most 20 characters: a form of user input that is safe for logs and
// errors, and that shows the input's shape ("ACME" gives "****").
func Mask(raw string) string {
	var b strings.Builder
	digits := 0
	for i, c := range raw {
		if b.Len() >= 20 {
			break
		}
		switch {
		case c == '+' && i == 0:
			b.WriteByte('+')
		case c >= '0' && c <= '9':
			if digits < 3 {
				b.WriteRune(c)
			} else {
				b.WriteByte('X')
			}
			digits++
		case strings.ContainsRune(" ()-./\u00a0\t", c):
		default:
			b.WriteByte('*')
		}
	}
	return b.String()
}
