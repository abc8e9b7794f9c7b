package bench

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	_ "github.com/mattn/go-sqlite3"
)

// sqliteEngine is SQLite through mattn/go-sqlite3 in WAL mode, with the
// indexes a careful user would create.
type sqliteEngine struct {
	db   *sql.DB
	path string
}

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS cdrs (
	ws TEXT NOT NULL, id TEXT NOT NULL, product TEXT NOT NULL, direction TEXT NOT NULL,
	from_num TEXT, to_num TEXT, body TEXT, transcript TEXT, recording_url TEXT, media TEXT,
	conversation_id TEXT, status TEXT, price TEXT, currency TEXT, network TEXT, client_ref TEXT,
	started_at INTEGER NOT NULL, ended_at INTEGER, created_at INTEGER,
	content_retention TEXT, address_retention TEXT, redacted INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (ws, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cdrs_from ON cdrs (ws, from_num, started_at);
CREATE INDEX IF NOT EXISTS cdrs_to ON cdrs (ws, to_num, started_at);
CREATE INDEX IF NOT EXISTS cdrs_started ON cdrs (started_at);
`

// OpenSQLite opens a SQLite database in dir with synchronous=sync.
func OpenSQLite(dir, sync string) (Engine, error) {
	path := filepath.Join(dir, "cdrs.sqlite")
	db, err := sql.Open("sqlite3", fmt.Sprintf("file:%s?_journal_mode=WAL&_synchronous=%s&_busy_timeout=10000", path, sync))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(sqliteSchema); err != nil {
		db.Close()
		return nil, err
	}
	return &sqliteEngine{db: db, path: path}, nil
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
	st, err := tx.Prepare(`INSERT OR REPLACE INTO cdrs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)`)
	if err != nil {
		return err
	}
	defer st.Close()
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
	err := e.db.QueryRow(`SELECT product, direction, from_num, to_num, body, transcript, recording_url, media, conversation_id,
		status, price, currency, network, client_ref, started_at, ended_at, created_at, content_retention, address_retention, redacted
		FROM cdrs WHERE ws = ? AND id = ?`, ws, id).Scan(&product, &direction, &from, &to, &body, &tr, &rec, &media, &conv,
		&st, &pr, &cur, &net, &ref, &started, &ended, &created, &cr, &ar, &redacted)
	if err != nil {
		return err
	}
	r.Body = body.String
	return json.Unmarshal([]byte(tr.String), &r.Transcript)
}

func (e *sqliteEngine) List(ws string, n e164.Number, limit int) (int, error) {
	// One index range per number column, merged: what a careful user
	// writes, since an OR defeats the ORDER BY's use of either index.
	rows, err := e.db.Query(`SELECT id, body, transcript, started_at FROM (
			SELECT id, body, transcript, started_at FROM cdrs WHERE ws = ?1 AND from_num = ?2
			UNION ALL
			SELECT id, body, transcript, started_at FROM cdrs WHERE ws = ?1 AND to_num = ?2 AND from_num <> ?2
		) ORDER BY started_at LIMIT ?3`, ws, n.String(), limit)
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
	col := "to_num"
	if r.Direction == cdrstore.Inbound {
		col = "from_num"
	}
	_, err := e.db.Exec(`UPDATE cdrs SET body = '', transcript = 'null', recording_url = '', media = 'null', `+col+` = '', redacted = 1
		WHERE ws = ? AND id = ? AND product = ? AND direction = ?`, r.Workspace, r.ID, string(r.Product), string(r.Direction))
	return err
}

// Erase runs one UPDATE per number column, each on its index, in one
// transaction. The indexes are named: without statistics SQLite plans an
// UPDATE of this WITHOUT ROWID table as a scan of every row of the
// workspace (EXPLAIN QUERY PLAN: "SEARCH cdrs USING PRIMARY KEY (ws=?)"),
// 50 ms for 100 rows at N = 100,000, where the index makes it a range.
func (e *sqliteEngine) Erase(ws string, n e164.Number) (int, error) {
	tx, err := e.db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	total := 0
	for _, c := range []struct{ index, where string }{
		{"cdrs_from", "from_num = ?2"},
		{"cdrs_to", "to_num = ?2 AND from_num <> ?2"},
	} {
		res, err := tx.Exec(`UPDATE cdrs INDEXED BY `+c.index+` SET
			body = CASE WHEN body <> '' THEN '[REDACTED]' ELSE body END,
			transcript = CASE WHEN transcript NOT IN ('null', '[]') THEN '["[REDACTED]"]' ELSE transcript END,
			recording_url = NULL, media = 'null', redacted = 1
			WHERE ws = ?1 AND `+c.where+`
			AND (body NOT IN ('', '[REDACTED]') OR transcript NOT IN ('null', '[]', '["[REDACTED]"]') OR recording_url <> '' OR media NOT IN ('null', '[]'))`,
			ws, n.String())
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

func (e *sqliteEngine) Sweep(cutoff time.Time) (int, error) {
	res, err := e.db.Exec(`DELETE FROM cdrs WHERE started_at < ?`, cutoff.UnixNano())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
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

func (e *sqliteEngine) Close() error { return e.db.Close() }
