package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	bolt "go.etcd.io/bbolt"
)

// boltJSON is what a bbolt user writes by hand: JSON values keyed
// ws·0x00·id, and composite-key index buckets for numbers and time.
type boltJSON struct {
	db   *bolt.DB
	path string
}

var (
	bjRecords = []byte("records")
	bjNumber  = []byte("idx_number") // ws·0 number·0 started u64be · id
	bjTime    = []byte("idx_time")   // started u64be · ws·0 · id
)

// OpenBoltJSON opens the plain bbolt store in dir.
func OpenBoltJSON(dir string) (Engine, error) {
	path := filepath.Join(dir, "bbolt.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bjRecords, bjNumber, bjTime} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	return &boltJSON{db: db, path: path}, err
}

func bjKey(ws, id string) []byte { return append(append([]byte(ws), 0), id...) }

func bjNumKey(ws, n string, started int64, id string) []byte {
	k := append(append(append([]byte(ws), 0), n...), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(started))
	return append(k, id...)
}

func bjTimeKey(started int64, ws, id string) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(started))
	return append(append(append(k, ws...), 0), id...)
}

type bjRecord struct {
	cdrstore.Record
	From string
	To   string
}

func (e *boltJSON) put(tx *bolt.Tx, r *cdrstore.Record, from, to string) error {
	v, err := json.Marshal(bjRecord{Record: *r, From: from, To: to})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bjRecords).Put(bjKey(r.Workspace, r.ID), v); err != nil {
		return err
	}
	for _, n := range []string{from, to} {
		if n != "" {
			if err := tx.Bucket(bjNumber).Put(bjNumKey(r.Workspace, n, r.StartedAt.UnixNano(), r.ID), nil); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bjTime).Put(bjTimeKey(r.StartedAt.UnixNano(), r.Workspace, r.ID), nil)
}

func (e *boltJSON) Ingest(batch []cdrstore.Record) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		for i := range batch {
			if err := e.put(tx, &batch[i], batch[i].From.String(), batch[i].To.String()); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltJSON) get(tx *bolt.Tx, ws, id string) (bjRecord, error) {
	var r bjRecord
	v := tx.Bucket(bjRecords).Get(bjKey(ws, id))
	if v == nil {
		return r, cdrstore.ErrNotFound
	}
	return r, json.Unmarshal(v, &r)
}

func (e *boltJSON) Get(ws, id string) error {
	return e.db.View(func(tx *bolt.Tx) error { _, err := e.get(tx, ws, id); return err })
}

// ids returns the IDs of ws's records holding n, in time order.
func (e *boltJSON) ids(tx *bolt.Tx, ws string, n e164.Number, limit int) []string {
	prefix := append(append(append([]byte(ws), 0), n.String()...), 0)
	var ids []string
	c := tx.Bucket(bjNumber).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(ids) < limit); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix)+8:]))
	}
	return ids
}

func (e *boltJSON) List(ws string, n e164.Number, limit int) (int, error) {
	count := 0
	err := e.db.View(func(tx *bolt.Tx) error {
		for _, id := range e.ids(tx, ws, n, limit) {
			if _, err := e.get(tx, ws, id); err != nil {
				return err
			}
			count++
		}
		return nil
	})
	return count, err
}

func (e *boltJSON) Redact(r cdrstore.Record) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		old, err := e.get(tx, r.Workspace, r.ID)
		if err != nil {
			return err
		}
		gone := old.To
		from, to := old.From, ""
		if r.Direction == cdrstore.Inbound {
			gone, from, to = old.From, "", old.To
		}
		if gone != "" {
			if err := tx.Bucket(bjNumber).Delete(bjNumKey(r.Workspace, gone, old.StartedAt.UnixNano(), r.ID)); err != nil {
				return err
			}
		}
		rec := old.Record
		rec.Body, rec.Transcript, rec.RecordingURL, rec.Media = "", nil, "", nil
		return e.put(tx, &rec, from, to)
	})
}

func (e *boltJSON) Redacted(r cdrstore.Record) (bool, error) {
	var done bool
	err := e.db.View(func(tx *bolt.Tx) error {
		old, err := e.get(tx, r.Workspace, r.ID)
		counterparty := old.To
		if r.Direction == cdrstore.Inbound {
			counterparty = old.From
		}
		done = old.Body == "" && len(old.Transcript) == 0 && old.RecordingURL == "" && len(old.Media) == 0 && counterparty == ""
		return err
	})
	return done, err
}

func (e *boltJSON) Erase(ws string, n e164.Number) (int, error) {
	count := 0
	err := e.db.Update(func(tx *bolt.Tx) error {
		for _, id := range e.ids(tx, ws, n, 0) {
			r, err := e.get(tx, ws, id)
			if err != nil {
				return err
			}
			if (r.Body == "" || r.Body == "[REDACTED]") && r.RecordingURL == "" && (len(r.Transcript) == 0 || r.Transcript[0] == "[REDACTED]") {
				continue
			}
			if r.Body != "" {
				r.Body = "[REDACTED]"
			}
			if len(r.Transcript) > 0 {
				r.Transcript = []string{"[REDACTED]"}
			}
			r.RecordingURL, r.Media = "", nil
			if err := e.put(tx, &r.Record, r.From, r.To); err != nil {
				return err
			}
			count++
		}
		return nil
	})
	return count, err
}

func (e *boltJSON) Sweep(cutoff time.Time, batch int) (int, error) {
	total := 0
	for {
		n, err := e.sweepBatch(cutoff, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// sweepBatch deletes, in one transaction, up to batch of the oldest
// records that started before cutoff.
func (e *boltJSON) sweepBatch(cutoff time.Time, batch int) (int, error) {
	count := 0
	err := e.db.Update(func(tx *bolt.Tx) error {
		end := binary.BigEndian.AppendUint64(nil, uint64(cutoff.UnixNano()))
		var keys [][]byte
		c := tx.Bucket(bjTime).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0 && len(keys) < batch; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			ws, id, _ := bytes.Cut(k[8:], []byte{0})
			r, err := e.get(tx, string(ws), string(id))
			if err != nil {
				return err
			}
			for _, n := range []string{r.From, r.To} {
				if n != "" {
					if err := tx.Bucket(bjNumber).Delete(bjNumKey(string(ws), n, r.StartedAt.UnixNano(), string(id))); err != nil {
						return err
					}
				}
			}
			if err := tx.Bucket(bjRecords).Delete(bjKey(string(ws), string(id))); err != nil {
				return err
			}
			if err := tx.Bucket(bjTime).Delete(k); err != nil {
				return err
			}
			count++
		}
		return nil
	})
	return count, err
}

func (e *boltJSON) Size() (int64, error) {
	return fileSize(e.path)
}

func (e *boltJSON) Memory() (int64, error) { return mappedResident(e.path) }

func (e *boltJSON) Close() error { return e.db.Close() }
