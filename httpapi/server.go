package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/apikeys"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
	"golang.org/x/time/rate"
)

// Options configures a Server. Zero fields take their defaults.
type Options struct {
	RateLimit    float64      // requests per second per key; default 170
	Burst        int          // default: RateLimit rounded up
	MaxBodyBytes int64        // request body cap; default 64 KiB
	Logger       *slog.Logger // access log; default discard
	// Deprecated: ignored; every request reads its key from the store.
	ReloadEvery time.Duration
}

// Server is the HTTP API over a Redactor's store. It is safe for
// concurrent use.
type Server struct {
	rd   *redaction.Redactor
	s    *cdrstore.Store
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// New returns a Server on rd. A nil opts means defaults.
func New(rd *redaction.Redactor, opts *Options) *Server {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.RateLimit <= 0 {
		o.RateLimit = 170
	}
	if o.Burst <= 0 {
		o.Burst = int(math.Ceil(o.RateLimit))
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	srv := &Server{rd: rd, s: rd.Store(), opts: o, limiters: map[string]*rate.Limiter{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/redact/transaction", srv.redactTransaction)
	mux.HandleFunc("DELETE /v1/contacts/{e164}", srv.eraseContact)
	mux.HandleFunc("DELETE /v1/contacts/{$}", srv.eraseContact)
	mux.HandleFunc("GET /v1/records/{id}", srv.getRecord)
	mux.HandleFunc("GET /v1/records", srv.listRecords)
	mux.HandleFunc("DELETE /v1/records/{id}", srv.deleteRecord)
	mux.HandleFunc("DELETE /v1/conversations/{id}", srv.deleteConversation)
	// The same paths without a method: a wrong method gets a 405 in the
	// endpoint's body shape, not net/http's text/plain.
	mux.HandleFunc("/v1/redact/transaction", methodNotAllowed("POST", false))
	mux.HandleFunc("/v1/contacts/{e164}", methodNotAllowed("DELETE", true))
	mux.HandleFunc("/v1/contacts/{$}", methodNotAllowed("DELETE", true))
	mux.HandleFunc("/v1/records/{id}", methodNotAllowed("GET, HEAD, DELETE", false))
	mux.HandleFunc("/v1/conversations/{id}", methodNotAllowed("DELETE", true))
	mux.HandleFunc("/v1/records", methodNotAllowed("GET, HEAD", false))
	srv.mux = mux
	return srv
}

// ServeHTTP serves the API, writing one access log line per request.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	trace := apikeys.RandomHex(16)
	ctx := context.WithValue(r.Context(), traceKey{}, trace)
	srv.mux.ServeHTTP(rw, r.WithContext(ctx))
	srv.opts.Logger.Info("http",
		"method", r.Method, "path", MaskPath(r.URL.Path), "status", rw.status,
		"latency", time.Since(start).Round(time.Microsecond), "key", rw.keyID, "trace", trace)
}

type traceKey struct{}

func traceID(r *http.Request) string {
	t, _ := r.Context().Value(traceKey{}).(string)
	return t
}

type statusWriter struct {
	http.ResponseWriter
	status int
	keyID  string
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

var digitsRun = regexp.MustCompile(`\+?[0-9][0-9 ()\-.]{5,}[0-9]`)

// MaskPath masks any run of digits that could be a phone number.
func MaskPath(p string) string {
	return digitsRun.ReplaceAllStringFunc(p, e164.Mask)
}

// setKey records the authenticated key for the access log.
func setKey(w http.ResponseWriter, keyID string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.keyID = keyID
	}
}

// credential returns the credential of keyID as the store holds it now,
// so that a key added or revoked while the server runs is accepted or
// refused from the next request on; nil when there is none (or the store
// cannot be read). Nothing is cached, found or not: the lookup is one
// read transaction with one Get per workspace.
func (srv *Server) credential(keyID string) *Credential {
	c, err := apikeys.Find(srv.s, keyID)
	if err != nil {
		srv.opts.Logger.Error("load credential", "key", keyID, "err", err)
		return nil
	}
	return c
}

// ReloadKeys is kept for callers of earlier versions; it does nothing.
//
// Deprecated: every request reads its key from the store.
func (srv *Server) ReloadKeys() {}

// authenticate checks Basic (key:secret) or Bearer (key.secret) auth.
func (srv *Server) authenticate(r *http.Request, basic, bearer bool) *Credential {
	var key, secret string
	var ok bool
	if basic {
		key, secret, ok = r.BasicAuth()
	}
	if !ok && bearer {
		if tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
			key, secret, ok = apikeys.SplitToken(strings.TrimSpace(tok))
		}
	}
	if !ok || key == "" {
		return nil
	}
	c := srv.credential(key)
	if c == nil || !c.Check(secret) {
		return nil
	}
	return c
}

// allow applies the key's rate limit; it returns false (and the wait)
// when the request must be refused.
func (srv *Server) allow(keyID string) (bool, time.Duration) {
	srv.mu.Lock()
	l, ok := srv.limiters[keyID]
	if !ok {
		l = rate.NewLimiter(rate.Limit(srv.opts.RateLimit), srv.opts.Burst)
		srv.limiters[keyID] = l
	}
	srv.mu.Unlock()
	now := time.Now()
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

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

func rateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	problem(w, r, http.StatusTooManyRequests, typeRedact+"#rate-limit", "Rate Limit Hit", "Please wait, then retry your request")
}

type redactRequest struct {
	ID      *string `json:"id"`
	Product *string `json:"product"`
	Type    *string `json:"type"`
}

// MaxIdempotencyKey bounds the Idempotency-Key header, in bytes.
const MaxIdempotencyKey = redaction.MaxRequestIDLen

// redactTransaction is POST /v1/redact/transaction.
func (srv *Server) redactTransaction(w http.ResponseWriter, r *http.Request) {
	c := srv.authenticate(r, true, false)
	if c == nil {
		unauthorizedBasic(w)
		return
	}
	setKey(w, c.KeyID)
	if ok, wait := srv.allow(c.KeyID); !ok {
		rateLimited(w, r, wait)
		return
	}
	idem := r.Header.Get("Idempotency-Key")
	if len(idem) > MaxIdempotencyKey {
		// 422, not 400: the Redact API answers every malformed request
		// with 422, and its clients know no 400.
		problem(w, r, http.StatusUnprocessableEntity, typeRedact+"#invalid-idempotency-key", "Invalid Idempotency Key",
			fmt.Sprintf("Idempotency-Key must be at most %d bytes", MaxIdempotencyKey))
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (srv *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	srv.opts.Logger.Error("request failed", "trace", traceID(r), "err", err)
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
	srv.opts.Logger.Error("request failed", "trace", traceID(r), "err", err)
	if errors.Is(err, cdrstore.ErrHalted) {
		contactFail(w, http.StatusServiceUnavailable, "UNAVAILABLE", haltedMessage)
		return
	}
	contactFail(w, http.StatusInternalServerError, "INTERNAL", "The request could not be completed")
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

// DefaultErasureReason is the reason DELETE /v1/contacts/{e164} writes to
// the audit when the request gives no ?reason=.
const DefaultErasureReason = "ndpr_right_to_erasure"

type contactError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// eraseContact is DELETE /v1/contacts/{e164}.
func (srv *Server) eraseContact(w http.ResponseWriter, r *http.Request) {
	c, idem := srv.contactAuth(w, r)
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

// contactAuth admits a request to an endpoint with the contact endpoint's
// rules: a Bearer token, the key's rate limit, and an Idempotency-Key of at
// most MaxIdempotencyKey bytes. It returns the key and the
// Idempotency-Key; when it refuses the request it has answered, and
// returns nil.
func (srv *Server) contactAuth(w http.ResponseWriter, r *http.Request) (*Credential, string) {
	c := srv.authenticate(r, false, true)
	if c == nil {
		contactFail(w, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid or missing API key")
		return nil, ""
	}
	setKey(w, c.KeyID)
	if ok, wait := srv.allow(c.KeyID); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		contactFail(w, http.StatusTooManyRequests, "RATE_LIMITED", "Please wait, then retry your request")
		return nil, ""
	}
	idem := r.Header.Get("Idempotency-Key")
	if len(idem) > MaxIdempotencyKey {
		contactFail(w, http.StatusBadRequest, "INVALID_ARGUMENT",
			fmt.Sprintf("Idempotency-Key must be at most %d bytes", MaxIdempotencyKey))
		return nil, ""
	}
	return c, idem
}

// mayRedactAll reports whether c may redact every product of products (a
// request that changes records of several products needs a key that may
// redact each); when not, it answers 403 PERMISSION_DENIED naming what the
// request touches and the products missing.
func mayRedactAll(w http.ResponseWriter, c *Credential, products []cdrstore.Product, touched string) bool {
	var missing []string
	for _, p := range products {
		if !c.MayRedact(p) {
			missing = append(missing, string(p))
		}
	}
	if len(missing) > 0 {
		contactFail(w, http.StatusForbidden, "PERMISSION_DENIED",
			fmt.Sprintf("Key %s may not redact %s (missing: %s)", c.KeyID, touched, strings.Join(missing, ",")))
	}
	return len(missing) == 0
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

// getRecord is GET /v1/records/{id}.
func (srv *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	c := srv.readAuth(w, r)
	if c == nil {
		return
	}
	id := r.PathValue("id")
	rec, err := srv.s.Get(c.Workspace, id)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, "application/json", cdrjson.Encode(&rec))
	case errors.Is(err, cdrstore.ErrNotFound), errors.Is(err, cdrstore.ErrInvalidRecord):
		problem(w, r, http.StatusNotFound, typeBase+"#invalid-id", "Invalid ID", fmt.Sprintf("ID '%s' could not be found", truncate(id, 64)))
	default:
		srv.internal(w, r, err)
	}
}

func (srv *Server) readAuth(w http.ResponseWriter, r *http.Request) *Credential {
	c := srv.authenticate(r, true, true)
	if c == nil {
		unauthorizedBasic(w)
		return nil
	}
	setKey(w, c.KeyID)
	if ok, wait := srv.allow(c.KeyID); !ok {
		rateLimited(w, r, wait)
		return nil
	}
	return c
}

// RecordsPage is the body of GET /v1/records.
type RecordsPage struct {
	Records     []cdrjson.Record `json:"records"`
	NextCursor  string           `json:"next_cursor,omitempty"`
	IDsNotFound []string         `json:"ids_not_found,omitempty"`
}

// MaxIDs bounds ?ids= of GET /v1/records.
const MaxIDs = 10

// listRecords is GET /v1/records?number=&since=&until=&limit=&cursor= or ?ids=.
func (srv *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	c := srv.readAuth(w, r)
	if c == nil {
		return
	}
	q := r.URL.Query()
	bad := func(detail string) {
		problem(w, r, http.StatusBadRequest, typeBase+"#invalid-parameters", "Invalid Parameters", detail)
	}
	page := RecordsPage{Records: []cdrjson.Record{}}
	if ids := q.Get("ids"); ids != "" {
		list := strings.Split(ids, ",")
		if len(list) > MaxIDs {
			bad(fmt.Sprintf("at most %d ids", MaxIDs))
			return
		}
		err := srv.s.View(func(tx *cdrstore.Tx) error {
			for _, id := range list {
				rec, err := tx.Get(c.Workspace, id)
				if errors.Is(err, cdrstore.ErrNotFound) || errors.Is(err, cdrstore.ErrInvalidRecord) {
					page.IDsNotFound = append(page.IDsNotFound, id)
					continue
				}
				if err != nil {
					return err
				}
				page.Records = append(page.Records, cdrjson.Encode(&rec))
			}
			return nil
		})
		if err != nil {
			srv.internal(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, "application/json", page)
		return
	}
	n, ok := ParseContactNumber(q.Get("number"))
	if !ok {
		bad("number (E.164) or ids is required")
		return
	}
	query := cdrstore.Query{Limit: 100, Cursor: q.Get("cursor")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &query.Since}, {"until", &query.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(p.name + " must be an RFC 3339 time")
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 1000 {
			bad("limit must be 1 to 1000")
			return
		}
		query.Limit = l
	}
	var last cdrstore.Record
	err := srv.s.View(func(tx *cdrstore.Tx) error {
		for rec, err := range tx.ByNumber(c.Workspace, n, query) {
			if err != nil {
				return err
			}
			last = rec
			page.Records = append(page.Records, cdrjson.Encode(&rec))
		}
		return nil
	})
	var ve *cdrstore.ValidationError
	switch {
	case errors.Is(err, cdrstore.ErrInvalidCursor):
		bad("invalid cursor")
		return
	case errors.As(err, &ve):
		// since or until outside what the store can hold; the message
		// names the field and the range, never a number.
		bad(fmt.Sprintf("%s: %s", ve.Field, ve.Reason))
		return
	case err != nil:
		srv.internal(w, r, err)
		return
	}
	if len(page.Records) == query.Limit {
		page.NextCursor = last.Cursor()
	}
	writeJSON(w, http.StatusOK, "application/json", page)
}
