// Package apikeys keeps the API credentials of a store: one workspace's
// keys in its keys bucket, secrets as SHA-256 hashes. httpapi authenticates
// with them; cdradmin and the control socket add, list and revoke them.
package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
)

// Credential is an API key of one workspace. Its secret is kept only as a
// SHA-256 hash: secrets are 128 random bits, so a fast hash is safe.
type Credential struct {
	KeyID      string             `json:"key_id"`
	Workspace  string             `json:"workspace"`
	Products   []cdrstore.Product `json:"products"` // products it may redact
	SecretHash string             `json:"secret_sha256"`
	Created    time.Time          `json:"created"`
	Revoked    bool               `json:"revoked,omitempty"`
}

// NewKey is what AddKey returns, once: the secret is not stored.
type NewKey struct {
	Key    string `json:"key"`
	Secret string `json:"secret"`
	Token  string `json:"token"` // Bearer token: key.secret
}

// ErrUnknownKey is returned by RevokeKey for a key that does not exist.
var ErrUnknownKey = errors.New("apikeys: unknown key")

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Add creates a credential for workspace ws that may redact products
// (all of them when empty), and returns its key, secret and token. The
// creation is audited ("keys.change").
func Add(s *cdrstore.Store, ws string, products []cdrstore.Product, actor string) (NewKey, error) {
	if err := cdrstore.ValidateWorkspace(ws); err != nil {
		return NewKey{}, err
	}
	for _, p := range products {
		if !p.Valid() {
			return NewKey{}, fmt.Errorf("apikeys: unknown product %q", p)
		}
	}
	if len(products) == 0 {
		products = cdrstore.Products()
	}
	k := NewKey{Key: RandomHex(8), Secret: RandomHex(16)}
	k.Token = k.Key + "." + k.Secret
	c := Credential{KeyID: k.Key, Workspace: ws, Products: products, SecretHash: hashSecret(k.Secret), Created: s.Now()}
	return k, putCredential(s, c, "add", actor)
}

func putCredential(s *cdrstore.Store, c Credential, verb, actor string) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.Update(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket(c.Workspace, cdrstore.BucketKeys)
		if err != nil {
			return err
		}
		if err := kv.Put([]byte(c.KeyID), raw); err != nil {
			return err
		}
		_, err = tx.AppendAudit(c.Workspace, auditEntry(tx, verb+" key "+c.KeyID, actor))
		return err
	})
}

// List returns the credentials of workspace ws (every workspace when
// ws is empty).
func List(s *cdrstore.Store, ws string) ([]Credential, error) {
	var out []Credential
	err := s.View(func(tx *cdrstore.Tx) error {
		wss := []string{ws}
		if ws == "" {
			wss = tx.Workspaces()
		}
		for _, w := range wss {
			kv, err := tx.Bucket(w, cdrstore.BucketKeys)
			if err != nil {
				return err
			}
			for _, v := range kv.Scan(nil, nil) {
				var c Credential
				if err := json.Unmarshal(v, &c); err != nil {
					return &cdrstore.CorruptionError{Workspace: w, Bucket: string(cdrstore.BucketKeys), Err: err}
				}
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// Revoke revokes key keyID of workspace ws. The revocation takes
// effect at once: a running httpapi.Server reads the key's record at
// every request, so the key is refused from the next request on. Requests
// already past authentication complete. Revoking a revoked key writes
// it (and its audit entry) again.
func Revoke(s *cdrstore.Store, ws, keyID, actor string) error {
	c, err := Get(s, ws, keyID)
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("%w: %s", ErrUnknownKey, keyID)
	}
	c.Revoked = true
	return putCredential(s, *c, "revoke", actor)
}

// Get returns credential keyID of workspace ws as stored, or nil when
// there is none.
func Get(s *cdrstore.Store, ws, keyID string) (*Credential, error) {
	var c *Credential
	err := s.View(func(tx *cdrstore.Tx) error {
		kv, err := tx.Bucket(ws, cdrstore.BucketKeys)
		if err != nil {
			return err
		}
		raw := kv.Get([]byte(keyID))
		if raw == nil {
			return nil
		}
		c = new(Credential)
		if err := json.Unmarshal(raw, c); err != nil {
			return &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketKeys), Err: err}
		}
		return nil
	})
	return c, err
}

// Find returns credential keyID as stored, looking in every workspace
// in one read transaction, or nil when no workspace has it. It costs one
// lookup per workspace and keeps nothing, so a key added a moment ago is
// found and a revoked one is read as revoked.
func Find(s *cdrstore.Store, keyID string) (*Credential, error) {
	var c *Credential
	err := s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			kv, err := tx.Bucket(ws, cdrstore.BucketKeys)
			if err != nil {
				return err
			}
			raw := kv.Get([]byte(keyID))
			if raw == nil {
				continue
			}
			c = new(Credential)
			if err := json.Unmarshal(raw, c); err != nil {
				return &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketKeys), Err: err}
			}
			return nil
		}
		return nil
	})
	return c, err
}

// Check reports whether secret is c's, in constant time.
func (c *Credential) Check(secret string) bool {
	want, err := hex.DecodeString(c.SecretHash)
	got := sha256.Sum256([]byte(secret))
	return err == nil && subtle.ConstantTimeCompare(want, got[:]) == 1 && !c.Revoked
}

// MayRedact reports whether c may redact records of product p.
func (c *Credential) MayRedact(p cdrstore.Product) bool {
	for _, q := range c.Products {
		if q == p {
			return true
		}
	}
	return false
}

// SplitToken splits a Bearer token into key and secret.
func SplitToken(tok string) (string, string, bool) {
	return strings.Cut(tok, ".")
}

func auditEntry(tx *cdrstore.Tx, detail, actor string) audit.Entry {
	return audit.Entry{Time: tx.Now(), Action: "keys.change", Actor: actor, Detail: detail}
}
