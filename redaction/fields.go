package redaction

import (
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// This file is the one home of what each kind of redaction removes from a
// record and which side of a record is the counterparty. cdrstore only
// keeps the marks (Record.Redacted) and applies them on a replace.

// side is one number of a record with its two redaction marks.
type side struct {
	number     *e164.Number
	removed    cdrstore.Field // the number is gone
	obfuscated cdrstore.Field // the number is replaced by Redacted.Masked
}

// counterparty returns the side of rec that holds the person on the other
// side of the platform, as the Vonage Redact API has it: To for outbound
// records, From for inbound ones. The other side is the platform's own
// number, which no redaction removes.
func counterparty(rec *cdrstore.Record) side {
	if rec.Direction == cdrstore.Inbound {
		return side{&rec.From, cdrstore.FieldFrom, cdrstore.FieldFromObfuscated}
	}
	return side{&rec.To, cdrstore.FieldTo, cdrstore.FieldToObfuscated}
}

// Counterparty returns the number of the person on the other side of the
// platform in rec: To for outbound records, From for inbound ones. It is
// the number RedactByID removes and auto-redaction obfuscates.
func Counterparty(rec *cdrstore.Record) e164.Number {
	return *counterparty(rec).number
}

// removeCounterparty removes the counterparty's number (and any obfuscated
// form of it) from rec, marking that side alone removed, and reports
// whether rec changed.
func (o *op) removeCounterparty(rec *cdrstore.Record) bool {
	c := counterparty(rec)
	changed := false
	if c.number.IsValid() {
		*c.number = e164.Number{}
		changed = true
	}
	if rec.Redacted.Masked != "" {
		rec.Redacted.Masked = ""
		changed = true
	}
	if changed {
		rec.Redacted.Fields |= c.removed
		rec.Redacted.At = o.now
	}
	return changed
}

// obfuscateCounterparty replaces the counterparty's number in rec by its
// obfuscated form (last four digits X), kept in Redacted.Masked, and
// reports whether rec changed: false when rec holds no counterparty
// number.
func (o *op) obfuscateCounterparty(rec *cdrstore.Record) bool {
	c := counterparty(rec)
	if !c.number.IsValid() {
		return false
	}
	rec.Redacted.Masked = c.number.Obfuscate()
	*c.number = e164.Number{}
	rec.Redacted.Fields |= c.obfuscated
	rec.Redacted.At = o.now
	return true
}
