package cdrstore

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// readers knows every open read transaction of the store, and the meta of
// the commits they began at: what an in-place scrub needs to tell a free
// page that no reader can reach from one an open reader may still read.
//
// A read transaction begins with the mutex held, so that a scrub, which
// takes it while it holds bbolt's writer lock, never misses a reader that
// bbolt already counts. bbolt's begin takes a global lock of its own, so
// the mutex adds no contention of note.
type readers struct {
	mu    sync.Mutex
	seq   uint64
	open  map[uint64]reader // by registration number
	metas map[uint64]boltMeta
	ended chan struct{} // closed when a reader ends, if someone waits for that (else nil)
}

// reader is one open read transaction: the commit it began at (its
// snapshot) and the pages that commit used.
type reader struct {
	txid uint64
	hwm  uint64
}

func (r *readers) init() {
	r.open = map[uint64]reader{}
	r.metas = map[uint64]boltMeta{}
}

// begin starts a read transaction on db and registers it; end must follow.
func (r *readers) begin(db *bolt.DB, pageSize int) (*bolt.Tx, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	btx, err := db.Begin(false)
	if err != nil {
		return nil, 0, err
	}
	r.seq++
	r.open[r.seq] = reader{txid: uint64(btx.ID()), hwm: uint64(btx.Size()) / uint64(pageSize)}
	return btx, r.seq, nil
}

// end rolls back the read transaction begun as number n and unregisters it.
func (r *readers) end(btx *bolt.Tx, n uint64) {
	btx.Rollback()
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.open, n)
	if r.ended != nil {
		close(r.ended)
		r.ended = nil
	}
}

// older returns the open readers that began before commit txid, and a
// channel closed when any reader ends.
func (r *readers) older(txid uint64) ([]reader, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var old []reader
	for _, rd := range r.open {
		if rd.txid < txid {
			old = append(old, rd)
		}
	}
	if r.ended == nil {
		r.ended = make(chan struct{})
	}
	return old, r.ended
}

// meta returns the recorded meta of commit txid.
func (r *readers) meta(txid uint64) (boltMeta, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.metas[txid]
	return m, ok
}

// record keeps the meta of a commit for as long as a reader may have
// begun at it: metas older than every open reader and the newest two
// are dropped.
func (r *readers) record(ms ...boltMeta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	newest := uint64(0)
	for _, m := range ms {
		r.metas[m.txid] = m
		newest = max(newest, m.txid)
	}
	for _, m := range r.metas {
		newest = max(newest, m.txid)
	}
	if newest == 0 {
		return
	}
	keep := newest - 1
	for _, rd := range r.open {
		keep = min(keep, rd.txid)
	}
	for txid := range r.metas {
		if txid < keep {
			delete(r.metas, txid)
		}
	}
}
