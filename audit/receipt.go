package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Receipt states that one erasure happened: what, where, to whom (as a
// keyed HMAC), how many records, and where in the audit chain. Signed with
// Ed25519, it can be handed to a data subject or a regulator and checked
// offline with the public key.
type Receipt struct {
	Workspace       string
	Operation       string // the audit action, e.g. "data.erasure"
	Subject         []byte // keyed HMAC of the subject
	RecordsAffected uint64
	Seq             uint64   // the audit entry that records the erasure
	Hash            [32]byte // that entry's hash
	Time            time.Time
	Signature       []byte // Ed25519 over SigningBytes; nil when unsigned
}

const receiptVersion = 1

// SigningBytes returns the canonical bytes a signature covers: every field
// but the signature, versioned and length-prefixed.
func (r Receipt) SigningBytes() []byte {
	b := []byte("cdrvault-receipt")
	b = append(b, receiptVersion)
	b = appendStr(b, []byte(r.Workspace))
	b = appendStr(b, []byte(r.Operation))
	b = appendStr(b, r.Subject)
	b = binary.BigEndian.AppendUint64(b, r.RecordsAffected)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = append(b, r.Hash[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
}

// SignReceipt returns r signed with priv.
func SignReceipt(r Receipt, priv ed25519.PrivateKey) Receipt {
	r.Signature = ed25519.Sign(priv, r.SigningBytes())
	return r
}

// VerifyReceipt checks r's signature with pub. It returns ErrBadSignature
// when r is unsigned or any of its fields changed after signing.
func VerifyReceipt(r Receipt, pub ed25519.PublicKey) error {
	if len(r.Signature) == 0 || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, r.SigningBytes(), r.Signature) {
		return ErrBadSignature
	}
	return nil
}

type receiptJSON struct {
	Workspace       string `json:"workspace"`
	Operation       string `json:"operation"`
	Subject         string `json:"subject_hmac"`
	RecordsAffected uint64 `json:"records_affected"`
	Seq             uint64 `json:"audit_seq"`
	Hash            string `json:"audit_hash"`
	Time            string `json:"time"`
	Signature       string `json:"signature,omitempty"`
}

// MarshalJSON encodes hashes and the subject in hex, the signature in
// base64 and the time in RFC 3339 with nanoseconds.
func (r Receipt) MarshalJSON() ([]byte, error) {
	j := receiptJSON{
		Workspace: r.Workspace, Operation: r.Operation, Subject: hex.EncodeToString(r.Subject),
		RecordsAffected: r.RecordsAffected, Seq: r.Seq, Hash: hex.EncodeToString(r.Hash[:]),
		Time: r.Time.UTC().Format(time.RFC3339Nano),
	}
	if len(r.Signature) > 0 {
		j.Signature = base64.StdEncoding.EncodeToString(r.Signature)
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON writes.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	var j receiptJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	subject, err := hex.DecodeString(j.Subject)
	if err != nil {
		return fmt.Errorf("audit: receipt subject_hmac: %w", err)
	}
	hash, err := hex.DecodeString(j.Hash)
	if err != nil || len(hash) != 32 {
		return fmt.Errorf("audit: receipt audit_hash: not 32 hex bytes")
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return fmt.Errorf("audit: receipt time: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(j.Signature)
	if err != nil {
		return fmt.Errorf("audit: receipt signature: %w", err)
	}
	*r = Receipt{Workspace: j.Workspace, Operation: j.Operation, RecordsAffected: j.RecordsAffected, Seq: j.Seq, Time: t.UTC()}
	if len(subject) > 0 {
		r.Subject = subject
	}
	if len(sig) > 0 {
		r.Signature = sig
	}
	copy(r.Hash[:], hash)
	return nil
}
