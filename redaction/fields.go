package redaction

import (
	"slices"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// This file is the one home of what each kind of redaction removes from a
// record and which side of a record is the counterparty. cdrstore only
// keeps the marks (Record.Redacted) and applies them on a replace.

// side is one number of a record with its two redaction marks.
type side struct {
	name       string // "from" or "to", as on the wire
	number     *e164.Number
	alias      *cdrstore.Alias // a short code or sender ID: the platform's side only
	removed    cdrstore.Field  // the number is gone
	obfuscated cdrstore.Field  // the number is replaced by Redacted.Masked
}

// counterparty returns the side of rec that holds the person on the other
// side of the platform, as the Vonage Redact API has it: To for outbound
// records, From for inbound ones. The other side is the platform's own
// number, which no redaction removes.
func counterparty(rec *cdrstore.Record) side {
	if rec.Direction == cdrstore.Inbound {
		return side{"from", &rec.From, &rec.FromAlias, cdrstore.FieldFrom, cdrstore.FieldFromObfuscated}
	}
	return side{"to", &rec.To, &rec.ToAlias, cdrstore.FieldTo, cdrstore.FieldToObfuscated}
}

// CounterpartyAlias reports whether rec holds a short code or sender ID
// on its counterparty's side, and which field that is ("from" or "to").
// Only the platform's side may: the counterparty is a person, whose
// number an erasure must be able to find. cdrstore cannot tell the sides
// apart, so callers that take records from outside (ingest) ask here.
func CounterpartyAlias(rec *cdrstore.Record) (field string, ok bool) {
	c := counterparty(rec)
	return c.name, !c.alias.IsZero()
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
	if !c.alias.IsZero() { // only a library caller can have stored one there
		*c.alias = cdrstore.Alias{}
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

// contentLeft returns the content fields of rec that discardContent would
// change: with placeholder set, those that do not hold the contact-erasure
// placeholders yet (a recording or media reference is removed either
// way); without, every content field that is not empty. It is the one
// answer to "does this record still hold content".
func contentLeft(rec *cdrstore.Record, placeholder bool) cdrstore.Field {
	var f cdrstore.Field
	if rec.Body != "" && !(placeholder && rec.Body == RedactedBody) {
		f |= cdrstore.FieldBody
	}
	if len(rec.Transcript) > 0 && !(placeholder && slices.Equal(rec.Transcript, []string{RedactedBody})) {
		f |= cdrstore.FieldTranscript
	}
	if rec.RecordingURL != "" {
		f |= cdrstore.FieldRecording
	}
	if len(rec.Media) > 0 {
		f |= cdrstore.FieldMedia
	}
	return f
}

// discardContent removes body, transcript, recording and media from rec,
// queueing removed URLs in the outbox. With placeholder set it follows the
// contact-erasure contract instead: body "[REDACTED]", transcript
// ["[REDACTED]"]. It reports whether rec changed.
func (o *op) discardContent(rec *cdrstore.Record, placeholder bool) (bool, error) {
	left := contentLeft(rec, placeholder)
	if left == 0 {
		return false, nil
	}
	if left.Has(cdrstore.FieldBody) {
		rec.Body = ""
		if placeholder {
			rec.Body = RedactedBody
		}
	}
	if left.Has(cdrstore.FieldTranscript) {
		rec.Transcript = nil
		if placeholder {
			rec.Transcript = []string{RedactedBody}
		}
	}
	if left.Has(cdrstore.FieldRecording) {
		if err := o.step("outbox"); err != nil {
			return false, err
		}
		if err := o.enqueue(rec.ID, "recording", rec.RecordingURL); err != nil {
			return false, err
		}
		rec.RecordingURL = ""
	}
	if left.Has(cdrstore.FieldMedia) {
		if err := o.step("outbox"); err != nil {
			return false, err
		}
		for _, m := range rec.Media {
			if err := o.enqueue(rec.ID, "media", m.URL); err != nil {
				return false, err
			}
		}
		rec.Media = nil
	}
	rec.Redacted.Fields |= left
	rec.Redacted.At = o.now
	return true, nil
}
