package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// Problem is an RFC 7807 problem body.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
}

const (
	typeBase   = "https://developer.nexmo.com/api-errors"
	typeRedact = typeBase + "/redact"
)

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func problem(w http.ResponseWriter, r *http.Request, status int, typ, title, detail string) {
	writeJSON(w, status, "application/problem+json", Problem{Type: typ, Title: title, Detail: detail, Instance: traceID(r)})
}

func unauthorizedBasic(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="cdrvault"`)
	writeJSON(w, http.StatusUnauthorized, "application/json", map[string]string{"type": "UNAUTHORIZED", "error_title": "Unauthorized"})
}

// methodNotAllowed answers 405 with Allow: an error_code body for the
// contact endpoint, a problem body for the others.
func methodNotAllowed(allow string, contact bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		detail := "Use " + allow
		if contact {
			contactFail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", detail)
			return
		}
		problem(w, r, http.StatusMethodNotAllowed, typeBase+"#method-not-allowed", "Method Not Allowed", detail)
	}
}

func rateLimited(w http.ResponseWriter, r *http.Request) {
	problem(w, r, http.StatusTooManyRequests, typeRedact+"#rate-limit", "Rate Limit Hit", "Please wait, then retry your request")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// logFailure logs a request that failed inside, its error's digit runs
// masked as every other log line's are (e164.MaskText).
func (srv *Server) logFailure(r *http.Request, err error) {
	srv.opts.Logger.Error("request failed", "trace", traceID(r), "err", e164.MaskText(err.Error()))
}

func (srv *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	srv.logFailure(r, err)
	if errors.Is(err, cdrstore.ErrHalted) {
		problem(w, r, http.StatusServiceUnavailable, typeBase+"#unavailable", "Service Unavailable", haltedMessage)
		return
	}
	problem(w, r, http.StatusInternalServerError, typeBase+"#internal", "Internal Error", "The request could not be completed")
}

// haltedMessage answers a write to a store that refuses writes until it
// is reopened (cdrstore.ErrHalted): 503, since a restart of the server
// lifts it.
const haltedMessage = "The store accepts no writes until it is reopened (restart the server); reads go on"

// contactFail writes an error in the contact endpoint's body shape.
func contactFail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, "application/json", contactError{code, msg})
}

// contactInternal is internal in the contact endpoint's body shape.
func (srv *Server) contactInternal(w http.ResponseWriter, r *http.Request, err error) {
	srv.logFailure(r, err)
	if errors.Is(err, cdrstore.ErrHalted) {
		contactFail(w, http.StatusServiceUnavailable, "UNAVAILABLE", haltedMessage)
		return
	}
	contactFail(w, http.StatusInternalServerError, "INTERNAL", "The request could not be completed")
}
