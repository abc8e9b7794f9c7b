// Package cdrjson is the JSON Lines interchange format of CDRs: one record
// per line, snake_case field names, prices as decimal strings, times in RFC
// 3339, unknown fields refused.
package cdrjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
)

// Media is a media reference on the wire.
type Media struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

// Record is a CDR on the wire.
type Record struct {
	ID               string   `json:"id"`
	Workspace        string   `json:"workspace"`
	Product          string   `json:"product"`
	Direction        string   `json:"direction"`
	From             string   `json:"from"`
	To               string   `json:"to"`
	Body             string   `json:"body,omitempty"`
	Transcript       []string `json:"transcript,omitempty"`
	RecordingURL     *string  `json:"recording_url"`
	Media            []Media  `json:"media,omitempty"`
	ConversationID   string   `json:"conversation_id,omitempty"`
	Status           string   `json:"status,omitempty"`
	Price            string   `json:"price,omitempty"`
	Currency         string   `json:"currency,omitempty"`
	Network          string   `json:"network,omitempty"`
	ClientRef        string   `json:"client_ref,omitempty"`
	StartedAt        string   `json:"started_at"`
	EndedAt          string   `json:"ended_at,omitempty"`
	ContentRetention string   `json:"content_retention,omitempty"`
	AddressRetention string   `json:"address_retention,omitempty"`
	Redacted         []string `json:"redacted,omitempty"` // output only
}

// ErrBadLine is matched by every error Decode returns.
var ErrBadLine = errors.New("cdrjson: bad record")

// LineError says what is wrong with a line, without its content.
type LineError struct {
	Field  string
	Reason string
	Err    error
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is reports whether target is ErrBadLine.
func (e *LineError) Is(target error) bool { return target == ErrBadLine }

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// Decode parses one line into a validated record. Numbers may be in
// national form only when region is set. Errors are *LineError values whose
// messages hold no number and no body.
func Decode(line []byte, region string) (cdrstore.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var j Record
	if err := dec.Decode(&j); err != nil {
		return cdrstore.Record{}, jsonError(err)
	}
	if dec.More() {
		return cdrstore.Record{}, &LineError{Reason: "more than one JSON value on the line"}
	}
	if len(j.Redacted) > 0 {
		return cdrstore.Record{}, &LineError{Field: "redacted", Reason: "is output only"}
	}
	r := cdrstore.Record{
		ID: j.ID, Workspace: j.Workspace, Product: cdrstore.Product(j.Product), Direction: cdrstore.Direction(j.Direction),
		Body: j.Body, Transcript: j.Transcript, ConversationID: j.ConversationID, Status: j.Status, Price: j.Price,
		Currency: j.Currency, Network: j.Network, ClientRef: j.ClientRef,
		ContentRetention: cdrstore.ContentRetention(j.ContentRetention), AddressRetention: cdrstore.AddressRetention(j.AddressRetention),
	}
	if j.ID == "" {
		return r, &LineError{Field: "id", Reason: "missing"}
	}
	if len(r.Transcript) == 0 {
		r.Transcript = nil
	}
	if j.RecordingURL != nil {
		r.RecordingURL = *j.RecordingURL
	}
	var err error
	var numErr [2]error // why from, to is not a number, when it is an alias
	for i, n := range []struct {
		name  string
		raw   string
		dst   *e164.Number
		alias *cdrstore.Alias
	}{{"from", j.From, &r.From, &r.FromAlias}, {"to", j.To, &r.To, &r.ToAlias}} {
		if n.raw == "" {
			continue
		}
		if *n.dst, err = e164.Parse(n.raw, region); err == nil {
			continue
		}
		a, aerr := cdrstore.ParseAlias(n.raw)
		if aerr != nil {
			return r, &LineError{Field: n.name, Reason: err.Error(), Err: err}
		}
		*n.alias, numErr[i] = a, err
	}
	// Only the platform's side may be a short code or sender ID: the
	// counterparty is a person, and must be a number that erasure can find.
	if name, ok := redaction.CounterpartyAlias(&r); ok {
		err := numErr[0]
		if name == "to" {
			err = numErr[1]
		}
		return r, &LineError{Field: name, Reason: err.Error() + " (the counterparty must be an E.164 number; only the platform's side may be a short code or sender ID)", Err: err}
	}
	if r.StartedAt, err = parseTime("started_at", j.StartedAt, true); err != nil {
		return r, err
	}
	if r.EndedAt, err = parseTime("ended_at", j.EndedAt, false); err != nil {
		return r, err
	}
	for _, m := range j.Media {
		exp, err := parseTime("media.expires_at", m.ExpiresAt, false)
		if err != nil {
			return r, err
		}
		r.Media = append(r.Media, cdrstore.Media{URL: m.URL, ExpiresAt: exp})
	}
	// A line may create its workspace, so the name must pass the rule for
	// new workspaces (ingest into a workspace stored under an older rule
	// goes through the library).
	for _, err := range []error{r.Validate(), cdrstore.ValidateNewWorkspace(r.Workspace)} {
		if err == nil {
			continue
		}
		var ve *cdrstore.ValidationError
		if errors.As(err, &ve) {
			return r, &LineError{Field: ve.Field, Reason: ve.Reason, Err: err}
		}
		return r, &LineError{Reason: err.Error(), Err: err}
	}
	return r, nil
}

func parseTime(field, s string, required bool) (time.Time, error) {
	if s == "" {
		if required {
			return time.Time{}, &LineError{Field: field, Reason: "missing"}
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &LineError{Field: field, Reason: "not an RFC 3339 time", Err: err}
	}
	return t.UTC(), nil
}

// jsonError describes a decoding error without quoting the line.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &LineError{Reason: fmt.Sprintf("invalid JSON at byte %d", se.Offset)}
	case errors.As(err, &te):
		return &LineError{Field: te.Field, Reason: "wrong JSON type " + te.Value}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if len(name) > 40 {
			name = name[:40]
		}
		// The name is the caller's, and may be a number.
		return &LineError{Field: e164.MaskText(strings.Trim(name, `"`)), Reason: "unknown field"}
	}
	return &LineError{Reason: "invalid JSON"}
}

// address is the wire form of a from or to: the number, else the alias as
// given, else "".
func address(n e164.Number, a cdrstore.Alias) string {
	if n.IsValid() {
		return n.String()
	}
	return a.Value
}

// Encode returns the wire form of r. Obfuscated counterparties appear in
// their masked form.
func Encode(r *cdrstore.Record) Record {
	j := Record{
		ID: r.ID, Workspace: r.Workspace, Product: string(r.Product), Direction: string(r.Direction),
		From: address(r.From, r.FromAlias), To: address(r.To, r.ToAlias), Body: r.Body, Transcript: r.Transcript,
		ConversationID: r.ConversationID, Status: r.Status, Price: r.Price, Currency: r.Currency,
		Network: r.Network, ClientRef: r.ClientRef, StartedAt: r.StartedAt.Format(time.RFC3339Nano),
		ContentRetention: string(r.ContentRetention), AddressRetention: string(r.AddressRetention),
	}
	if r.Redacted.Fields.Has(cdrstore.FieldFromObfuscated) && j.From == "" {
		j.From = r.Redacted.Masked
	}
	if r.Redacted.Fields.Has(cdrstore.FieldToObfuscated) && j.To == "" {
		j.To = r.Redacted.Masked
	}
	if r.RecordingURL != "" {
		u := r.RecordingURL
		j.RecordingURL = &u
	}
	if !r.EndedAt.IsZero() {
		j.EndedAt = r.EndedAt.Format(time.RFC3339Nano)
	}
	for _, m := range r.Media {
		jm := Media{URL: m.URL}
		if !m.ExpiresAt.IsZero() {
			jm.ExpiresAt = m.ExpiresAt.Format(time.RFC3339Nano)
		}
		j.Media = append(j.Media, jm)
	}
	if r.Redacted.Fields != 0 {
		j.Redacted = strings.Split(r.Redacted.Fields.String(), "|")
	}
	return j
}
