// Package e164 parses, normalises, validates and obfuscates phone numbers
// in E.164 form.
//
// # Overview
//
// [Number] is a small comparable value in the style of netip.Addr: its zero
// value is invalid, [Parse] builds one from national or international input
// using the libphonenumber metadata, and String returns the canonical form
// "+" and digits. [ParseCanonical] accepts only the canonical form and only
// checks its syntax, for decoding stored data quickly.
//
// # Caveats
//
// A Number's String is personal data. Errors of this package never hold the
// digits of their input: they carry [Mask]ed forms. Callers should log
// [Number.Masked], never String.
//
// Parse requires a number the numbering plan calls valid, which new number
// ranges may not be until the metadata catches up.
package e164
