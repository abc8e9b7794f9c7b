package fleet

import (
	"container/heap"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
)

// This file holds fleet-wide subject access: a signed, sealed query
// scattered to every live node over core NATS request/reply, answered in
// chunks sealed to the requester's one-off X25519 key, one chunk in
// flight per node (each waits for the requester's acknowledgement), and
// merged in time order by the requester.

// ChunkRecords is how many records a node sends in one reply chunk. A
// node reads each chunk in its own read transaction, so a slow requester
// holds no transaction open and a node never holds a whole history.
const ChunkRecords = 200

// chunk is one sealed reply message.
type chunk struct {
	Node   string `json:"node"`
	Seq    uint64 `json:"seq"`
	Eph    []byte `json:"eph"`  // the node's one-off X25519 public key
	Last   bool   `json:"last"` // no chunk follows
	Absent bool   `json:"absent,omitempty"`
	Sealed []byte `json:"sealed"` // []cdrjson.Record, AES-256-GCM
}

// replyKey derives the AES key of one node's reply from the ECDH secret.
func replyKey(secret, eph []byte, corr string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, eph, "cdrfleet reply "+corr, 32)
}

func chunkNonce(seq uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], seq)
	return n
}

func aead(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// serveQueries answers queries until the returned function is called.
func (a *Agent) serveQueries() (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := a.nc.Subscribe(a.c.cfg.Query, func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		go a.answer(ctx, m.Data, m.Reply)
	})
	if err != nil {
		cancel()
		return nil, err
	}
	// The subscription is in place on the server before NewAgent
	// registers the node.
	if err := a.nc.Flush(); err != nil {
		sub.Unsubscribe()
		cancel()
		return nil, err
	}
	return func() { sub.Unsubscribe(); cancel() }, nil
}

// answer streams one query's answer to reply. A query that is not signed
// by an issuer, or does not open, gets no answer at all.
func (a *Agent) answer(ctx context.Context, raw []byte, reply string) {
	q, corr, err := open(a.o.Keys, raw)
	if err != nil || !q.query() {
		a.log.Warn("query refused", "corr", corr, "err", err)
		return
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return
	}
	peer, err := ecdh.X25519().NewPublicKey(q.ReplyKey)
	if err != nil {
		return
	}
	secret, err := priv.ECDH(peer)
	if err != nil {
		return
	}
	eph := priv.PublicKey().Bytes()
	key, err := replyKey(secret, eph, corr)
	if err != nil {
		return
	}
	gcm, err := aead(key)
	if err != nil {
		return
	}
	s := a.rd.Store()
	var seq uint64
	sent := 0
	send := func(recs []cdrjson.Record, last, absent bool) error {
		plain, err := json.Marshal(recs)
		if err != nil {
			return err
		}
		c := chunk{Node: a.o.Node, Seq: seq, Eph: eph, Last: last, Absent: absent, Sealed: gcm.Seal(nil, chunkNonce(seq), plain, []byte(a.o.Node))}
		seq++
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		// The requester acknowledges each chunk: one in flight, so a
		// slow requester slows this node's answer, not its writers.
		rctx, cancel := context.WithTimeout(ctx, a.c.cfg.CallTimeout)
		defer cancel()
		_, err = a.nc.RequestWithContext(rctx, reply, data)
		return err
	}
	cursor, ids := "", q.IDs
	for {
		var recs []cdrjson.Record
		absent := false
		err := s.View(func(tx *cdrstore.Tx) error {
			ok, err := tx.HasWorkspace(q.Workspace)
			if err != nil || !ok {
				absent = true
				return err
			}
			if q.Kind == KindSearch {
				for _, id := range ids {
					r, err := tx.Get(q.Workspace, id)
					if errors.Is(err, cdrstore.ErrNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					recs = append(recs, cdrjson.Encode(&r))
				}
				ids = nil
				return nil
			}
			for r, err := range tx.ByNumber(q.Workspace, q.Number, cdrstore.Query{Since: q.Since, Until: q.Until, Limit: ChunkRecords, Cursor: cursor}) {
				if err != nil {
					return err
				}
				recs = append(recs, cdrjson.Encode(&r))
				cursor = r.Cursor()
			}
			return nil
		})
		if err != nil {
			a.log.Warn("query read", "corr", corr, "err", err)
			return
		}
		last := absent || q.Kind == KindSearch || len(recs) < ChunkRecords
		sent += len(recs)
		if last && !absent {
			// Audited before the last chunk goes: when the requester
			// has the whole answer, the store says it was given.
			a.auditAccess(ctx, q, corr, sent)
		}
		if err := send(recs, last, absent); err != nil {
			a.log.Warn("query answer abandoned", "corr", corr, "err", err)
			if !last {
				a.auditAccess(ctx, q, corr, sent)
			}
			return
		}
		if last {
			return
		}
	}
}

// auditAccess audits a query answered with n records.
func (a *Agent) auditAccess(ctx context.Context, q Command, corr string, n int) {
	subject := q.Number.String()
	if q.Kind == KindSearch {
		subject = strings.Join(q.IDs, ",")
	}
	if _, err := a.rd.RecordSubjectAccess(redaction.WithRequest(ctx, redaction.Request{ID: "query-" + corr, Actor: "fleet"}), q.Workspace, subject, n); err != nil {
		a.log.Warn("query audit", "corr", corr, "err", err)
	}
}

// Query asks the fleet for a contact's records (KindExport: Workspace,
// Number, Since, Until) or records by ID (KindSearch: Workspace, IDs).
// RequestID and ReplyKey are set by Export.
type Query = Command

// NodeAnswer is what one node sent.
type NodeAnswer struct {
	Node     string `json:"node"`
	Answered bool   `json:"answered"`
	Complete bool   `json:"complete"` // its last chunk arrived
	Absent   bool   `json:"absent,omitempty"`
	Records  int    `json:"records"`
}

// ExportSummary says which nodes answered and how many records each sent.
type ExportSummary struct {
	Nodes   []NodeAnswer `json:"nodes"`
	Missing []string     `json:"missing,omitempty"`
}

// Export scatters q to every live node and calls emit with each record,
// merged in started_at order (then node, then ID), as the nodes stream
// them. A node whose first chunk does not arrive within timeout, or whose
// next chunk does not, is listed in Missing (what it sent is kept). The
// query is signed and sealed; the answer is sealed to a key made for
// this call only. emit's error stops the export.
func (is *Issuer) Export(ctx context.Context, q Query, timeout time.Duration, emit func(node string, r cdrjson.Record) error) (ExportSummary, error) {
	if is.keys.Issuer == nil {
		return ExportSummary{}, ErrNoIssuerKey
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return ExportSummary{}, err
	}
	q.ReplyKey = priv.PublicKey().Bytes()
	if q.RequestID == "" {
		b := make([]byte, 12)
		rand.Read(b)
		q.RequestID = "query-" + hex.EncodeToString(b)
	}
	if q.IssuedAt.IsZero() {
		q.IssuedAt = is.now().UTC()
	}
	if err := q.Validate(); err != nil {
		return ExportSummary{}, err
	}
	if !q.query() {
		return ExportSummary{}, &CommandError{Field: "kind", Reason: "not a query"}
	}
	raw, corr, err := seal(is.keys, q)
	if err != nil {
		return ExportSummary{}, err
	}
	nodes, err := is.c.nodes(ctx)
	if err != nil {
		return ExportSummary{}, err
	}
	nc := is.nc
	inbox := nc.NewInbox()
	msgs := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(inbox, msgs)
	if err != nil {
		return ExportSummary{}, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishMsg(&nats.Msg{Subject: is.c.cfg.Query, Reply: inbox, Data: raw}); err != nil {
		return ExportSummary{}, err
	}

	type stream struct {
		NodeAnswer
		gcm     cipher.AEAD
		recs    []cdrjson.Record
		next    uint64
		ack     *nats.Msg
		waiting bool
	}
	streams := map[string]*stream{}
	for id, n := range nodes {
		if n.RetiredAt == nil {
			streams[id] = &stream{NodeAnswer: NodeAnswer{Node: id}, waiting: true}
		}
	}
	// receive handles one chunk; it reports false for a message to drop.
	receive := func(m *nats.Msg) error {
		var c chunk
		if json.Unmarshal(m.Data, &c) != nil {
			return nil
		}
		st, ok := streams[c.Node]
		if !ok || !st.waiting || c.Seq != st.next {
			return nil
		}
		if st.gcm == nil {
			peer, err := ecdh.X25519().NewPublicKey(c.Eph)
			if err != nil {
				return nil
			}
			secret, err := priv.ECDH(peer)
			if err != nil {
				return nil
			}
			key, err := replyKey(secret, c.Eph, corr)
			if err != nil {
				return err
			}
			if st.gcm, err = aead(key); err != nil {
				return err
			}
		}
		plain, err := st.gcm.Open(nil, chunkNonce(c.Seq), c.Sealed, []byte(c.Node))
		if err != nil {
			return nil // not from that node
		}
		var recs []cdrjson.Record
		if json.Unmarshal(plain, &recs) != nil {
			return nil
		}
		st.Answered, st.waiting, st.next, st.recs, st.ack = true, false, c.Seq+1, recs, m
		st.Records += len(recs)
		st.Absent = c.Absent
		if c.Last {
			st.Complete = true
			m.Respond(nil)
			st.ack = nil
		}
		return nil
	}
	// await receives until no stream it waits for is waiting, or the
	// deadline passes; the ones still waiting are given up.
	await := func() error {
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		for {
			waiting := false
			for _, st := range streams {
				waiting = waiting || st.waiting
			}
			if !waiting {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-deadline.C:
				for _, st := range streams {
					st.waiting = false
				}
				return nil
			case m := <-msgs:
				if err := receive(m); err != nil {
					return err
				}
			}
		}
	}
	if err := await(); err != nil {
		return ExportSummary{}, err
	}
	h := &recHeap{}
	for _, st := range streams {
		if len(st.recs) > 0 {
			heap.Push(h, heapItem{node: st.Node, rec: st.recs[0]})
			st.recs = st.recs[1:]
		}
	}
	for h.Len() > 0 {
		it := heap.Pop(h).(heapItem)
		if err := emit(it.node, it.rec); err != nil {
			return ExportSummary{}, err
		}
		st := streams[it.node]
		if len(st.recs) == 0 && st.ack != nil {
			// Ask for the next chunk, and wait for it.
			ack := st.ack
			st.ack, st.waiting = nil, true
			ack.Respond(nil)
			if err := await(); err != nil {
				return ExportSummary{}, err
			}
		}
		if len(st.recs) > 0 {
			heap.Push(h, heapItem{node: st.Node, rec: st.recs[0]})
			st.recs = st.recs[1:]
		}
	}
	var sum ExportSummary
	for _, st := range streams {
		sum.Nodes = append(sum.Nodes, st.NodeAnswer)
		if !st.Complete {
			sum.Missing = append(sum.Missing, st.Node)
		}
	}
	sort.Slice(sum.Nodes, func(i, j int) bool { return sum.Nodes[i].Node < sum.Nodes[j].Node })
	sort.Strings(sum.Missing)
	return sum, nil
}

type heapItem struct {
	node string
	rec  cdrjson.Record
}

// recHeap orders records by started_at, then node, then ID.
type recHeap []heapItem

func (h recHeap) Len() int { return len(h) }
func (h recHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	ta, _ := time.Parse(time.RFC3339Nano, a.rec.StartedAt)
	tb, _ := time.Parse(time.RFC3339Nano, b.rec.StartedAt)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	if a.node != b.node {
		return a.node < b.node
	}
	return a.rec.ID < b.rec.ID
}
func (h recHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)   { *h = append(*h, x.(heapItem)) }
func (h *recHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
