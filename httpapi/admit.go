package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/apikeys"
	"github.com/cdrvault/cdrvault/redaction"
	"golang.org/x/time/rate"
)

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

// admission is how a family of endpoints admits a request: the
// authentication schemes it takes, whether it reads an Idempotency-Key,
// and the answers, in its body shape, to a request it refuses.
type admission struct {
	basic, bearer bool
	idempotent    bool // reads an Idempotency-Key of at most MaxIdempotencyKey bytes
	unauthorized  func(w http.ResponseWriter, r *http.Request)
	rateLimited   func(w http.ResponseWriter, r *http.Request) // Retry-After is set
	badIdemKey    func(w http.ResponseWriter, r *http.Request, detail string)
}

var (
	// redactAPI admits POST /v1/redact/transaction: Basic auth, RFC 7807
	// problems.
	redactAPI = admission{basic: true, idempotent: true,
		unauthorized: func(w http.ResponseWriter, r *http.Request) { unauthorizedBasic(w) },
		rateLimited:  rateLimited,
		badIdemKey: func(w http.ResponseWriter, r *http.Request, detail string) {
			// 422, not 400: the Redact API answers every malformed
			// request with 422, and its clients know no 400.
			problem(w, r, http.StatusUnprocessableEntity, typeRedact+"#invalid-idempotency-key", "Invalid Idempotency Key", detail)
		},
	}
	// contactAPI admits the contact endpoint and the leg deletions:
	// Bearer auth, error_code bodies.
	contactAPI = admission{bearer: true, idempotent: true,
		unauthorized: func(w http.ResponseWriter, r *http.Request) {
			contactFail(w, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid or missing API key")
		},
		rateLimited: func(w http.ResponseWriter, r *http.Request) {
			contactFail(w, http.StatusTooManyRequests, "RATE_LIMITED", "Please wait, then retry your request")
		},
		badIdemKey: func(w http.ResponseWriter, r *http.Request, detail string) {
			contactFail(w, http.StatusBadRequest, "INVALID_ARGUMENT", detail)
		},
	}
	// readAPI admits the subject-access reads: either scheme, no writes.
	readAPI = admission{basic: true, bearer: true,
		unauthorized: func(w http.ResponseWriter, r *http.Request) { unauthorizedBasic(w) },
		rateLimited:  rateLimited,
	}
)

// admit is the one preamble of every endpoint: authenticate, name the key
// in the access log, apply its rate limit, and read the Idempotency-Key.
// It returns the key and the Idempotency-Key; when it refuses the request
// it has answered in a's shape, and returns nil.
func (srv *Server) admit(w http.ResponseWriter, r *http.Request, a admission) (*Credential, string) {
	c := srv.authenticate(r, a.basic, a.bearer)
	if c == nil {
		a.unauthorized(w, r)
		return nil, ""
	}
	setKey(w, c.KeyID)
	if ok, wait := srv.allow(c.KeyID); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		a.rateLimited(w, r)
		return nil, ""
	}
	if !a.idempotent {
		return c, ""
	}
	idem := r.Header.Get("Idempotency-Key")
	if len(idem) > MaxIdempotencyKey {
		a.badIdemKey(w, r, fmt.Sprintf("Idempotency-Key must be at most %d bytes", MaxIdempotencyKey))
		return nil, ""
	}
	return c, idem
}

// MaxIdempotencyKey bounds the Idempotency-Key header, in bytes.
const MaxIdempotencyKey = redaction.MaxRequestIDLen

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
