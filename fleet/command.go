package fleet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
)

// Kind names what a command does.
type Kind string

// The command kinds, each applied through one redaction operation.
const (
	KindEraseContact       Kind = "erase_contact"       // EraseContact
	KindRedactID           Kind = "redact_id"           // RedactByID
	KindDeleteRecord       Kind = "delete_record"       // DeleteRecord
	KindDeleteConversation Kind = "delete_conversation" // DeleteConversation
	KindHoldPlace          Kind = "hold_place"          // HoldRecord / HoldNumber
	KindHoldRelease        Kind = "hold_release"        // ReleaseHold
	KindOptOutAdd          Kind = "optout_add"          // OptOut
	KindOptOutRemove       Kind = "optout_remove"       // RemoveOptOut
	KindSettings           Kind = "settings"            // SetSettings

	// Queries: answered by live nodes over request/reply, never
	// published on the command log (see Issuer.Export).
	KindExport Kind = "export" // a contact's records, by number
	KindSearch Kind = "search" // records by ID (up to MaxSearchIDs)
)

// MaxSearchIDs bounds the IDs of one search query.
const MaxSearchIDs = 10

// Command is one request to every store of the fleet. Everything in it
// travels sealed under the fleet data key; only its Kind, the
// correlation of its RequestID and its issue time are readable on the
// broker.
type Command struct {
	Kind Kind `json:"kind"`
	// RequestID is the idempotency key each store applies the command
	// under (1-128 bytes). Required.
	RequestID string `json:"request_id"`
	// IssuedAt is when the request was made; Publish sets it when zero.
	IssuedAt  time.Time `json:"issued_at"`
	Workspace string    `json:"workspace"`
	// Number: contact erasure, opt-outs, holds on a number.
	Number e164.Number `json:"number,omitzero"`
	// Reason: the erasure's reason code, or a hold's reason.
	Reason string `json:"reason,omitempty"`
	// ID: redaction by ID, record deletion, a hold on a record.
	ID        string             `json:"id,omitempty"`
	Product   cdrstore.Product   `json:"product,omitempty"`
	Direction cdrstore.Direction `json:"direction,omitempty"`
	// Conversation: conversation deletion.
	Conversation string `json:"conversation,omitempty"`
	// Settings: a workspace settings change (the whole policy).
	Settings *redaction.Settings `json:"settings,omitempty"`
	// Since and Until bound an export by started_at (zero: unbounded).
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// IDs are a search's record IDs.
	IDs []string `json:"ids,omitempty"`
	// ReplyKey is a query's one-off X25519 public key: nodes seal their
	// answer to it, so only the requester can read it.
	ReplyKey []byte `json:"reply_key,omitempty"`
}

// Validate checks c's fields for its kind. The error is a *CommandError
// (ErrInvalidCommand) naming the field, never holding a number.
func (c *Command) Validate() error {
	bad := func(field, reason string) error { return &CommandError{Field: field, Reason: reason} }
	if c.RequestID == "" || len(c.RequestID) > redaction.MaxRequestIDLen {
		return bad("request_id", fmt.Sprintf("need 1-%d bytes", redaction.MaxRequestIDLen))
	}
	if err := cdrstore.ValidateWorkspace(c.Workspace); err != nil {
		return bad("workspace", "not a valid workspace name")
	}
	needNumber := func() error {
		if !c.Number.IsValid() {
			return bad("number", "need a valid E.164 number")
		}
		return nil
	}
	needID := func() error {
		if cdrstore.ValidateID(c.ID) != nil {
			return bad("id", "need a valid record ID")
		}
		return nil
	}
	switch c.Kind {
	case KindEraseContact:
		if err := redaction.ValidateReason(c.Reason); err != nil {
			return bad("reason", "not a reason code")
		}
		return needNumber()
	case KindOptOutAdd, KindOptOutRemove:
		return needNumber()
	case KindRedactID:
		if !c.Product.Valid() {
			return bad("product", "unknown product")
		}
		if !c.Direction.Valid() {
			return bad("direction", "need inbound or outbound")
		}
		return needID()
	case KindDeleteRecord:
		return needID()
	case KindDeleteConversation:
		if c.Conversation == "" || len(c.Conversation) > 128 {
			return bad("conversation", "need a conversation ID")
		}
	case KindHoldPlace, KindHoldRelease:
		if (c.ID == "") == !c.Number.IsValid() {
			return bad("id", "need one of a record ID or a number")
		}
		if c.Kind == KindHoldPlace && c.Reason == "" {
			return bad("reason", "a hold needs a reason")
		}
		if c.ID != "" {
			return needID()
		}
	case KindSettings:
		if c.Settings == nil {
			return bad("settings", "missing")
		}
		if err := c.Settings.Validate(); err != nil {
			return bad("settings", "not valid settings")
		}
	case KindExport, KindSearch:
		if len(c.ReplyKey) != 32 {
			return bad("reply_key", "need a 32-byte X25519 public key")
		}
		if c.Kind == KindExport {
			return needNumber()
		}
		if len(c.IDs) == 0 || len(c.IDs) > MaxSearchIDs {
			return bad("ids", fmt.Sprintf("need 1-%d record IDs", MaxSearchIDs))
		}
		for _, id := range c.IDs {
			if cdrstore.ValidateID(id) != nil {
				return bad("ids", "need valid record IDs")
			}
		}
	default:
		return bad("kind", "unknown kind")
	}
	return nil
}

// query reports whether c is a query rather than a command.
func (c *Command) query() bool { return c.Kind == KindExport || c.Kind == KindSearch }

// envelope is a command on the wire: readable kind, correlation and
// times; sealed arguments; the issuer's signature over all of it.
type envelope struct {
	V        int       `json:"v"`
	Kind     Kind      `json:"kind"`
	Corr     string    `json:"corr"`
	KeyID    string    `json:"kid"`
	Issuer   string    `json:"iss"`
	IssuedAt time.Time `json:"iat"`
	Sealed   []byte    `json:"sealed"`
	Sig      []byte    `json:"sig,omitempty"`
}

const envelopeVersion = 1

// signed returns the bytes the signature covers: the envelope without it.
func (e envelope) signed() []byte {
	e.Sig = nil
	raw, _ := json.Marshal(e)
	return raw
}

// aad binds the sealed arguments to the readable fields.
func (e envelope) aad() []byte {
	return []byte(fmt.Sprintf("cdrfleet\x00%d\x00%s\x00%s\x00%s\x00%s", e.V, e.Kind, e.Corr, e.KeyID, e.IssuedAt.UTC().Format(time.RFC3339Nano)))
}

// seal turns c into a signed envelope under k's current data key.
func seal(k Keys, c Command) ([]byte, string, error) {
	if k.Issuer == nil {
		return nil, "", ErrNoIssuerKey
	}
	d := k.DataKeys[0]
	env := envelope{V: envelopeVersion, Kind: c.Kind, Corr: correlation(d, c.RequestID), KeyID: d.ID,
		Issuer: KeyID(k.Issuer.Public().(ed25519.PublicKey)), IssuedAt: c.IssuedAt.UTC()}
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, "", err
	}
	gcm, err := newGCM(d.Key)
	if err != nil {
		return nil, "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	env.Sealed = gcm.Seal(nonce, nonce, plain, env.aad())
	env.Sig = ed25519.Sign(k.Issuer, env.signed())
	raw, err := json.Marshal(env)
	return raw, env.Corr, err
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// idPattern bounds node IDs.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// corrPattern is a correlation's shape.
var corrPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// open verifies and opens raw. It returns the envelope's correlation
// (when it parsed) with any error, so a rejection can be reported under
// it.
func open(k Keys, raw []byte) (Command, string, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Command{}, "", &CommandError{Field: "envelope", Reason: "not JSON"}
	}
	corr := env.Corr
	if !corrPattern.MatchString(corr) {
		return Command{}, "", &CommandError{Field: "corr", Reason: "malformed correlation"}
	}
	if env.V != envelopeVersion {
		return Command{}, corr, &CommandError{Field: "v", Reason: fmt.Sprintf("unsupported version %d", env.V)}
	}
	var pub ed25519.PublicKey
	for _, p := range k.Issuers {
		if KeyID(p) == env.Issuer {
			pub = p
		}
	}
	if pub == nil || !ed25519.Verify(pub, env.signed(), env.Sig) {
		return Command{}, corr, fmt.Errorf("%w: command not signed by a known issuer", ErrBadSignature)
	}
	d, ok := k.dataKey(env.KeyID)
	if !ok {
		return Command{}, corr, fmt.Errorf("%w: %q", ErrUnknownKey, env.KeyID)
	}
	gcm, err := newGCM(d.Key)
	if err != nil {
		return Command{}, corr, err
	}
	if len(env.Sealed) < gcm.NonceSize() {
		return Command{}, corr, &CommandError{Field: "sealed", Reason: "too short"}
	}
	n := gcm.NonceSize()
	plain, err := gcm.Open(nil, env.Sealed[:n], env.Sealed[n:], env.aad())
	if err != nil {
		return Command{}, corr, &CommandError{Field: "sealed", Reason: "cannot be opened with the data key"}
	}
	var c Command
	if err := json.Unmarshal(plain, &c); err != nil {
		return Command{}, corr, &CommandError{Field: "sealed", Reason: "not a command"}
	}
	if c.Kind != env.Kind || !c.IssuedAt.Equal(env.IssuedAt) || correlation(d, c.RequestID) != corr {
		return Command{}, corr, &CommandError{Field: "envelope", Reason: "sealed command does not match its envelope"}
	}
	return c, corr, c.Validate()
}
