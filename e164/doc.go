// Package e164 parses, normalises, validates and obfuscates phone numbers
// in E.164 form.
//
// # Overview
//
// [Number] is a small comparable value in the style of netip.Addr: its zero
// value is invalid, and a valid one holds the canonical form, '+' and 7 to
// 15 digits ("+2348031234567"). Use == to compare numbers and use them as
// map keys.
//
// There are two ways in:
//
//   - [Parse] reads what people and upstream systems send: international
//     form ("+234 (0) 803 123 4567") or, given an ISO 3166 region, national
//     form ("0803 123 4567" in NG). It checks the number against the
//     libphonenumber metadata and accepts only numbers the plan calls valid.
//     [MustParse] is the same for tests and examples.
//   - [ParseCanonical] reads what this system stored: it checks the
//     canonical syntax only, without the metadata, and does not allocate.
//
// Every refusal is a *[NumberError] that matches [ErrInvalidNumber] and
// carries a [Reason] (empty, no region, unknown region, syntax, too short,
// too long, not possible, not valid) and, where there is one, the
// phonenumbers error as its cause.
//
// [Number.String], [Number.AppendTo] and [Number.MarshalText] give the
// canonical form; [Number.Obfuscate] gives the stored redacted form
// ("+1415555XXXX"); [Number.Masked] and [Mask] give the form for logs and
// errors ("+141XXXXXXXX"). [Number.CountryCode] and [Number.Region] say
// where a number belongs.
//
// # Caveats
//
// A Number's String is personal data. Errors of this package never hold
// the digits of their input, only forms masked with [Mask]; callers must log
// [Number.Masked], never String.
//
// Parse refuses input without a leading '+' unless a region is given: it
// never guesses a country. It also refuses letters (vanity numbers,
// "ext. 9"), '*', '#' and "tel:" URIs rather than let phonenumbers drop
// parts of them silently.
//
// Parse normalises, so text that is already "+" and digits may come out as
// another number of the same country: a trunk prefix written after the
// country code is dropped ("+490201000" is "+49201000", as "+234 (0) 803…"
// is "+234803…"), and some plans rewrite national numbers ("+67200000" is
// "+672300000"). What Parse returns, though, Parse returns unchanged.
//
// Validity is that of the metadata shipped with phonenumbers v1.8.1. A
// range opened since then is refused as not valid until the dependency is
// updated, and an update can turn a refused number into an accepted one or
// the reverse. For both reasons stored numbers are read back with
// ParseCanonical, which neither consults the metadata nor rewrites;
// UnmarshalText, which goes through Parse, is meant for input.
//
// Validity is not assignment: the metadata knows ranges, not subscribers.
// Some ranges set aside for fiction are outside the plan and refused (the
// UK's "+44 7700 900123"), others are inside it and accepted (the US
// "+1 415 555 0100").
//
// Region reports the region whose plan the number fits, which for shared
// country codes may not be the one a person expects ("+44 7911 123456" is
// Guernsey), and "" for non-geographic codes such as +800.
package e164
