package cdrstore

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cdrvault/cdrvault/e164"
	"golang.org/x/text/unicode/norm"
)

// Product names the platform product that produced a record. The values are
// the Vonage Redact API's spellings.
type Product string

// Products, in the order of their codec numbers.
const (
	ProductSMS           Product = "sms"
	ProductVoice         Product = "voice"
	ProductNumberInsight Product = "number-insight"
	ProductVerify        Product = "verify"
	ProductVerifySDK     Product = "verify-sdk"
	ProductMessages      Product = "messages"
)

// Products returns every known product.
func Products() []Product {
	return []Product{ProductSMS, ProductVoice, ProductNumberInsight, ProductVerify, ProductVerifySDK, ProductMessages}
}

// Valid reports whether p is a known product.
func (p Product) Valid() bool { return productCode(p) != 0 }

// Direction says who started a transaction.
type Direction string

// Directions. For SMS, outbound is MT (mobile terminated) and inbound is MO.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == Inbound || d == Outbound }

// ContentRetention is a per-record override of the auto-redaction policy for
// content (body, transcript, recording, media).
type ContentRetention string

// Content retention overrides. The empty value follows the policy.
const (
	ContentDefault ContentRetention = ""
	ContentRetain  ContentRetention = "retain"
	ContentDiscard ContentRetention = "discard"
)

// AddressRetention is a per-record override of the auto-redaction policy for
// the counterparty's number (which side that is, is the redaction
// package's rule: redaction.Counterparty).
type AddressRetention string

// Address retention overrides. The empty value follows the policy.
const (
	AddressDefault   AddressRetention = ""
	AddressRetain    AddressRetention = "retain"
	AddressObfuscate AddressRetention = "obfuscate"
)

// Field is a set of record fields, used to say what redaction removed.
type Field uint32

// Fields that redaction can remove or rewrite. The values are part of the
// on-disk format.
const (
	FieldBody           Field = 1 << 0 // body removed or replaced
	FieldTranscript     Field = 1 << 1 // transcript removed or replaced
	FieldRecording      Field = 1 << 2 // recording URL removed
	FieldMedia          Field = 1 << 3 // media references removed
	FieldFrom           Field = 1 << 4 // From removed
	FieldTo             Field = 1 << 5 // To removed
	FieldFromObfuscated Field = 1 << 6 // From replaced by its obfuscated form
	FieldToObfuscated   Field = 1 << 7 // To replaced by its obfuscated form

	fieldAll = 1<<8 - 1
)

var fieldNames = []string{"body", "transcript", "recording", "media", "from", "to", "from_obfuscated", "to_obfuscated"}

// Has reports whether every field of g is in f.
func (f Field) Has(g Field) bool { return f&g == g }

// String lists the fields, separated by '|'.
func (f Field) String() string {
	var parts []string
	for i, n := range fieldNames {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Media is a reference to an external blob (an MMS image, a recording
// segment) with its own expiry.
type Media struct {
	URL       string
	ExpiresAt time.Time // zero: no expiry of its own
}

// Redaction is a record's redaction state: which fields are gone and when.
type Redaction struct {
	Fields Field
	At     time.Time // when Fields last changed; zero if never
	// Masked is the obfuscated form (e.g. "+1415555XXXX") of the number
	// marked FieldFromObfuscated or FieldToObfuscated. It goes when that
	// number is marked removed too (FieldFrom or FieldTo).
	Masked string
}

// maskRemoved reports whether the state marks the masked number removed:
// From or To is marked both obfuscated and removed.
func (r Redaction) maskRemoved() bool {
	return r.Fields.Has(FieldFrom|FieldFromObfuscated) || r.Fields.Has(FieldTo|FieldToObfuscated)
}

// AliasKind says what an Alias holds. The values are part of the on-disk
// format (codec v2 writes them as the kind of From and To; 1 is E.164).
type AliasKind uint8

// Alias kinds.
const (
	// AliasShortCode is a short code: 3 to 8 ASCII digits ("32665").
	AliasShortCode AliasKind = 2
	// AliasSenderID is an alphanumeric sender ID: 1 to 11 characters of
	// the GSM 03.38 default alphabet, at least one of them a letter, not
	// starting with '+' ("ACME", "Bank-Alert").
	AliasSenderID AliasKind = 3
)

func (k AliasKind) String() string {
	switch k {
	case AliasShortCode:
		return "short code"
	case AliasSenderID:
		return "sender ID"
	}
	return fmt.Sprintf("alias kind %d", uint8(k))
}

// Alias is a From or To that is not an E.164 number: a short code or an
// alphanumeric sender ID, kept as given. Only the platform's side of a
// record holds one (the person on the other side has a number); it is not
// personal data, is not indexed and no erasure removes it. The zero value
// is no alias.
type Alias struct {
	Kind  AliasKind
	Value string
}

// IsZero reports whether a is no alias.
func (a Alias) IsZero() bool { return a == Alias{} }

// String returns the alias as given.
func (a Alias) String() string { return a.Value }

// Limits of aliases, in characters.
const (
	MinShortCodeLen = 3
	MaxShortCodeLen = 8
	MaxSenderIDLen  = 11
	maxAliasBytes   = 2 * MaxSenderIDLen // GSM characters are at most 2 bytes of UTF-8
)

// gsmBasic is the GSM 03.38 default alphabet's basic character set, less
// its control characters (LF, CR, ESC): what an alphanumeric sender ID may
// hold.
const gsmBasic = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// ParseAlias reads s as a short code (3–8 ASCII digits) or an
// alphanumeric sender ID (1–11 GSM 03.38 characters, at least one a
// letter, no space at either end, no leading '+': "+12" is a malformed
// number, not a name), kept as given. Anything else is a
// *ValidationError (matching ErrInvalidRecord) whose reason holds none of
// s. ParseAlias never reads s as a phone number: a caller that accepts
// both tries e164.Parse first.
func ParseAlias(s string) (Alias, error) {
	bad := func(reason string) (Alias, error) {
		return Alias{}, &ValidationError{Field: "address", Reason: reason}
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > maxAliasBytes {
		return bad("longer than an alphanumeric sender ID")
	}
	digits, letters, n := 0, 0, 0
	for _, c := range s {
		n++
		if c >= '0' && c <= '9' {
			digits++
		} else if unicode.IsLetter(c) {
			letters++
		}
		if !strings.ContainsRune(gsmBasic, c) {
			return bad("holds a character outside the GSM 03.38 default alphabet")
		}
	}
	if digits == n {
		if n < MinShortCodeLen || n > MaxShortCodeLen {
			return bad(fmt.Sprintf("%d digits: a short code has %d to %d", n, MinShortCodeLen, MaxShortCodeLen))
		}
		return Alias{Kind: AliasShortCode, Value: s}, nil
	}
	if n > MaxSenderIDLen {
		return bad(fmt.Sprintf("%d characters: an alphanumeric sender ID has at most %d", n, MaxSenderIDLen))
	}
	if letters == 0 || s[0] == '+' {
		return bad("neither a number, a short code nor a sender ID (which holds a letter and does not start with '+')")
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return bad("a sender ID begins or ends with a space")
	}
	return Alias{Kind: AliasSenderID, Value: s}, nil
}

// validate checks a stored or given alias: zero, or what ParseAlias makes
// of its value, with the same kind.
func (a Alias) validate(field string) error {
	if a.IsZero() {
		return nil
	}
	p, err := ParseAlias(a.Value)
	if err != nil {
		err.(*ValidationError).Field = field
		return err
	}
	if p.Kind != a.Kind {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("%s given as a %s", p.Kind, a.Kind)}
	}
	return nil
}

// Record is one call detail record.
//
// A Record handed out by the store is a decoded copy: callers may keep and
// modify it.
type Record struct {
	ID        string // transaction ID, opaque, 1–64 bytes, no 0x00
	Workspace string // tenant, 1–64 bytes, no 0x00
	Product   Product
	Direction Direction
	From, To  e164.Number // zero when absent or removed
	// FromAlias and ToAlias hold a From or To that is a short code or an
	// alphanumeric sender ID instead of a number (the platform's side of
	// an SMS). A side holds a number or an alias, not both, and at most
	// one side holds an alias.
	FromAlias, ToAlias Alias
	Body               string
	Transcript         []string
	RecordingURL       string
	Media              []Media
	ConversationID     string // groups voice legs; ≤ 128 bytes, no 0x00
	Status             string
	Price              string // decimal string, never a float
	Currency           string
	Network            string
	ClientRef          string
	StartedAt          time.Time // required; the record's position in time order
	EndedAt            time.Time
	CreatedAt          time.Time

	ContentRetention ContentRetention
	AddressRetention AddressRetention
	Redacted         Redaction
}

// Numbers returns the distinct numbers the record holds (at most two).
func (r *Record) Numbers() []e164.Number {
	var ns []e164.Number
	if r.From.IsValid() {
		ns = append(ns, r.From)
	}
	if r.To.IsValid() && r.To != r.From {
		ns = append(ns, r.To)
	}
	return ns
}

// HasNumber reports whether n is the record's From or To.
func (r *Record) HasNumber(n e164.Number) bool {
	return n.IsValid() && (r.From == n || r.To == n)
}

// Clone returns a deep copy of r.
func (r Record) Clone() Record {
	r.Transcript = slices.Clone(r.Transcript)
	r.Media = slices.Clone(r.Media)
	return r
}

// Limits on record fields.
const (
	MaxIDLen           = 64
	MaxWorkspaceLen    = 64
	MaxConversationLen = 128
	maxTextLen         = 1 << 20 // body, each transcript line, URLs
	maxShortLen        = 256     // status, currency, network, client_ref, price
	maxListLen         = 4096    // transcript lines, media refs
)

// minTime and maxTime bound the instants a record may carry: the key holds
// UnixNano as an unsigned 64-bit integer.
var (
	minTime = time.Unix(0, 1).UTC()
	maxTime = time.Unix(0, 1<<63-1).UTC()
)

// ValidateID checks a transaction ID: 1–64 bytes, no 0x00.
func ValidateID(id string) error {
	switch {
	case id == "":
		return &ValidationError{Field: "id", Reason: "empty"}
	case len(id) > MaxIDLen:
		return &ValidationError{Field: "id", Reason: fmt.Sprintf("%d bytes, more than %d", len(id), MaxIDLen)}
	case strings.IndexByte(id, 0) >= 0:
		return &ValidationError{Field: "id", Reason: "contains a 0x00 byte"}
	}
	return nil
}

// ValidateWorkspace checks a name that may refer to a stored workspace:
// 1–64 bytes of UTF-8, no 0x00. Names stored before [ValidateNewWorkspace]
// existed pass it, so that they stay readable, writable and erasable; a
// new workspace must also pass ValidateNewWorkspace.
func ValidateWorkspace(ws string) error {
	switch {
	case ws == "":
		return &ValidationError{Field: "workspace", Reason: "empty"}
	case len(ws) > MaxWorkspaceLen:
		return &ValidationError{Field: "workspace", Reason: fmt.Sprintf("%d bytes, more than %d", len(ws), MaxWorkspaceLen)}
	case strings.IndexByte(ws, 0) >= 0:
		return &ValidationError{Field: "workspace", Reason: "contains a 0x00 byte"}
	case !utf8.ValidString(ws):
		return &ValidationError{Field: "workspace", Reason: "not valid UTF-8"}
	}
	return nil
}

// ValidateNewWorkspace checks the name of a workspace to be created:
// besides [ValidateWorkspace], it must be a name an operator can read and
// tell apart from another: Unicode in NFC, every character printable (no
// control, format or bidi character, no space but U+0020) and no space at
// either end. "acme\n", " acme" and "acme\u202e" would otherwise be
// workspaces that look like acme and that an erasure in acme never
// touches. The error is a *ValidationError (matching ErrInvalidRecord).
func ValidateNewWorkspace(ws string) error {
	if err := ValidateWorkspace(ws); err != nil {
		return err
	}
	bad := func(reason string) error { return &ValidationError{Field: "workspace", Reason: reason} }
	for _, c := range ws {
		switch {
		case unicode.Is(unicode.Cc, c):
			return bad(fmt.Sprintf("holds a control character %U", c))
		case unicode.Is(unicode.Cf, c):
			return bad(fmt.Sprintf("holds a format character %U (bidi or invisible)", c))
		case !unicode.IsPrint(c):
			return bad(fmt.Sprintf("holds a character that is not printable %U", c))
		}
	}
	first, _ := utf8.DecodeRuneInString(ws)
	last, _ := utf8.DecodeLastRuneInString(ws)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return bad("begins or ends with whitespace")
	}
	if !norm.NFC.IsNormalString(ws) {
		return bad("not in Unicode NFC (normalise it first)")
	}
	return nil
}

func validateTime(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return &ValidationError{Field: field, Reason: "missing"}
		}
		return nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return &ValidationError{Field: field, Reason: "outside 1970-01-01 .. 2262-04-11"}
	}
	return nil
}

func validateText(field string, s string, max int) error {
	if len(s) > max {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("%d bytes, more than %d", len(s), max)}
	}
	return nil
}

func validPrice(s string) bool {
	if s == "" {
		return true
	}
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return false
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Validate reports the first malformed field of r as a *ValidationError.
func (r *Record) Validate() error {
	if err := ValidateID(r.ID); err != nil {
		return err
	}
	if err := ValidateWorkspace(r.Workspace); err != nil {
		return err
	}
	if !r.Product.Valid() {
		return &ValidationError{Field: "product", Reason: "unknown product"}
	}
	if !r.Direction.Valid() {
		return &ValidationError{Field: "direction", Reason: "must be inbound or outbound"}
	}
	if err := validateTime("started_at", r.StartedAt, true); err != nil {
		return err
	}
	if err := validateTime("ended_at", r.EndedAt, false); err != nil {
		return err
	}
	if !r.EndedAt.IsZero() && r.EndedAt.Before(r.StartedAt) {
		return &ValidationError{Field: "ended_at", Reason: "before started_at"}
	}
	if err := validateTime("created_at", r.CreatedAt, false); err != nil {
		return err
	}
	if err := validateTime("redacted_at", r.Redacted.At, false); err != nil {
		return err
	}
	for _, a := range []struct {
		field string
		alias Alias
		num   e164.Number
	}{{"from", r.FromAlias, r.From}, {"to", r.ToAlias, r.To}} {
		if err := a.alias.validate(a.field); err != nil {
			return err
		}
		if !a.alias.IsZero() && a.num.IsValid() {
			return &ValidationError{Field: a.field, Reason: "holds both a number and a " + a.alias.Kind.String()}
		}
	}
	if !r.FromAlias.IsZero() && !r.ToAlias.IsZero() {
		return &ValidationError{Field: "to", Reason: "only one side of a record may be a short code or sender ID; the other is the person's number"}
	}
	if len(r.ConversationID) > MaxConversationLen {
		return &ValidationError{Field: "conversation_id", Reason: fmt.Sprintf("more than %d bytes", MaxConversationLen)}
	}
	if strings.IndexByte(r.ConversationID, 0) >= 0 {
		return &ValidationError{Field: "conversation_id", Reason: "contains a 0x00 byte"}
	}
	if !validPrice(r.Price) {
		return &ValidationError{Field: "price", Reason: "not a decimal string"}
	}
	for _, f := range []struct {
		name string
		val  string
		max  int
	}{
		{"body", r.Body, maxTextLen},
		{"recording_url", r.RecordingURL, maxTextLen},
		{"status", r.Status, maxShortLen},
		{"price", r.Price, maxShortLen},
		{"currency", r.Currency, maxShortLen},
		{"network", r.Network, maxShortLen},
		{"client_ref", r.ClientRef, maxShortLen},
		{"redacted.masked", r.Redacted.Masked, maxShortLen},
	} {
		if err := validateText(f.name, f.val, f.max); err != nil {
			return err
		}
	}
	if len(r.Transcript) > maxListLen {
		return &ValidationError{Field: "transcript", Reason: fmt.Sprintf("more than %d lines", maxListLen)}
	}
	for _, line := range r.Transcript {
		if err := validateText("transcript", line, maxTextLen); err != nil {
			return err
		}
	}
	if len(r.Media) > maxListLen {
		return &ValidationError{Field: "media", Reason: fmt.Sprintf("more than %d entries", maxListLen)}
	}
	for _, m := range r.Media {
		if m.URL == "" {
			return &ValidationError{Field: "media", Reason: "empty URL"}
		}
		if err := validateText("media", m.URL, maxTextLen); err != nil {
			return err
		}
		if err := validateTime("media.expires_at", m.ExpiresAt, false); err != nil {
			return err
		}
	}
	switch r.ContentRetention {
	case ContentDefault, ContentRetain, ContentDiscard:
	default:
		return &ValidationError{Field: "content_retention", Reason: "must be retain or discard"}
	}
	switch r.AddressRetention {
	case AddressDefault, AddressRetain, AddressObfuscate:
	default:
		return &ValidationError{Field: "address_retention", Reason: "must be retain or obfuscate"}
	}
	if r.Redacted.Fields&^fieldAll != 0 {
		return &ValidationError{Field: "redacted", Reason: "unknown field bits"}
	}
	return nil
}
