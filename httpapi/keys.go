package httpapi

import (
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/apikeys"
)

// Credential is an API key of one workspace. Its secret is kept only as a
// SHA-256 hash: secrets are 128 random bits, so a fast hash is safe.
type Credential = apikeys.Credential

// NewKey is what AddKey returns, once: the secret is not stored.
type NewKey = apikeys.NewKey

// ErrUnknownKey is returned by RevokeKey for a key that does not exist.
var ErrUnknownKey = apikeys.ErrUnknownKey

// AddKey creates a credential for workspace ws that may redact products
// (all of them when empty), and returns its key, secret and token. The
// creation is audited ("keys.change", actor "cdradmin").
func AddKey(s *cdrstore.Store, ws string, products []cdrstore.Product) (NewKey, error) {
	return apikeys.Add(s, ws, products, "cdradmin")
}

// ListKeys returns the credentials of workspace ws (every workspace when
// ws is empty).
func ListKeys(s *cdrstore.Store, ws string) ([]Credential, error) { return apikeys.List(s, ws) }

// RevokeKey revokes key keyID of workspace ws. The revocation takes
// effect at once: a running Server reads the key's record at every
// request, so the key is refused from the next request on. Requests
// already past authentication complete. Revoking a revoked key writes
// it (and its audit entry) again.
func RevokeKey(s *cdrstore.Store, ws, keyID string) error {
	return apikeys.Revoke(s, ws, keyID, "cdradmin")
}
