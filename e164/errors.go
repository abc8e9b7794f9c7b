package e164

import (
	"errors"
	"fmt"
)

// ErrInvalidNumber is matched, through *NumberError, by every error that
// Parse, ParseCanonical and UnmarshalText return for input that is not an
// acceptable number. Test for it with errors.Is; read the Reason with
// errors.As.
var ErrInvalidNumber = errors.New("e164: invalid number")

// errPanic is the cause a *NumberError carries when phonenumbers panicked
// on the input.
var errPanic = errors.New("e164: phonenumbers failed on this input")

// Reason says why a number was refused.
type Reason int

// The reasons a number is refused. The values are stable: they may be
// stored or sent, and a retired value is never reused.
const (
	// ReasonEmpty: the input is empty or only spaces.
	ReasonEmpty Reason = 1
	// ReasonNoRegion: the input has no leading '+' and no region was given
	// to read it in.
	ReasonNoRegion Reason = 2
	// ReasonUnknownRegion: the region is not an ISO 3166 alpha-2 code
	// phonenumbers has a numbering plan for ("ZZ", "XX").
	ReasonUnknownRegion Reason = 3
	// ReasonSyntax: characters that are not part of a phone number
	// (letters, '*', '#'), or no number phonenumbers can read; for
	// ParseCanonical, anything but '+' and digits, or a leading '0'.
	ReasonSyntax Reason = 4
	// ReasonTooShort: fewer digits than any number of the country has.
	ReasonTooShort Reason = 5
	// ReasonTooLong: more digits than any number of the country has.
	ReasonTooLong Reason = 6
	// ReasonNotPossible: phonenumbers says the number is not possible: no
	// such country code ("+999…"), or a length between the shortest and
	// longest that no number of the country has.
	ReasonNotPossible Reason = 7
	// ReasonNotValid: a possible number that the numbering plan does not
	// assign ("+1 200 555 0100": no area code 200).
	ReasonNotValid Reason = 8
)

var reasonText = map[Reason]string{
	ReasonEmpty:         "empty",
	ReasonNoRegion:      "no leading '+' and no region given",
	ReasonUnknownRegion: "unknown region",
	ReasonSyntax:        "not a phone number",
	ReasonTooShort:      "too short",
	ReasonTooLong:       "too long",
	ReasonNotPossible:   "not a possible number",
	ReasonNotValid:      "not a valid number",
}

// String returns a short lowercase description of r ("too short").
func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// NumberError reports a refused number. It matches ErrInvalidNumber. Its
// message holds the input only masked (see Mask), never its digits.
type NumberError struct {
	Masked string // the input, masked with Mask
	Reason Reason // why the input was refused
	Err    error  // the phonenumbers error, if there was one
}

// Error returns `e164: invalid number "<masked>": <reason>`.
func (e *NumberError) Error() string {
	return fmt.Sprintf("e164: invalid number %q: %s", e.Masked, e.Reason)
}

// Is reports whether target is ErrInvalidNumber.
func (e *NumberError) Is(target error) bool { return target == ErrInvalidNumber }

// Unwrap returns the underlying cause, the phonenumbers error, or nil.
func (e *NumberError) Unwrap() error { return e.Err }

func fail(raw string, r Reason, err error) error {
	return &NumberError{Masked: Mask(raw), Reason: r, Err: err}
}
