package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
)

type redactRequest struct {
	ID      *string `json:"id"`
	Product *string `json:"product"`
	Type    *string `json:"type"`
}

// redactTransaction is POST /v1/redact/transaction.
func (srv *Server) redactTransaction(w http.ResponseWriter, r *http.Request) {
	c, idem := srv.admit(w, r, redactAPI)
	if c == nil {
		return
	}
	req, p, d, perr := decodeRedact(http.MaxBytesReader(w, r.Body, srv.opts.MaxBodyBytes))
	if perr != nil {
		problem(w, r, http.StatusUnprocessableEntity, perr.typ, perr.title, perr.detail)
		return
	}
	if !c.MayRedact(p) {
		problem(w, r, http.StatusForbidden, typeBase+"#unprovisioned", "Authorisation error",
			fmt.Sprintf("User=%s is not provisioned to redact product=%s", c.KeyID, strings.ToUpper(string(p))))
		return
	}
	ctx := redaction.WithRequest(r.Context(), redaction.Request{ID: idem, Actor: c.KeyID})
	_, err := srv.rd.RedactByID(ctx, c.Workspace, *req.ID, p, d)
	var (
		nf *redaction.NotFoundError
		pe *redaction.PrematureRedactionError
	)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.As(err, &nf):
		problem(w, r, http.StatusNotFound, typeBase+"#invalid-id", "Invalid ID",
			fmt.Sprintf("ID '%s' could not be found (%s)", *req.ID, nf.Qualifier()))
	case errors.Is(err, cdrstore.ErrNotFound), errors.Is(err, cdrstore.ErrInvalidRecord):
		nf := &redaction.NotFoundError{ID: *req.ID, Product: p, Direction: d}
		problem(w, r, http.StatusNotFound, typeBase+"#invalid-id", "Invalid ID",
			fmt.Sprintf("ID '%s' could not be found (%s)", truncate(*req.ID, 64), nf.Qualifier()))
	case errors.As(err, &pe):
		problem(w, r, http.StatusForbidden, typeRedact+"#premature-redaction", "Premature Redaction",
			fmt.Sprintf("You must wait %d minutes before redacting ID '%s'", int(math.Ceil(pe.Wait.Minutes())), *req.ID))
	case errors.Is(err, redaction.ErrNotProvisioned):
		problem(w, r, http.StatusForbidden, typeBase+"#unprovisioned", "Authorisation error",
			fmt.Sprintf("User=%s is not provisioned to redact product=%s", c.KeyID, strings.ToUpper(string(p))))
	case errors.Is(err, redaction.ErrLegalHold):
		problem(w, r, http.StatusForbidden, typeRedact+"#legal-hold", "Legal Hold",
			fmt.Sprintf("ID '%s' is under a legal hold and cannot be redacted", *req.ID))
	case errors.Is(err, redaction.ErrRequestConflict):
		problem(w, r, http.StatusUnprocessableEntity, typeRedact+"#idempotency-conflict", "Idempotency Key Reused", "The Idempotency-Key was used for another operation")
	default:
		srv.internal(w, r, err)
	}
}

type decodeProblem struct{ typ, title, detail string }

// decodeRedact reads a Redact API request body.
func decodeRedact(body interface{ Read([]byte) (int, error) }) (redactRequest, cdrstore.Product, cdrstore.Direction, *decodeProblem) {
	var req redactRequest
	invalid := func(err error, detail string) *decodeProblem {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			detail = fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)
		case errors.As(err, &se):
			detail = fmt.Sprintf("invalid JSON at byte %d", se.Offset)
		case errors.As(err, &te) && te.Field != "":
			// The field is one of the request's own names, never the
			// caller's value.
			detail = fmt.Sprintf("%s must be a string, not %s", te.Field, jsonKind(te.Value))
		}
		return &decodeProblem{typeBase + "#invalid-json", "Invalid JSON", detail}
	}
	dec := json.NewDecoder(body)
	if err := dec.Decode(&req); err != nil {
		return req, "", "", invalid(err, "the request body is not a JSON object")
	}
	// One object and nothing after it but white space.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, "", "", invalid(err, "unexpected data after the JSON object")
	}
	if req.ID == nil || *req.ID == "" {
		return req, "", "", &decodeProblem{typeBase + "#invalid-json", "Invalid JSON", "id is required"}
	}
	if req.Product == nil {
		return req, "", "", &decodeProblem{typeRedact + "#invalid-product", "Invalid Product", "product is required"}
	}
	p, err := redaction.ParseProduct(*req.Product)
	if err != nil {
		return req, "", "", &decodeProblem{typeRedact + "#invalid-product", "Invalid Product",
			fmt.Sprintf("No product corresponding to supplied string %s!", truncate(*req.Product, 32))}
	}
	typ := ""
	if req.Type != nil {
		typ = *req.Type
	}
	d, err := redaction.ParseDirection(typ)
	if err != nil {
		return req, "", "", &decodeProblem{typeRedact + "#invalid-type", "Invalid Type", "type must be inbound or outbound"}
	}
	return req, p, d, nil
}

// jsonKind names the JSON kind of a json.UnmarshalTypeError's Value ("number",
// "array", …) with its article.
func jsonKind(v string) string {
	switch {
	case v == "array", v == "object":
		return "an " + v
	case strings.HasPrefix(v, "number"):
		return "a number"
	}
	return "a " + v
}
