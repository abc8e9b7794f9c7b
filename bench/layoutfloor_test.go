package bench

import (
	"bytes"
	"cmp"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	bolt "go.etcd.io/bbolt"
)

// floorEntry is what cdrvault's ingest writes for one record, in its
// buckets: the records key and value (cdrstore.EncodeRecord), and the
// keys of its by_id, by_number and by_conversation entries.
type floorEntry struct {
	ws         string   // its workspace: a nested bucket of "ws"
	key, value []byte   // records key (started_at u64be · packed ID) and value
	numbers    [][]byte // number · 0x00 · records key
	conv       []byte   // conversation ID · 0x00 · records key, or nil
}

// floorEntries encodes the workload's records as cdrvault stores them.
func floorEntries(b *testing.B, rs []cdrstore.Record) []floorEntry {
	es := make([]floorEntry, len(rs))
	for i := range rs {
		r := &rs[i]
		k, v, err := cdrstore.EncodeRecord(r)
		if err != nil {
			b.Fatal(err)
		}
		e := floorEntry{ws: r.Workspace, key: k, value: v}
		for _, n := range r.Numbers() {
			e.numbers = append(e.numbers, slices.Concat([]byte(n.String()), []byte{0}, k))
		}
		if r.ConversationID != "" {
			e.conv = slices.Concat([]byte(r.ConversationID), []byte{0}, k)
		}
		es[i] = e
	}
	return es
}

// BenchmarkLoadFloor is BenchmarkLoad's cdrvault ingest with none of
// cdrvault's code: bare bbolt writing the same entries into the same
// nested buckets, at the same fill percentages (cdrstore/tx.go), each
// batch in records-key order as PutBatch puts it, without the look-up of
// a stored copy, the write hook and what it writes (outbox entries for
// expired media, subject-index links: about 3% of the records here). It
// is the most any change to cdrvault's code could reach while the store
// writes these entries; "without" leaves one index out, to show what that
// index costs.
func BenchmarkLoadFloor(b *testing.B) {
	es := floorEntries(b, workloadOnce().Records)
	for _, without := range []string{"none", "by_id", "by_conversation"} {
		for _, size := range []int{1000, 10_000} {
			b.Run("without="+without+"/batch="+strconv.Itoa(size), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistArrayType})
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					for i := 0; i < len(es); i += size {
						batch := slices.Clone(es[i:min(i+size, len(es))])
						slices.SortFunc(batch, func(x, y floorEntry) int {
							return cmp.Or(strings.Compare(x.ws, y.ws), bytes.Compare(x.key, y.key))
						})
						if err := db.Update(func(tx *bolt.Tx) error { return putFloor(tx, batch, without) }); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					if err := db.Close(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(b.N*len(es))/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// floorBuckets are cdrvault's record buckets with their fill percentages
// (cdrstore/tx.go), in the order putFloor indexes them.
var floorBuckets = []struct {
	name string
	fill float64
}{{"records", 0.95}, {"by_id", 0.5}, {"by_number", 0.8}, {"by_conversation", 0.5}}

// putFloor writes batch, opening each workspace's buckets once.
func putFloor(tx *bolt.Tx, batch []floorEntry, without string) error {
	ws, err := tx.CreateBucketIfNotExists([]byte("ws"))
	if err != nil {
		return err
	}
	open := map[string]*[4]*bolt.Bucket{}
	for _, e := range batch {
		bks := open[e.ws]
		if bks == nil {
			root, err := ws.CreateBucketIfNotExists([]byte(e.ws))
			if err != nil {
				return err
			}
			bks = new([4]*bolt.Bucket)
			for i, b := range floorBuckets {
				if bks[i], err = root.CreateBucketIfNotExists([]byte(b.name)); err != nil {
					return err
				}
				bks[i].FillPercent = b.fill
			}
			open[e.ws] = bks
		}
		records, byID, byNum, byConv := bks[0], bks[1], bks[2], bks[3]
		if err := records.Put(e.key, e.value); err != nil {
			return err
		}
		if without != "by_id" {
			// by_id: packed ID -> started_at, the two parts of the records key.
			if err := byID.Put(e.key[8:], e.key[:8]); err != nil {
				return err
			}
		}
		for _, k := range e.numbers {
			if err := byNum.Put(k, nil); err != nil {
				return err
			}
		}
		if e.conv != nil && without != "by_conversation" {
			if err := byConv.Put(e.conv, nil); err != nil {
				return err
			}
		}
	}
	return nil
}
