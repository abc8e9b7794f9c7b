package bench

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	_ "github.com/mattn/go-sqlite3"
)

// sqliteEngine is SQLite through mattn/go-sqlite3 in WAL mode, configured
// as a careful user would: a rowid table (rows appended in arrival order,
// nearly time order) with a unique index on (ws, id) and the number and
// time indexes, every statement prepared once, and its file mapped
// (mmap_size) as cdrvault's is, with a page cache for what the map does
// not serve (the WAL's pages, a transaction's dirty pages).
type sqliteEngine struct {
	db   *sql.DB
	path string
	// cacheBytes is the page cache's limit (PRAGMA cache_size).
	cacheBytes               int64
	insert, get, list, sweep *sql.Stmt
	redacted                 *sql.Stmt
	redact                   map[cdrstore.Direction]*sql.Stmt // which number goes depends on the direction
	erase                    []*sql.Stmt                      // one per number column
}

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS cdrs (
	ws TEXT NOT NULL, id TEXT NOT NULL, product TEXT NOT NULL, direction TEXT NOT NULL,
	from_num TEXT, to_num TEXT, body TEXT, transcript TEXT, recording_url TEXT, media TEXT,
	conversation_id TEXT, status TEXT, price TEXT, currency TEXT, network TEXT, client_ref TEXT,
	started_at INTEGER NOT NULL, ended_at INTEGER, created_at INTEGER,
	content_retention TEXT, address_retention TEXT, redacted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS cdrs_id ON cdrs (ws, id);
CREATE INDEX IF NOT EXISTS cdrs_from ON cdrs (ws, from_num, started_at);
CREATE INDEX IF NOT EXISTS cdrs_to ON cdrs (ws, to_num, started_at);
CREATE INDEX IF NOT EXISTS cdrs_started ON cdrs (started_at);
`

// SQLite's memory: the whole file mapped (mmap_size at SQLite's compiled
// limit, 2 GiB: it holds a file of up to ~3.5 million records of this
// workload) and a page cache of SQLiteCacheBytes.
const sqliteMmapSize = 1 << 40 // SQLite lowers it to its compiled limit

// SQLiteCacheBytes is the limit of SQLite's page cache (PRAGMA
// cache_size): 64 MiB, enough for what the map does not serve (WAL pages,
// a transaction's dirty pages) while the file fits the 2 GiB map. Above
// ~3.5 million records of this workload the file outgrows the map, and a
// fair comparison with cdrvault, whose map holds its whole file, gives
// SQLite a cache as large as the rest (compare's -sqlite-cache).
var SQLiteCacheBytes int64 = 64 << 20

// OpenSQLite opens a SQLite database in dir with synchronous=sync.
func OpenSQLite(dir, sync string) (Engine, error) {
	path := filepath.Join(dir, "cdrs.sqlite")
	cache := SQLiteCacheBytes
	db, err := sql.Open("sqlite3", fmt.Sprintf("file:%s?_journal_mode=WAL&_synchronous=%s&_busy_timeout=10000&_cache_size=-%d",
		path, sync, cache>>10)) // a negative cache_size is in KiB
	if err != nil {
		return nil, err
	}
	// One connection, kept open: the pragmas and prepared statements
	// belong to it. It is also how SQLite is set up for concurrent
	// writers: in WAL mode it admits one writer at a time and has no
	// group commit (each autocommit UPDATE is a WAL commit and, at FULL,
	// an fsync of its own), so concurrent callers queue for the one
	// connection in database/sql's pool, which serialises them as a
	// mutex would. A pool of several connections would commit no faster
	// and would add lock contention: a writer finding the write lock taken
	// gets SQLITE_BUSY, and the busy handler (busy_timeout) sleeps and
	// retries rather than queueing.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	e := &sqliteEngine{db: db, path: path, cacheBytes: cache >> 10 << 10}
	if err := e.prepare(); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *sqliteEngine) prepare() error {
	if _, err := e.db.Exec(fmt.Sprintf("PRAGMA mmap_size = %d", int64(sqliteMmapSize))); err != nil {
		return err
	}
	var mmap int64
	if err := e.db.QueryRow(`PRAGMA mmap_size`).Scan(&mmap); err != nil {
		return err
	}
	if mmap == 0 {
		return errors.New("sqlite: mmap_size is 0: this build of SQLite cannot map its file")
	}
	if _, err := e.db.Exec(sqliteSchema); err != nil {
		return err
	}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = e.db.Prepare(q)
		return st
	}
	e.insert = prep(`INSERT OR REPLACE INTO cdrs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)`)
	e.get = prep(`SELECT product, direction, from_num, to_num, body, transcript, recording_url, media, conversation_id,
		status, price, currency, network, client_ref, started_at, ended_at, created_at, content_retention, address_retention, redacted
		FROM cdrs WHERE ws = ? AND id = ?`)
	// One index range per number column, merged: what a careful user
	// writes, since an OR defeats the ORDER BY's use of either index.
	e.list = prep(`SELECT id, body, transcript, started_at FROM (
			SELECT id, body, transcript, started_at FROM cdrs WHERE ws = ?1 AND from_num = ?2
			UNION ALL
			SELECT id, body, transcript, started_at FROM cdrs WHERE ws = ?1 AND to_num = ?2 AND from_num <> ?2
		) ORDER BY started_at LIMIT ?3`)
	e.redact = map[cdrstore.Direction]*sql.Stmt{}
	for _, d := range []cdrstore.Direction{cdrstore.Inbound, cdrstore.Outbound} {
		col := "to_num"
		if d == cdrstore.Inbound {
			col = "from_num"
		}
		e.redact[d] = prep(`UPDATE cdrs SET body = '', transcript = 'null', recording_url = '', media = 'null', ` + col + ` = '', redacted = 1
			WHERE ws = ? AND id = ? AND product = ? AND direction = ?`)
	}
	e.redacted = prep(`SELECT body = '' AND transcript = 'null' AND recording_url = '' AND media = 'null'
		AND CASE WHEN direction = 'inbound' THEN from_num ELSE to_num END = ''
		FROM cdrs WHERE ws = ? AND id = ?`)
	// Erase runs one UPDATE per number column, each on its index (named,
	// as SQLite plans without statistics).
	for _, c := range []struct{ index, where string }{
		{"cdrs_from", "from_num = ?2"},
		{"cdrs_to", "to_num = ?2 AND from_num <> ?2"},
	} {
		e.erase = append(e.erase, prep(`UPDATE cdrs INDEXED BY `+c.index+` SET
			body = CASE WHEN body <> '' THEN '[REDACTED]' ELSE body END,
			transcript = CASE WHEN transcript NOT IN ('null', '[]') THEN '["[REDACTED]"]' ELSE transcript END,
			recording_url = NULL, media = 'null', redacted = 1
			WHERE ws = ?1 AND `+c.where+`
			AND (body NOT IN ('', '[REDACTED]') OR transcript NOT IN ('null', '[]', '["[REDACTED]"]') OR recording_url <> '' OR media NOT IN ('null', '[]'))`))
	}
	// A sweep in batches: SQLite's DELETE takes no LIMIT unless compiled
	// with it, so the batch is the oldest rows of the time index.
	e.sweep = prep(`DELETE FROM cdrs WHERE rowid IN (SELECT rowid FROM cdrs INDEXED BY cdrs_started WHERE started_at < ?1 ORDER BY started_at LIMIT ?2)`)
	return err
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func (e *sqliteEngine) Ingest(batch []cdrstore.Record) error {
	tx, err := e.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st := tx.Stmt(e.insert) // the statement prepared at open, on the one connection
	for _, r := range batch {
		tr, _ := json.Marshal(r.Transcript)
		media, _ := json.Marshal(r.Media)
		if _, err := st.Exec(r.Workspace, r.ID, string(r.Product), string(r.Direction), r.From.String(), r.To.String(), r.Body,
			string(tr), r.RecordingURL, string(media), r.ConversationID, r.Status, r.Price, r.Currency, r.Network, r.ClientRef,
			r.StartedAt.UnixNano(), nullTime(r.EndedAt), nullTime(r.CreatedAt), string(r.ContentRetention), string(r.AddressRetention)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (e *sqliteEngine) Get(ws, id string) error {
	var (
		r                                                 cdrstore.Record
		from, to, body, tr, rec, media, conv, st, pr, cur sql.NullString
		net, ref, cr, ar                                  sql.NullString
		started                                           int64
		ended, created                                    sql.NullInt64
		redacted                                          int
		product, direction                                string
	)
	err := e.get.QueryRow(ws, id).Scan(&product, &direction, &from, &to, &body, &tr, &rec, &media, &conv,
		&st, &pr, &cur, &net, &ref, &started, &ended, &created, &cr, &ar, &redacted)
	if err != nil {
		return err
	}
	r.Body = body.String
	return json.Unmarshal([]byte(tr.String), &r.Transcript)
}

func (e *sqliteEngine) List(ws string, n e164.Number, limit int) (int, error) {
	rows, err := e.list.Query(ws, n.String(), limit)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	count := 0
	for rows.Next() {
		var id, body, tr sql.NullString
		var started int64
		if err := rows.Scan(&id, &body, &tr, &started); err != nil {
			return count, err
		}
		count++
	}
	return count, rows.Err()
}

func (e *sqliteEngine) Redact(r cdrstore.Record) error {
	_, err := e.redact[r.Direction].Exec(r.Workspace, r.ID, string(r.Product), string(r.Direction))
	return err
}

func (e *sqliteEngine) Redacted(r cdrstore.Record) (bool, error) {
	var done bool
	err := e.redacted.QueryRow(r.Workspace, r.ID).Scan(&done)
	return done, err
}

func (e *sqliteEngine) Erase(ws string, n e164.Number) (int, error) {
	tx, err := e.db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	total := 0
	for _, st := range e.erase {
		res, err := tx.Stmt(st).Exec(ws, n.String())
		if err != nil {
			return 0, err
		}
		affected, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += int(affected)
	}
	return total, tx.Commit()
}

// Sweep deletes the rows that started before cutoff, at most batch per
// transaction (each DELETE commits on its own).
func (e *sqliteEngine) Sweep(cutoff time.Time, batch int) (int, error) {
	total := 0
	for {
		res, err := e.sweep.Exec(cutoff.UnixNano(), batch)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < int64(batch) {
			return total, nil
		}
	}
}

func (e *sqliteEngine) Size() (int64, error) {
	if _, err := e.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, err
	}
	var total int64
	for _, p := range []string{e.path, e.path + "-wal", e.path + "-shm"} {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	return total, nil
}

// Memory is the resident part of SQLite's map of its files and the limit
// of its page cache (which it fills as it needs).
func (e *sqliteEngine) Memory() (int64, error) {
	n, err := mappedResident(e.path, e.path+"-shm")
	return n + e.cacheBytes, err
}

func (e *sqliteEngine) Close() error { return e.db.Close() }
