package redaction

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Errors of the redaction operations. Records that are not found are
// reported with an error matching cdrstore.ErrNotFound.
var (
	// ErrInvalidProduct is returned (as a *ProductError) for a product
	// name that is not one of the Redact API's products or their aliases.
	ErrInvalidProduct = errors.New("redaction: invalid product")

	// ErrInvalidDirection is returned for a direction (type) that is not
	// inbound or outbound.
	ErrInvalidDirection = errors.New("redaction: invalid direction")

	// ErrPrematureRedaction is returned (as a *PrematureRedactionError)
	// when a record is younger than the workspace's premature-redaction
	// window.
	ErrPrematureRedaction = errors.New("redaction: premature redaction")

	// ErrNotProvisioned is returned (as a *NotProvisionedError) when the
	// workspace's settings do not list the product.
	ErrNotProvisioned = errors.New("redaction: workspace not provisioned for product")

	// ErrLegalHold is returned when the one record an operation targets is
	// under a legal hold. Operations over many records skip held records
	// and list them in Result.Skipped instead.
	ErrLegalHold = errors.New("redaction: under legal hold")

	// ErrInvalidSettings is returned by SetSettings for a policy that
	// cannot be applied. Nothing is written.
	ErrInvalidSettings = errors.New("redaction: invalid settings")

	// ErrRequestConflict is returned when a request ID is replayed for a
	// different request than the one it first named: another operation,
	// or the same one with other arguments (another ID, number, product,
	// direction or reason). Nothing is written.
	ErrRequestConflict = errors.New("redaction: request ID already used for another operation")

	// ErrInvalidReason is returned for an erasure reason that is not a
	// reason code (see ValidateReason), and for a hold reason that may
	// hold a number. Nothing is written.
	ErrInvalidReason = errors.New("redaction: invalid reason")
)

// maxReasonDigits bounds the digits of a reason code: an E.164 number has
// at least seven, so none fits in a reason, and none reaches the audit.
const maxReasonDigits = 6

// ValidateReason checks the legal reason of an erasure: a code such as
// "ndpr_right_to_erasure" or "gdpr_art17", not free text. It is 1–64
// bytes of lowercase ASCII letters, digits, '_', '-' and '.', starts with
// a letter and holds at most six digits, so that no phone number can be
// written into the audit log through it. The error matches
// ErrInvalidReason and does not quote the input.
func ValidateReason(reason string) error {
	if reason == "" || len(reason) > 64 {
		return fmt.Errorf("%w: must be 1 to 64 bytes", ErrInvalidReason)
	}
	if c := reason[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("%w: must start with a lowercase letter", ErrInvalidReason)
	}
	for i := 0; i < len(reason); i++ {
		switch c := reason[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return fmt.Errorf("%w: byte %d is not a lowercase letter, digit, '_', '-' or '.'", ErrInvalidReason, i)
		}
	}
	if mayHoldNumber(reason) {
		return fmt.Errorf("%w: more than %d digits (a reason is a code, and must not hold a number)", ErrInvalidReason, maxReasonDigits)
	}
	return nil
}

// mayHoldNumber reports whether s has more than maxReasonDigits digits,
// enough for a phone number to hide in it.
func mayHoldNumber(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		}
	}
	return digits > maxReasonDigits
}

// ProductError reports a product name that is not known. Input is the
// name as given, cut to at most 32 bytes (between characters), with every run of digits that could be
// a phone number masked (e164.MaskText): it never holds a number.
type ProductError struct{ Input string }

// productError returns the *ProductError of the name in.
func productError(in string) *ProductError {
	in = e164.MaskText(in)
	if len(in) > 32 {
		cut := 32
		for cut > 0 && !utf8.RuneStart(in[cut]) {
			cut-- // not inside a character
		}
		in = in[:cut]
	}
	return &ProductError{Input: in}
}

func (e *ProductError) Error() string {
	return fmt.Sprintf("redaction: no product corresponding to supplied string %q", e.Input)
}

// Is reports whether target is ErrInvalidProduct.
func (e *ProductError) Is(target error) bool { return target == ErrInvalidProduct }

// PrematureRedactionError reports a record too young to redact: it becomes
// eligible at EligibleAt, Wait from now.
type PrematureRedactionError struct {
	ID         string
	EligibleAt time.Time
	Wait       time.Duration
}

func (e *PrematureRedactionError) Error() string {
	return fmt.Sprintf("redaction: you must wait %s before redacting ID %q", e.Wait.Round(time.Second), e.ID)
}

// Is reports whether target is ErrPrematureRedaction.
func (e *PrematureRedactionError) Is(target error) bool { return target == ErrPrematureRedaction }

// NotProvisionedError reports a product the workspace may not redact.
type NotProvisionedError struct {
	Workspace string
	Product   cdrstore.Product
}

func (e *NotProvisionedError) Error() string {
	return fmt.Sprintf("redaction: workspace %q is not provisioned to redact product=%s", e.Workspace, e.Product)
}

// Is reports whether target is ErrNotProvisioned.
func (e *NotProvisionedError) Is(target error) bool { return target == ErrNotProvisioned }

// NotFoundError reports a transaction ID that has no record of the given
// product and direction (a mismatch counts as not found, as the Redact API
// has it). It matches cdrstore.ErrNotFound.
type NotFoundError struct {
	ID        string
	Product   cdrstore.Product
	Direction cdrstore.Direction
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("redaction: ID %q could not be found (%s)", e.ID, e.Qualifier())
}

// Qualifier returns "type=MT" or "type=MO" for SMS (mobile terminated is
// outbound, mobile originated inbound) and "product=P" otherwise.
func (e *NotFoundError) Qualifier() string {
	if e.Product == cdrstore.ProductSMS {
		if e.Direction == cdrstore.Inbound {
			return "type=MO"
		}
		return "type=MT"
	}
	return "product=" + string(e.Product)
}

// Is reports whether target is cdrstore.ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == cdrstore.ErrNotFound }

// HoldError reports a record under legal hold.
type HoldError struct {
	ID     string
	Reason string // "legal hold: " and the hold's reason, as Skipped.Reason says it
}

func (e *HoldError) Error() string {
	return fmt.Sprintf("redaction: record %q: %s", e.ID, e.Reason)
}

// Is reports whether target is ErrLegalHold.
func (e *HoldError) Is(target error) bool { return target == ErrLegalHold }
