package bench

import (
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/timshannon/bolthold"
	bolt "go.etcd.io/bbolt"
)

// holdRecord is a CDR as a bolthold user would declare it, indexed on both
// numbers and the start time.
type holdRecord struct {
	Key            string // ws/id
	Workspace      string
	ID             string
	Product        string
	Direction      string
	From           string `boltholdIndex:"From"`
	To             string `boltholdIndex:"To"`
	Body           string
	Transcript     []string
	RecordingURL   string
	Media          []cdrstore.Media
	ConversationID string
	Status, Price  string
	Currency       string
	Network        string
	ClientRef      string
	StartedAt      int64 `boltholdIndex:"StartedAt"`
	EndedAt        int64
	Redacted       bool
}

type boltholdEngine struct {
	s    *bolthold.Store
	path string
}

// OpenBolthold opens a bolthold store (JSON encoding) in dir.
func OpenBolthold(dir string) (Engine, error) {
	path := filepath.Join(dir, "bolthold.db")
	s, err := bolthold.Open(path, 0o600, &bolthold.Options{Encoder: json.Marshal, Decoder: json.Unmarshal, Options: &bolt.Options{}})
	if err != nil {
		return nil, err
	}
	return &boltholdEngine{s: s, path: path}, nil
}

func toHold(r *cdrstore.Record) holdRecord {
	return holdRecord{Key: r.Workspace + "/" + r.ID, Workspace: r.Workspace, ID: r.ID, Product: string(r.Product), Direction: string(r.Direction),
		From: r.From.String(), To: r.To.String(), Body: r.Body, Transcript: r.Transcript, RecordingURL: r.RecordingURL, Media: r.Media,
		ConversationID: r.ConversationID, Status: r.Status, Price: r.Price, Currency: r.Currency, Network: r.Network, ClientRef: r.ClientRef,
		StartedAt: r.StartedAt.UnixNano(), EndedAt: r.EndedAt.UnixNano()}
}

func (e *boltholdEngine) Ingest(batch []cdrstore.Record) error {
	return e.s.Bolt().Update(func(tx *bolt.Tx) error {
		for i := range batch {
			h := toHold(&batch[i])
			if err := e.s.TxUpsert(tx, h.Key, h); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltholdEngine) Get(ws, id string) error {
	var h holdRecord
	return e.s.Get(ws+"/"+id, &h)
}

func (e *boltholdEngine) find(tx *bolt.Tx, ws string, n e164.Number, limit int) ([]holdRecord, error) {
	var from, to []holdRecord
	q := func(field string) *bolthold.Query {
		q := bolthold.Where(field).Eq(n.String()).Index(field).And("Workspace").Eq(ws).SortBy("StartedAt")
		if limit > 0 {
			q = q.Limit(limit)
		}
		return q
	}
	if err := e.s.TxFind(tx, &from, q("From")); err != nil {
		return nil, err
	}
	if err := e.s.TxFind(tx, &to, q("To")); err != nil {
		return nil, err
	}
	return append(from, to...), nil
}

func (e *boltholdEngine) List(ws string, n e164.Number, limit int) (int, error) {
	var out []holdRecord
	err := e.s.Bolt().View(func(tx *bolt.Tx) error {
		var err error
		out, err = e.find(tx, ws, n, limit)
		return err
	})
	return min(len(out), limit), err
}

func (e *boltholdEngine) Redact(r cdrstore.Record) error {
	return e.s.Bolt().Update(func(tx *bolt.Tx) error {
		var h holdRecord
		if err := e.s.TxGet(tx, r.Workspace+"/"+r.ID, &h); err != nil {
			return err
		}
		h.Body, h.Transcript, h.RecordingURL, h.Media, h.Redacted = "", nil, "", nil, true
		if r.Direction == cdrstore.Inbound {
			h.From = ""
		} else {
			h.To = ""
		}
		return e.s.TxUpdate(tx, h.Key, h)
	})
}

func (e *boltholdEngine) Redacted(r cdrstore.Record) (bool, error) {
	var h holdRecord
	if err := e.s.Get(r.Workspace+"/"+r.ID, &h); err != nil {
		return false, err
	}
	counterparty := h.To
	if r.Direction == cdrstore.Inbound {
		counterparty = h.From
	}
	return h.Body == "" && len(h.Transcript) == 0 && h.RecordingURL == "" && len(h.Media) == 0 && counterparty == "", nil
}

func (e *boltholdEngine) Erase(ws string, n e164.Number) (int, error) {
	count := 0
	err := e.s.Bolt().Update(func(tx *bolt.Tx) error {
		recs, err := e.find(tx, ws, n, 0)
		if err != nil {
			return err
		}
		for _, h := range recs {
			if h.Body == "" && len(h.Transcript) == 0 && h.RecordingURL == "" || h.Body == "[REDACTED]" {
				continue
			}
			if h.Body != "" {
				h.Body = "[REDACTED]"
			}
			if len(h.Transcript) > 0 {
				h.Transcript = []string{"[REDACTED]"}
			}
			h.RecordingURL, h.Media, h.Redacted = "", nil, true
			if err := e.s.TxUpdate(tx, h.Key, h); err != nil {
				return err
			}
			count++
		}
		return nil
	})
	return count, err
}

func (e *boltholdEngine) Sweep(cutoff time.Time, batch int) (int, error) {
	total := 0
	for {
		count := 0
		err := e.s.Bolt().Update(func(tx *bolt.Tx) error {
			var old []holdRecord
			q := bolthold.Where("StartedAt").Lt(cutoff.UnixNano()).Index("StartedAt").Limit(batch)
			if err := e.s.TxFind(tx, &old, q); err != nil {
				return err
			}
			for _, h := range old {
				if err := e.s.TxDelete(tx, h.Key, holdRecord{}); err != nil {
					return err
				}
			}
			count = len(old)
			return nil
		})
		total += count
		if err != nil || count < batch {
			return total, err
		}
	}
}

func (e *boltholdEngine) Size() (int64, error) {
	return fileSize(e.path)
}

func (e *boltholdEngine) Memory() (int64, error) { return mappedResident(e.path) }

func (e *boltholdEngine) Close() error { return e.s.Close() }
