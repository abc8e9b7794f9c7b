package e164

import (
	"errors"
	"fmt"
)

// ErrInvalidNumber is matched (through *NumberError) by every error that
// Parse, ParseCanonical and UnmarshalText return for bad input.
var ErrInvalidNumber = errors.New("e164: invalid number")

// Reason says why a number was refused.
type Reason int

// Reasons. The values are stable.
const (
	ReasonEmpty         Reason = 1 // nothing but spaces
	ReasonNoRegion      Reason = 2 // no leading '+' and no region to read it in
	ReasonUnknownRegion Reason = 3 // the region is not an ISO 3166 code phonenumbers knows
	ReasonSyntax        Reason = 4 // characters that are not a phone number
	ReasonTooShort      Reason = 5
	ReasonTooLong       Reason = 6
	ReasonNotPossible   Reason = 7 // the length cannot be a number of that country
	ReasonNotValid      Reason = 8 // possible, but not a number any operator assigns
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

func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// NumberError reports a refused number. Its message holds the input only
// masked (see Mask), never its digits.
type NumberError struct {
	Masked string // the input, masked
	Reason Reason
	Err    error // the phonenumbers error, if any
}

func (e *NumberError) Error() string {
	return fmt.Sprintf("e164: invalid number %q: %s", e.Masked, e.Reason)
}

// Is reports whether target is ErrInvalidNumber.
func (e *NumberError) Is(target error) bool { return target == ErrInvalidNumber }

// Unwrap returns the underlying cause.
func (e *NumberError) Unwrap() error { return e.Err }

func fail(raw string, r Reason, err error) error {
	return &NumberError{Masked: Mask(raw), Reason: r, Err: err}
}
