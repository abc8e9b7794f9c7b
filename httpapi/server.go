package httpapi

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/apikeys"
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
