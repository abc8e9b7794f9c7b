package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
)

// DefaultErasureReason is the reason DELETE /v1/contacts/{e164} writes to
// the audit when the request gives no ?reason=.
const DefaultErasureReason = "ndpr_right_to_erasure"

type contactError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// eraseContact is DELETE /v1/contacts/{e164}.
func (srv *Server) eraseContact(w http.ResponseWriter, r *http.Request) {
	c, idem := srv.admit(w, r, contactAPI)
	if c == nil {
		return
	}
	n, ok := ParseContactNumber(r.PathValue("e164"))
	if !ok {
		contactFail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "e164 is missing or malformed")
		return
	}
	reason := r.URL.Query().Get("reason")
	if reason == "" {
		reason = DefaultErasureReason
	}
	// An erasure changes records of every product, so the key must be
	// one that may redact every product the workspace may.
	settings, err := srv.rd.Settings(c.Workspace)
	if err != nil {
		srv.contactInternal(w, r, err)
		return
	}
	var provisioned []cdrstore.Product
	for _, p := range cdrstore.Products() {
		if settings.Provisioned(p) {
			provisioned = append(provisioned, p)
		}
	}
	if !mayRedactAll(w, c, provisioned, "every product of its workspace, which a contact erasure touches") {
		return
	}
	ctx := redaction.WithRequest(r.Context(), redaction.Request{ID: idem, Actor: c.KeyID})
	res, err := srv.rd.EraseContact(ctx, c.Workspace, n, reason)
	switch {
	case err == nil:
	case errors.Is(err, redaction.ErrInvalidReason):
		contactFail(w, http.StatusBadRequest, "INVALID_ARGUMENT",
			"reason must be a reason code such as ndpr_right_to_erasure: "+strings.TrimPrefix(err.Error(), redaction.ErrInvalidReason.Error()+": "))
		return
	default:
		srv.contactWriteFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", NewContactErasure(res, n))
}

// contactWriteFailed answers err, the error of a write on an endpoint with
// the contact endpoint's body shape: 422 for an Idempotency-Key used for
// another request, else an internal error.
func (srv *Server) contactWriteFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, redaction.ErrRequestConflict) {
		contactFail(w, http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED",
			"The Idempotency-Key was used for another request")
		return
	}
	srv.contactInternal(w, r, err)
}

// ContactErasure is the body of a 200 answer of DELETE
// /v1/contacts/{e164} (and what cdradmin erase --json prints).
type ContactErasure struct {
	// Erased is false when a legal hold kept some of the contact's
	// records (RecordsSkipped of them).
	Erased          bool   `json:"erased"`
	E164            string `json:"e164"`
	RecordsAffected int    `json:"records_affected"`
	RecordsSkipped  int    `json:"records_skipped,omitempty"`
}

// NewContactErasure returns the answer for res, the result of erasing n.
func NewContactErasure(res redaction.EraseResult, n e164.Number) ContactErasure {
	return ContactErasure{Erased: res.Erased, E164: n.String(), RecordsAffected: res.RecordsAffected, RecordsSkipped: res.SkippedCount}
}

// ParseContactNumber accepts what the contact-erasure contract calls a
// valid E.164 number: a leading '+', 7 to 15 digits, and a number the
// numbering plan knows.
func ParseContactNumber(s string) (e164.Number, bool) {
	if _, err := e164.ParseCanonical(s); err != nil {
		return e164.Number{}, false
	}
	n, err := e164.Parse(s, "")
	// "+43031100000" parses (the national trunk 0 is dropped) but is not
	// the canonical form the contract asks for.
	return n, err == nil && n.String() == s
}
