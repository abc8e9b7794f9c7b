package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
)

// getRecord is GET /v1/records/{id}.
func (srv *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	c, _ := srv.admit(w, r, readAPI)
	if c == nil {
		return
	}
	id := r.PathValue("id")
	rec, err := srv.s.Get(c.Workspace, id)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, "application/json", cdrjson.Encode(&rec))
	case errors.Is(err, cdrstore.ErrNotFound), errors.Is(err, cdrstore.ErrInvalidRecord):
		problem(w, r, http.StatusNotFound, typeBase+"#invalid-id", "Invalid ID", fmt.Sprintf("ID '%s' could not be found", truncate(id, 64)))
	default:
		srv.internal(w, r, err)
	}
}

// RecordsPage is the body of GET /v1/records.
type RecordsPage struct {
	Records     []cdrjson.Record `json:"records"`
	NextCursor  string           `json:"next_cursor,omitempty"`
	IDsNotFound []string         `json:"ids_not_found,omitempty"`
}

// MaxIDs bounds ?ids= of GET /v1/records.
const MaxIDs = 10

// listRecords is GET /v1/records?number=&since=&until=&limit=&cursor= or ?ids=.
func (srv *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	c, _ := srv.admit(w, r, readAPI)
	if c == nil {
		return
	}
	q := r.URL.Query()
	bad := func(detail string) {
		problem(w, r, http.StatusBadRequest, typeBase+"#invalid-parameters", "Invalid Parameters", detail)
	}
	page := RecordsPage{Records: []cdrjson.Record{}}
	if ids := q.Get("ids"); ids != "" {
		list := strings.Split(ids, ",")
		if len(list) > MaxIDs {
			bad(fmt.Sprintf("at most %d ids", MaxIDs))
			return
		}
		err := srv.s.View(func(tx *cdrstore.Tx) error {
			for _, id := range list {
				rec, err := tx.Get(c.Workspace, id)
				if errors.Is(err, cdrstore.ErrNotFound) || errors.Is(err, cdrstore.ErrInvalidRecord) {
					page.IDsNotFound = append(page.IDsNotFound, id)
					continue
				}
				if err != nil {
					return err
				}
				page.Records = append(page.Records, cdrjson.Encode(&rec))
			}
			return nil
		})
		if err != nil {
			srv.internal(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, "application/json", page)
		return
	}
	n, ok := ParseContactNumber(q.Get("number"))
	if !ok {
		bad("number (E.164) or ids is required")
		return
	}
	query := cdrstore.Query{Limit: 100, Cursor: q.Get("cursor")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &query.Since}, {"until", &query.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(p.name + " must be an RFC 3339 time")
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 1000 {
			bad("limit must be 1 to 1000")
			return
		}
		query.Limit = l
	}
	var last cdrstore.Record
	err := srv.s.View(func(tx *cdrstore.Tx) error {
		for rec, err := range tx.ByNumber(c.Workspace, n, query) {
			if err != nil {
				return err
			}
			last = rec
			page.Records = append(page.Records, cdrjson.Encode(&rec))
		}
		return nil
	})
	var ve *cdrstore.ValidationError
	switch {
	case errors.Is(err, cdrstore.ErrInvalidCursor):
		bad("invalid cursor")
		return
	case errors.As(err, &ve):
		// since or until outside what the store can hold; the message
		// names the field and the range, never a number.
		bad(fmt.Sprintf("%s: %s", ve.Field, ve.Reason))
		return
	case err != nil:
		srv.internal(w, r, err)
		return
	}
	if len(page.Records) == query.Limit {
		page.NextCursor = last.Cursor()
	}
	writeJSON(w, http.StatusOK, "application/json", page)
}
