package fleet

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files of a key directory written by Keygen.
const (
	// IssuerKeyFile holds the issuer's Ed25519 private key: it signs
	// commands and stays with operators.
	IssuerKeyFile = "issuer.key"
	// DataKeyFile holds the fleet data key (AES-256) and its key ID.
	DataKeyFile = "data.key"
	// BundleFile is the node bundle: the data keys and the issuers'
	// public keys, what `cdradmin serve --fleet-keys` reads. It can open
	// and verify commands but not sign one.
	BundleFile = "node-bundle.json"
)

// DataKey is an AES-256-GCM key that seals command arguments, with the ID
// that names it in every command it sealed (so keys can rotate).
type DataKey struct {
	ID  string `json:"id"`
	Key []byte `json:"key"` // 32 bytes
}

// Keys is what a fleet participant holds. A node holds the bundle (data
// keys and issuers' public keys); an issuer holds the bundle and the
// issuer private key. The first data key seals; every listed one opens.
type Keys struct {
	Issuer   ed25519.PrivateKey
	Issuers  []ed25519.PublicKey
	DataKeys []DataKey
}

// bundle is the JSON form of BundleFile.
type bundle struct {
	DataKeys []DataKey `json:"data_keys"`
	Issuers  [][]byte  `json:"issuers"`
}

// KeyID names a public key: the hex of the first 8 bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// NewKeys returns fresh keys: an issuer key pair and one data key.
func NewKeys() (Keys, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Keys{}, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return Keys{}, err
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return Keys{}, err
	}
	return Keys{Issuer: priv, Issuers: []ed25519.PublicKey{pub}, DataKeys: []DataKey{{ID: hex.EncodeToString(id), Key: k}}}, nil
}

// Keygen writes fresh keys to dir (created 0700; files 0600): the issuer
// private key, the data key and the node bundle. It refuses a directory
// that already holds any of them.
func Keygen(dir string) (Keys, error) {
	k, err := NewKeys()
	if err != nil {
		return Keys{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Keys{}, err
	}
	for _, f := range []string{IssuerKeyFile, DataKeyFile, BundleFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return Keys{}, fmt.Errorf("%w: %s already exists", ErrInvalidKeys, filepath.Join(dir, f))
		}
	}
	return k, k.Save(dir)
}

// Save writes k to dir: the node bundle always, the issuer key when k has
// one, and the current data key.
func (k Keys) Save(dir string) error {
	if len(k.DataKeys) == 0 {
		return fmt.Errorf("%w: no data key", ErrInvalidKeys)
	}
	b := bundle{DataKeys: k.DataKeys}
	for _, p := range k.Issuers {
		b.Issuers = append(b.Issuers, p)
	}
	if err := writeJSON(filepath.Join(dir, BundleFile), b); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, DataKeyFile), k.DataKeys[0]); err != nil {
		return err
	}
	if k.Issuer != nil {
		return writeJSON(filepath.Join(dir, IssuerKeyFile), struct {
			Private []byte `json:"private"`
		}{k.Issuer})
	}
	return nil
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o600)
}

// LoadKeys reads a key directory: the node bundle (required) and the
// issuer key when present.
func LoadKeys(dir string) (Keys, error) {
	var b bundle
	raw, err := os.ReadFile(filepath.Join(dir, BundleFile))
	if err != nil {
		return Keys{}, fmt.Errorf("%w: %w", ErrInvalidKeys, err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return Keys{}, fmt.Errorf("%w: %s: %w", ErrInvalidKeys, BundleFile, err)
	}
	k := Keys{DataKeys: b.DataKeys}
	for _, p := range b.Issuers {
		k.Issuers = append(k.Issuers, ed25519.PublicKey(p))
	}
	raw, err = os.ReadFile(filepath.Join(dir, IssuerKeyFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Keys{}, fmt.Errorf("%w: %w", ErrInvalidKeys, err)
	default:
		var ik struct {
			Private []byte `json:"private"`
		}
		if err := json.Unmarshal(raw, &ik); err != nil {
			return Keys{}, fmt.Errorf("%w: %s: %w", ErrInvalidKeys, IssuerKeyFile, err)
		}
		k.Issuer = ed25519.PrivateKey(ik.Private)
	}
	return k, k.validate()
}

func (k Keys) validate() error {
	if len(k.DataKeys) == 0 {
		return fmt.Errorf("%w: no data key", ErrInvalidKeys)
	}
	for _, d := range k.DataKeys {
		if len(d.Key) != 32 || d.ID == "" {
			return fmt.Errorf("%w: data key %q is not a 32-byte key with an ID", ErrInvalidKeys, d.ID)
		}
	}
	if len(k.Issuers) == 0 {
		return fmt.Errorf("%w: no issuer public key", ErrInvalidKeys)
	}
	for _, p := range k.Issuers {
		if len(p) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: issuer public key of %d bytes", ErrInvalidKeys, len(p))
		}
	}
	if k.Issuer != nil && len(k.Issuer) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: issuer private key of %d bytes", ErrInvalidKeys, len(k.Issuer))
	}
	return nil
}

// NodeKeys returns k without the issuer private key: what a node gets.
func (k Keys) NodeKeys() Keys {
	k.Issuer = nil
	return k
}

// dataKey returns the data key named id.
func (k Keys) dataKey(id string) (DataKey, bool) {
	for _, d := range k.DataKeys {
		if d.ID == id {
			return d, true
		}
	}
	return DataKey{}, false
}

// Correlation is the keyed HMAC of a request ID under the current data
// key (hex, 128 bits): how the broker, reports and fleet records name a
// request without holding its ID.
func (k Keys) Correlation(requestID string) string {
	return correlation(k.DataKeys[0], requestID)
}

func correlation(d DataKey, requestID string) string {
	m := hmac.New(sha256.New, d.Key)
	m.Write([]byte("cdrfleet correlation\x00"))
	m.Write([]byte(requestID))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// LoadOrCreateNodeKey reads a node's report-signing key from path, or
// creates one there (0600) when the file does not exist.
func LoadOrCreateNodeKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		var v struct {
			Private []byte `json:"private"`
		}
		if err := json.Unmarshal(raw, &v); err != nil || len(v.Private) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: node key %s", ErrInvalidKeys, path)
		}
		return ed25519.PrivateKey(v.Private), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return priv, writeJSON(path, struct {
		Private []byte `json:"private"`
	}{priv})
}
