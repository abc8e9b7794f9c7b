package cdrstore

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// On-disk format versions (meta/format, u32be). Numbers are explicit and
// never reused.
const (
	// FormatV1 is the first format: workspaces as nested buckets, records
	// keyed by started_at·id, indexes by_id, by_number, by_conversation.
	FormatV1 uint32 = 1
	// FormatV2 packs record IDs of hex digits or UUID form into bytes
	// wherever a key ends in one (records, by_id, by_number,
	// by_conversation); see appendID. Values are unchanged.
	FormatV2 uint32 = 2
	// FormatV3 writes record values in codec v2, whose From and To say
	// what they hold: an E.164 number, a short code or an alphanumeric
	// sender ID. Values written in codec v1 stay as they are and are read
	// forever; see migrateV3 for what the migration does.
	FormatV3 uint32 = 3

	// FormatMinSupported is the oldest format Open accepts.
	FormatMinSupported = FormatV1
	// FormatNewest is the format new stores are created in.
	FormatNewest = FormatV3
)

// migrations[v] upgrades a store from format v to v+1 inside the open's
// one write transaction. A test checks that every version from
// FormatMinSupported up to FormatNewest-1 has one.
var migrations = map[uint32]func(*migration) error{
	FormatV1: func(m *migration) error { return migratePackIDs(m.btx) },
	FormatV2: migrateV3,
}

// Store is a CDR store backed by one bbolt file. A Store is safe for
// concurrent use by multiple goroutines; a Tx is not.
type Store struct {
	path string
	opts Options

	mu         sync.RWMutex // held shared by transactions, exclusively by Close and file swaps
	db         *bolt.DB     // nil after Close
	file       *os.File     // the file bbolt has open, for Scrub's reads and writes of free pages
	pageSize   int
	readers    readers
	subjectKey []byte
	keyInFile  bool
	tombs      tombSet // the write hook and the tombstones' subjects, per workspace

	group  group                       // UpdateGrouped's queue (PutGrouped's too)
	begun  atomic.Uint64               // transactions begun, read and write: Transactions
	halted atomic.Pointer[HaltedError] // set when a commit panicked: writes are refused

	counts  counts  // Counts, kept when Options.Observer is set
	residue residue // Residue's memory
}

// Open opens the store at path, creating it (and its meta bucket) when it
// does not exist or is a bbolt file without buckets, unless opts.ReadOnly
// is set. A nil opts means DefaultOptions(). Open returns ErrLocked when
// another process holds the file past opts.LockTimeout,
// ErrUnsupportedFormat for a file written by a newer version, and an error
// matching ErrCorrupt when the file is not a valid store; a bbolt file
// holding other buckets is refused without writing to it.
func Open(path string, opts *Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, opts: o}
	s.counts.on = o.Observer != nil
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// boltOptions are the options every bbolt open of the store uses.
//
// The free page list is bbolt's array type, kept sorted as pages come and
// go. A bulk load leaves tens of thousands of free pages, and the list is
// written at every commit: the hash-map type sorted it each time, which
// cost a single redaction at N = 1,000,000 about 2 ms of its 3.3 ms
// (bench's BenchmarkRedact: 3.26 ms with the hash map, 1.11 ms with the
// array). Not writing the list at all (NoFreelistSync, as etcd
// does) was 0.3 ms faster still, but then a writable open walks every page
// to rebuild the list, about 1 s per million records, and bbolt panics on
// a damaged page from a goroutine of its own, where no caller can recover:
// a corrupt file must be an error, not a crash.
func (s *Store) boltOptions() *bolt.Options {
	o := &bolt.Options{
		Timeout:         s.opts.LockTimeout,
		ReadOnly:        s.opts.ReadOnly,
		NoSync:          s.opts.NoSync,
		InitialMmapSize: s.opts.InitialMmapSize,
		FreelistType:    bolt.FreelistArrayType,
	}
	if s.opts.PopulateMmap {
		o.MmapFlags = mmapPopulate
	}
	return o
}

// open opens s.path and checks or initialises its meta bucket.
func (s *Store) open() error {
	if err := checkFileSize(s.path); err != nil {
		return err
	}
	if fi, err := os.Stat(s.path); err == nil && fi.Size() == 0 && s.opts.ReadOnly {
		// bbolt would try to write a new file's first pages into it.
		return errNotAStore()
	}
	db, err := s.openBolt()
	if err != nil {
		return mapOpenError(s.path, err)
	}
	if err := s.loadMeta(db); err != nil {
		db.Close()
		return err
	}
	if s.counts.on {
		if err := s.rebuildCounts(db); err != nil {
			db.Close()
			return err
		}
	}
	if err := s.attach(db); err != nil {
		return err
	}
	s.openResidue()
	return nil
}

// openResidue dates the free pages of the file just opened (see
// Store.Residue): the last scrub, else the store's creation.
func (s *Store) openResidue() {
	_ = s.db.View(func(btx *bolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		for _, k := range [][]byte{metaScrubbedAt, metaCreatedAt} {
			if v := meta.Get(k); len(v) == 8 {
				s.residue.mu.Lock()
				s.residue.since = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
				s.residue.mu.Unlock()
				return nil
			}
		}
		return nil
	})
}

// attach makes db, just opened at s.path, the store's database.
func (s *Store) attach(db *bolt.DB) error {
	flag := os.O_RDWR
	if s.opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(s.path, flag, 0)
	if err != nil {
		db.Close()
		return fmt.Errorf("cdrstore: open %s: %w", s.path, err)
	}
	s.db, s.file, s.pageSize = db, f, db.Info().PageSize
	s.readers.init()
	s.recordMetas()
	return nil
}

// detach closes the store's database and file.
func (s *Store) detach() error {
	err := s.db.Close()
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	s.db, s.file = nil, nil
	return err
}

// recordMetas reads both meta pages and keeps what a scrub needs to know
// of the commits they describe, for the readers that begin at them. It runs
// after every commit (and at open); a meta page that does not read back
// whole (being overwritten) is skipped: a scrub then treats a reader that
// began at that commit as one that may read every free page.
func (s *Store) recordMetas() {
	var ms []boltMeta
	for i := range int64(2) {
		if m, err := readMeta(s.file, i, s.pageSize); err == nil {
			ms = append(ms, m)
		}
	}
	s.readers.record(ms...)
}

// loadMeta checks the meta bucket of db, or (read-write) initialises or
// migrates it when it must, then (read-write) loads the tombstones
// (readTombstones).
func (s *Store) loadMeta(db *bolt.DB) (err error) {
	defer s.recoverDamage(&err, debug.SetPanicOnFault(true))
	if s.opts.ReadOnly || !s.needsInit(db) {
		// A store that needs no change is opened without a write
		// transaction: every commit rewrites bbolt's meta page, and
		// opening a store must not change its file.
		err = db.View(s.checkMeta)
	} else {
		err = db.Update(s.initMeta)
	}
	if err == nil && !s.opts.ReadOnly {
		err = s.readTombstones(db)
	}
	return err
}

// readTombstones loads the tombstones a store that can write applies to
// every write. A store whose tombstones cannot be read because the file is
// damaged opens with its writes halted (an error matching ErrCorrupt and
// ErrHalted), so that it still serves reads and Check but never stores a
// record an erasure covered.
func (s *Store) readTombstones(db *bolt.DB) (err error) {
	defer func() {
		if err != nil && errors.Is(err, ErrCorrupt) {
			s.halt(err)
			err = nil
		}
	}()
	defer s.recoverDamage(&err, debug.SetPanicOnFault(true))
	return db.View(s.loadTombstones)
}

// openBolt is bolt.Open with the panic bbolt raises on a damaged page it
// reads while opening (the free page list) turned into a *CorruptionError
// (see recoverDamage).
//
// bbolt has opened and locked the file by the time it panics, and the
// *DB is lost with the panic: the file is closed here, through the
// OpenFile hook that handed it to bbolt, and unlocked. (The map of the
// file stays until the process exits.)
func (s *Store) openBolt() (db *bolt.DB, err error) {
	path, o := s.path, s.boltOptions()
	var file *os.File
	oo := *o
	oo.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	defer func() {
		if errors.Is(err, errDamagedPage) {
			if file != nil {
				unlockFile(file)
				file.Close()
			}
			db = nil
		}
	}()
	defer s.recoverDamage(&err, debug.SetPanicOnFault(true))
	o = &oo
	return bolt.Open(path, 0o600, o)
}

func mapOpenError(path string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("cdrstore: open %s: %w", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch):
		return &CorruptionError{Bucket: "(file)", Err: err}
	}
	return fmt.Errorf("cdrstore: open %s: %w", path, err)
}

func (s *Store) initMeta(btx *bolt.Tx) error {
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		// Only a file without buckets becomes a store. Any other holds
		// another application's data (or a store that lost its meta
		// bucket), and is refused untouched: the error rolls back.
		if k, _ := btx.Cursor().First(); k != nil {
			return errNotAStore()
		}
		var err error
		if meta, err = btx.CreateBucket(bucketMeta); err != nil {
			return err
		}
		if _, err := btx.CreateBucket(bucketWS); err != nil {
			return err
		}
		if err := meta.Put(metaFormat, binary.BigEndian.AppendUint32(nil, FormatNewest)); err != nil {
			return err
		}
		if err := meta.Put(metaCreatedAt, binary.BigEndian.AppendUint64(nil, uint64(s.opts.Now().UnixNano()))); err != nil {
			return err
		}
		key := s.opts.SubjectKey
		if key == nil {
			key = make([]byte, 32)
			rand.Read(key)
			if err := meta.Put(metaSubjectKey, key); err != nil {
				return err
			}
		}
		if err := meta.Put(metaSubjectKeyID, keyID(key)); err != nil {
			return err
		}
	}
	v, err := readFormat(meta)
	if err != nil {
		return err
	}
	if err := s.loadKey(meta); err != nil {
		return err // before migrating: a migration may key what it writes
	}
	m := &migration{btx: btx, subjectKey: s.subjectKey}
	for ; v < FormatNewest; v++ {
		if err := migrations[v](m); err != nil {
			return fmt.Errorf("cdrstore: migrate format %d to %d: %w", v, v+1, err)
		}
		if err := meta.Put(metaFormat, binary.BigEndian.AppendUint32(nil, v+1)); err != nil {
			return err
		}
	}
	return nil
}

// needsInit reports whether a writable open must write: the file has no
// meta bucket (new, or not a store: initMeta decides) or an older format.
func (s *Store) needsInit(db *bolt.DB) bool {
	need := true
	db.View(func(btx *bolt.Tx) error {
		if meta := btx.Bucket(bucketMeta); meta != nil {
			v, err := readFormat(meta)
			need = err == nil && v < FormatNewest
		}
		return nil
	})
	return need
}

// errNotAStore is the error of Open for a bbolt file that is not a store.
func errNotAStore() error {
	return &CorruptionError{Bucket: string(bucketMeta), Err: errors.New("missing: not a cdrvault store")}
}

func (s *Store) checkMeta(btx *bolt.Tx) error {
	meta := btx.Bucket(bucketMeta)
	if meta == nil || btx.Bucket(bucketWS) == nil {
		return errNotAStore()
	}
	v, err := readFormat(meta)
	if err != nil {
		return err
	}
	if v != FormatNewest {
		return &FormatError{Found: v, Reason: "must be migrated by a read-write open first"}
	}
	return s.loadKey(meta)
}

func readFormat(meta *bolt.Bucket) (uint32, error) {
	raw := meta.Get(metaFormat)
	if len(raw) != 4 {
		return 0, &CorruptionError{Bucket: string(bucketMeta), Key: string(metaFormat), Err: fmt.Errorf("value of %d bytes", len(raw))}
	}
	v := binary.BigEndian.Uint32(raw)
	if v > FormatNewest {
		return 0, &FormatError{Found: v, Reason: fmt.Sprintf("is newer than %d", FormatNewest)}
	}
	if v < FormatMinSupported {
		return 0, &FormatError{Found: v, Reason: fmt.Sprintf("is older than %d", FormatMinSupported)}
	}
	return v, nil
}

func keyID(key []byte) []byte {
	h := sha256.Sum256(key)
	return h[:8]
}

func (s *Store) loadKey(meta *bolt.Bucket) error {
	id := meta.Get(metaSubjectKeyID)
	if s.opts.SubjectKey != nil {
		if string(id) != string(keyID(s.opts.SubjectKey)) {
			return ErrKeyMismatch
		}
		s.subjectKey, s.keyInFile = s.opts.SubjectKey, false
		return nil
	}
	key := meta.Get(metaSubjectKey)
	if key == nil {
		return fmt.Errorf("cdrstore: the store was created with Options.SubjectKey; pass it: %w", ErrKeyMismatch)
	}
	if string(id) != string(keyID(key)) {
		return &CorruptionError{Bucket: string(bucketMeta), Key: string(metaSubjectKey), Err: errors.New("key does not match its id")}
	}
	s.subjectKey, s.keyInFile = slices.Clone(key), true
	return nil
}

// Close releases the file. It is idempotent and returns the first error;
// afterwards every method returns ErrClosed. Close waits for open
// transactions to finish.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	return s.detach()
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// ReadOnly reports whether the store was opened read-only.
func (s *Store) ReadOnly() bool { return s.opts.ReadOnly }

// Now returns the current time, in UTC, from Options.Now.
func (s *Store) Now() time.Time { return s.opts.Now().UTC() }

// Logger returns the store's logger.
func (s *Store) Logger() *slog.Logger { return s.opts.Logger }

// SubjectKeyInFile reports whether the HMAC key that pseudonymises subjects
// is kept inside the store file (no Options.SubjectKey was given when the
// store was created). Such a key protects nothing from whoever holds the
// file.
func (s *Store) SubjectKeyInFile() bool { return s.keyInFile }

// SubjectHMAC returns the keyed HMAC that stands for subject (a number, an
// ID) in the audit log and the opt-out list.
func (s *Store) SubjectHMAC(subject string) []byte {
	return audit.SubjectHMAC(s.subjectKey, subject)
}

// View runs fn in a read-only transaction. fn's error is returned; a
// damaged page met on the way is an error matching ErrCorrupt.
func (s *Store) View(fn func(*Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	defer s.recoverDamage(&err, debug.SetPanicOnFault(true))
	s.begun.Add(1)
	btx, n, err := s.readers.begin(s.db, s.pageSize)
	if err != nil {
		return err
	}
	defer s.readers.end(btx, n)
	return fn(newTx(s, btx))
}

// Transactions returns how many transactions the store has begun for its
// callers since it was opened: every View, and every write transaction of
// Update, UpdateGrouped and the writes on them (Scrub's, Compact's and
// Backup's own are not counted). Work that should yield to the store's
// other users compares two readings: the control socket's streams pace
// themselves when the count moved by more than their own.
func (s *Store) Transactions() uint64 { return s.begun.Load() }

// Update runs fn in a read-write transaction, committed when fn returns nil
// and rolled back when it returns an error, which Update returns (or when
// fn wrote nothing: the file is then left as it was). Only one write
// transaction runs at a time. A damaged page met on the way is an
// error matching ErrCorrupt; met while committing, it also halts the
// store's writes (ErrHalted) until it is reopened. Update runs fn on the
// path UpdateGrouped's groups take, as a group of one of its own.
func (s *Store) Update(fn func(*Tx) error) error {
	c := &groupCall{fn: fn, arrived: s.opts.Now()}
	s.runGroup([]*groupCall{c})
	return c.result()
}

// Writable returns why the store cannot write — ErrClosed, ErrReadOnly,
// or a *HaltedError (matching ErrHalted) after a commit panicked — or
// nil. It reads nothing from the file: a readiness probe may call it as
// often as it likes. Safe for concurrent use.
func (s *Store) Writable() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.writable()
}

// writable is Writable for a caller that holds s.mu.
func (s *Store) writable() error {
	switch {
	case s.db == nil:
		return ErrClosed
	case s.opts.ReadOnly:
		return ErrReadOnly
	}
	if h := s.halted.Load(); h != nil {
		return h
	}
	return nil
}

// halt makes the store refuse writes from now on, because a commit failed
// with cause, and returns the error those writes get. The first cause is
// kept.
func (s *Store) halt(cause error) error {
	s.halted.CompareAndSwap(nil, &HaltedError{Err: cause})
	h := s.halted.Load()
	s.opts.Logger.Error("cdrstore: a commit failed; writes are refused until the store is reopened", "path", s.path, "err", h.Err)
	return h
}

// Get returns the record id of workspace ws, or an error matching
// ErrNotFound.
func (s *Store) Get(ws, id string) (Record, error) {
	var r Record
	err := s.View(func(tx *Tx) error {
		var err error
		r, err = tx.Get(ws, id)
		return err
	})
	return r, err
}

// Put inserts or replaces r in one transaction, with its index entries.
// A replace never undoes a redaction: fields the stored record marks as
// redacted keep their redacted values (see [Tx.Put]).
func (s *Store) Put(r Record) error {
	_, err := s.PutResult(r)
	return err
}

// PutResult is Put, and returns what the store's write hook did to r (see
// [Tx.PutResult]).
func (s *Store) PutResult(r Record) (Verdict, error) {
	var v Verdict
	err := s.ingest([]Record{r}, func() error {
		return s.Update(func(tx *Tx) error {
			var err error
			v, err = tx.PutResult(r)
			return err
		})
	})
	return v, err
}

// ingest runs put, the body of PutResult, PutBatchResult or
// PutGroupedResult storing rs, and reports it (one log record and one
// EventIngest).
func (s *Store) ingest(rs []Record, put func() error) error {
	start := s.Now()
	err := put()
	s.ingested(rs, start, err)
	return err
}

// PutBatch inserts or replaces every record of rs in one transaction: all
// of them or, on any error, none. The result is that of Put-ing the
// records in slice order: when rs holds one workspace and ID more than
// once, the last occurrence wins, whatever its StartedAt. As with Put, a
// replace never undoes a redaction (see [Tx.Put]): re-ingesting records
// that were redacted since leaves them redacted. Records are written in
// key order, which keeps ingest at the right edge of the time-ordered tree.
func (s *Store) PutBatch(rs []Record) error {
	_, err := s.PutBatchResult(rs)
	return err
}

// PutBatchResult is PutBatch, and returns what the store's write hook did
// to the records: how many it stored changed (erased), and how many it
// kept out of the store.
func (s *Store) PutBatchResult(rs []Record) (WriteResult, error) {
	var res WriteResult
	return res, s.ingest(rs, func() error {
		order, err := validOrder(rs)
		if err != nil {
			return err
		}
		return s.Update(putInOrder(rs, order, &res))
	})
}

// PutGrouped stores rs as PutBatch does, but concurrent callers share
// one transaction and one commit: it is [Store.UpdateGrouped] of the
// records' writes. A caller alone starts its transaction at once; callers
// that arrive while it commits share the next one (up to 1,000 calls). It
// returns once that commit is durable. A call that fails (a workspace
// name refused, a write error) fails alone: the others' records are
// stored. A panic while the shared transaction commits (bbolt on a
// damaged page) fails its calls and halts the store's writes (ErrHalted),
// not the process. It suits many goroutines each writing a few records; a
// single writer of many is better served by PutBatch.
func (s *Store) PutGrouped(rs []Record) error {
	_, err := s.PutGroupedResult(rs)
	return err
}

// PutGroupedResult is PutGrouped, and returns what the store's write hook
// did to the records of rs (see PutBatchResult).
func (s *Store) PutGroupedResult(rs []Record) (WriteResult, error) {
	var res WriteResult
	return res, s.ingest(rs, func() error {
		order, err := validOrder(rs)
		if err != nil {
			return err
		}
		// The function may run more than once (after a rollback of its
		// group): it sets res, and an upsert of the same records is the
		// same the second time.
		return s.UpdateGrouped(putInOrder(rs, order, &res))
	})
}

// putInOrder returns the transaction body of PutBatch and PutGrouped: it
// puts the (validated) records of rs in the given order, and sets *res to
// what the write hook did to them (the transaction may hold other calls'
// records: PutGrouped).
func putInOrder(rs []Record, order []int, res *WriteResult) func(*Tx) error {
	return func(tx *Tx) error {
		before := tx.result
		for _, i := range order {
			if _, err := tx.put(&rs[i]); err != nil {
				return fmt.Errorf("cdrstore: batch record %d: %w", i, err)
			}
		}
		after := tx.result
		*res = WriteResult{Stored: after.Stored - before.Stored, Changed: after.Changed - before.Changed,
			Dropped: after.Dropped - before.Dropped, Expired: after.Expired - before.Expired}
		return nil
	}
}

// validOrder validates every record of rs and returns the order in which
// to put them: records-key order (workspace, started_at, ID), which keeps
// ingest at the right edge of the time-ordered tree, except that the
// records of one workspace and ID stay together, in slice order, where the
// last of them goes. The batch is then the same as putting its records one
// after another: the last occurrence of an ID wins, whatever its time.
func validOrder(rs []Record) ([]int, error) {
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			return nil, fmt.Errorf("cdrstore: batch record %d: %w", i, err)
		}
	}
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	// at(i) is the time a record sorts at: that of the last record with its
	// workspace and ID, which is itself unless its ID comes again (looked
	// for first in a map of IDs alone, four times cheaper than one of
	// workspaces and IDs).
	at := func(i int) time.Time { return rs[i].StartedAt }
	seen := make(map[string]struct{}, len(rs))
	for i := range rs {
		if _, ok := seen[rs[i].ID]; ok {
			at = lastTimes(rs)
			break
		}
		seen[rs[i].ID] = struct{}{}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := &rs[a], &rs[b]
		return cmp.Or(
			cmp.Compare(ra.Workspace, rb.Workspace),
			at(a).Compare(at(b)),
			cmp.Compare(ra.ID, rb.ID),
		)
	})
	return order, nil
}

// lastTimes returns, for each index i of rs, the StartedAt of the last
// record of rs with the workspace and ID of rs[i].
func lastTimes(rs []Record) func(i int) time.Time {
	type wsID struct{ ws, id string }
	last := make(map[wsID]int, len(rs))
	for i := range rs {
		last[wsID{rs[i].Workspace, rs[i].ID}] = i
	}
	at := make([]time.Time, len(rs))
	for i := range rs {
		at[i] = rs[last[wsID{rs[i].Workspace, rs[i].ID}]].StartedAt
	}
	return func(i int) time.Time { return at[i] }
}

// Delete removes the record id of workspace ws and its index entries, and
// returns it. It returns an error matching ErrNotFound when there is none.
func (s *Store) Delete(ws, id string) (Record, error) {
	var r Record
	err := s.Update(func(tx *Tx) error {
		var err error
		r, err = tx.Delete(ws, id)
		return err
	})
	return r, err
}
