package fleet

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/nats-io/nats.go/jetstream"
)

// Status is a node's outcome for one command.
type Status string

// Node statuses. Done, partial, absent and rejected are final; deferred
// and retrying are not.
const (
	StatusDone     Status = "done"
	StatusPartial  Status = "partial"  // a legal hold kept records
	StatusAbsent   Status = "absent"   // workspace or record not on this node
	StatusDeferred Status = "deferred" // inside the premature-redaction window
	StatusRejected Status = "rejected" // with a reason; never applied
	StatusRetrying Status = "retrying" // transient error, retried in order
	// StatusWaiting is shown in a fleet record for a node that has not
	// reported yet; no node reports it.
	StatusWaiting Status = "waiting"
)

// Final reports whether s ends the node's part in a request.
func (s Status) Final() bool {
	return s == StatusDone || s == StatusPartial || s == StatusAbsent || s == StatusRejected
}

// Report is one node's signed answer to one command. It holds no number:
// the receipt's subject is the store's keyed HMAC.
type Report struct {
	Corr            string         `json:"corr"`
	Node            string         `json:"node"`
	Kind            Kind           `json:"kind,omitempty"`
	Status          Status         `json:"status"`
	Reason          string         `json:"reason,omitempty"`
	RecordsAffected int            `json:"records_affected"`
	Skipped         int            `json:"skipped,omitempty"`
	AuditSeq        uint64         `json:"audit_seq,omitempty"`
	AuditHash       string         `json:"audit_hash,omitempty"`
	Receipt         *audit.Receipt `json:"receipt,omitempty"`
	Replayed        bool           `json:"replayed,omitempty"`
	EligibleAt      *time.Time     `json:"eligible_at,omitempty"`
	StreamSeq       uint64         `json:"stream_seq"`
	At              time.Time      `json:"at"`
	Sig             []byte         `json:"sig,omitempty"`
}

func (r Report) signed() []byte {
	r.Sig = nil
	raw, _ := json.Marshal(r)
	return raw
}

// Verify checks r's signature against the node's public key.
func (r Report) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, r.signed(), r.Sig) {
		return fmt.Errorf("%w: report of node %s", ErrBadSignature, r.Node)
	}
	return nil
}

// Node is a fleet member as registered when it joined.
type Node struct {
	ID        string            `json:"id"`
	Key       ed25519.PublicKey `json:"key"` // verifies its reports
	JoinedAt  time.Time         `json:"joined_at"`
	RetiredAt *time.Time        `json:"retired_at,omitempty"`
}

// request is what the issuer keeps when it publishes: who must answer.
type request struct {
	Corr        string    `json:"corr"`
	Kind        Kind      `json:"kind"`
	IssuedAt    time.Time `json:"issued_at"`
	PublishedAt time.Time `json:"published_at"`
	Expected    []string  `json:"expected"`
}

// NodeResult is one node's line in a fleet record.
type NodeResult struct {
	Node            string `json:"node"`
	Status          Status `json:"status"`
	Reason          string `json:"reason,omitempty"`
	RecordsAffected int    `json:"records_affected"`
	AuditSeq        uint64 `json:"audit_seq,omitempty"`
	Receipt         string `json:"receipt,omitempty"` // hash of the node's audit entry (hex)
	Retired         bool   `json:"retired,omitempty"`
}

// Record is the fleet's answer to one request: complete once every node
// that was a member at publish time (and is not since retired) gave a
// final status; written once, signed by whoever completed it.
type Record struct {
	Corr            string       `json:"corr"`
	RequestID       string       `json:"request_id,omitempty"` // filled in locally from the caller; never stored
	Kind            Kind         `json:"kind"`
	Status          string       `json:"status"` // "complete" or "pending"
	NodesExpected   int          `json:"nodes_expected"`
	NodesDone       int          `json:"nodes_done"`
	RecordsAffected int          `json:"records_affected"`
	Note            string       `json:"note,omitempty"`
	Nodes           []NodeResult `json:"nodes"`
	IssuedAt        time.Time    `json:"issued_at"`
	CompletedAt     *time.Time   `json:"completed_at,omitempty"`
	Signer          string       `json:"signer,omitempty"` // "node:ID" or "issuer:KEYID"
	SignerKey       []byte       `json:"signer_key,omitempty"`
	Sig             []byte       `json:"sig,omitempty"`
}

// Record statuses.
const (
	RecordComplete = "complete"
	RecordPending  = "pending"
)

func (r Record) signed() []byte {
	r.Sig, r.RequestID = nil, ""
	raw, _ := json.Marshal(r)
	return raw
}

// Verify checks the record's signature with the key it names. The caller
// decides whether it trusts that key (an issuer's, or a registered
// node's).
func (r Record) Verify() error {
	if len(r.SignerKey) != ed25519.PublicKeySize || !ed25519.Verify(r.SignerKey, r.signed(), r.Sig) {
		return fmt.Errorf("%w: fleet record %s", ErrBadSignature, r.Corr)
	}
	return nil
}

// Complete reports whether every expected node answered.
func (r Record) Complete() bool { return r.Status == RecordComplete }

// Summary is the record in one line: "erase_contact complete on 3/3
// stores, 7 records".
func (r Record) Summary() string {
	s := fmt.Sprintf("%s %s on %d/%d stores, %d records", r.Kind, r.Status, r.NodesDone, r.NodesExpected, r.RecordsAffected)
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// signer signs completed records.
type signer struct {
	name string
	key  ed25519.PrivateKey
}

// scan reads every entry whose key matches filter (a key-value
// wildcard) in one pass: one watcher, which stops after the values that
// exist now.
func (c *conn) scan(ctx context.Context, filter string, each func(key string, value []byte) error) error {
	return c.call(ctx, func(ctx context.Context) error {
		w, err := c.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
		if err != nil {
			return err
		}
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case e, ok := <-w.Updates():
				if !ok || e == nil {
					return nil // the initial values are all in
				}
				if err := each(e.Key(), e.Value()); err != nil {
					return err
				}
			}
		}
	})
}

// nodes lists the registry.
func (c *conn) nodes(ctx context.Context) (map[string]Node, error) {
	out := map[string]Node{}
	err := c.scan(ctx, "node.*", func(k string, v []byte) error {
		var n Node
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("fleet: node entry %s: %w", k, err)
		}
		out[n.ID] = n
		return nil
	})
	return out, err
}

// getJSON reads key into v; found is false for a missing key.
func (c *conn) getJSON(ctx context.Context, key string, v any) (found bool, rev uint64, err error) {
	err = c.call(ctx, func(ctx context.Context) error {
		e, err := c.kv.Get(ctx, key)
		if isNoKey(err) {
			return nil
		}
		if err != nil {
			return err
		}
		found, rev = true, e.Revision()
		return json.Unmarshal(e.Value(), v)
	})
	return found, rev, err
}

func (c *conn) putJSON(ctx context.Context, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.call(ctx, func(ctx context.Context) error {
		_, err := c.kv.Put(ctx, key, raw)
		return err
	})
}

// createJSON writes key only if absent; created is false when it exists.
func (c *conn) createJSON(ctx context.Context, key string, v any) (created bool, err error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	err = c.call(ctx, func(ctx context.Context) error {
		_, err := c.kv.Create(ctx, key, raw)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil
		}
		created = err == nil
		return err
	})
	return created, err
}

// reports lists the reports of corr, by node. A report that does not
// parse does not count.
func (c *conn) reports(ctx context.Context, corr string) (map[string]Report, error) {
	out := map[string]Report{}
	err := c.scan(ctx, "report."+corr+".*", func(k string, v []byte) error {
		var r Report
		if json.Unmarshal(v, &r) == nil {
			out[strings.TrimPrefix(k, "report."+corr+".")] = r
		}
		return nil
	})
	return out, err
}

// status builds the fleet record of corr: the stored one when written;
// otherwise the current tally, and when that is complete and s is set,
// it is signed and written once (compare-and-set: the first writer wins
// and every caller returns what was stored). With onlyIfAll, it stops
// early (returning a zero Record) unless every expected node has a
// report: the cheap check a node makes after each command, leaving the
// case of a node retired meanwhile to the issuer.
func (c *conn) status(ctx context.Context, corr string, s *signer, now time.Time, onlyIfAll bool) (Record, error) {
	var rec Record
	if found, _, err := c.getJSON(ctx, recordKey(corr), &rec); err != nil || found {
		return rec, err
	}
	var req request
	found, _, err := c.getJSON(ctx, requestKey(corr), &req)
	if err != nil {
		return Record{}, err
	}
	if !found {
		return Record{}, fmt.Errorf("%w: %s", ErrUnknownRequest, corr)
	}
	reps, err := c.reports(ctx, corr)
	if err != nil {
		return Record{}, err
	}
	if onlyIfAll {
		for _, id := range req.Expected {
			if r, ok := reps[id]; !ok || !r.Status.Final() {
				return Record{}, nil
			}
		}
	}
	nodes, err := c.nodes(ctx)
	if err != nil {
		return Record{}, err
	}
	rec = Record{Corr: corr, Kind: req.Kind, IssuedAt: req.IssuedAt, Status: RecordComplete}
	found = false
	for _, id := range req.Expected {
		n, member := nodes[id]
		retired := member && n.RetiredAt != nil
		nr := NodeResult{Node: id, Status: StatusWaiting, Retired: retired}
		r, ok := reps[id]
		if ok && member && r.Verify(n.Key) == nil {
			nr.Status, nr.Reason, nr.RecordsAffected, nr.AuditSeq = r.Status, r.Reason, r.RecordsAffected, r.AuditSeq
			if r.Receipt != nil {
				nr.Receipt = fmt.Sprintf("%x", r.Receipt.Hash)
			} else {
				nr.Receipt = r.AuditHash
			}
		}
		rec.Nodes = append(rec.Nodes, nr)
		if retired {
			continue
		}
		rec.NodesExpected++
		if nr.Status.Final() {
			rec.NodesDone++
			rec.RecordsAffected += nr.RecordsAffected
			if nr.Status != StatusAbsent {
				found = true
			}
		} else {
			rec.Status = RecordPending
		}
	}
	sort.Slice(rec.Nodes, func(i, j int) bool { return rec.Nodes[i].Node < rec.Nodes[j].Node })
	if rec.Status == RecordComplete && !found && rec.NodesExpected > 0 {
		rec.Note = "not found anywhere"
	}
	if rec.Status != RecordComplete || s == nil {
		return rec, nil
	}
	t := now.UTC()
	rec.CompletedAt = &t
	rec.Signer, rec.SignerKey = s.name, s.key.Public().(ed25519.PublicKey)
	rec.Sig = ed25519.Sign(s.key, rec.signed())
	if _, err := c.createJSON(ctx, recordKey(corr), rec); err != nil {
		return Record{}, err
	}
	var stored Record
	if _, _, err := c.getJSON(ctx, recordKey(corr), &stored); err != nil {
		return Record{}, err
	}
	return stored, nil
}
