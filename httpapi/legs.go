package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
)

// Deletion is the body of a 200 answer of DELETE /v1/records/{id} and
// DELETE /v1/conversations/{id} (and what cdradmin delete --json prints).
type Deletion struct {
	// Deleted is false when a legal hold kept some legs of the
	// conversation (RecordsSkipped of them).
	Deleted         bool   `json:"deleted"`
	ID              string `json:"id,omitempty"`
	ConversationID  string `json:"conversation_id,omitempty"`
	RecordsAffected int    `json:"records_affected"`
	RecordsSkipped  int    `json:"records_skipped,omitempty"`
}

// NewDeletion returns the answer for res, the result of deleting record
// id or, when id is empty, the legs of conversation conv.
func NewDeletion(res redaction.Result, id, conv string) Deletion {
	return Deletion{Deleted: res.SkippedCount == 0, ID: id, ConversationID: conv, RecordsAffected: res.Affected, RecordsSkipped: res.SkippedCount}
}

// deleteRecord is DELETE /v1/records/{id}.
func (srv *Server) deleteRecord(w http.ResponseWriter, r *http.Request) {
	srv.deleteLegs(w, r, r.PathValue("id"), "")
}

// deleteConversation is DELETE /v1/conversations/{id}.
func (srv *Server) deleteConversation(w http.ResponseWriter, r *http.Request) {
	srv.deleteLegs(w, r, "", r.PathValue("id"))
}

// deleteLegs deletes record id, or every leg of conversation conv, with
// the contact endpoint's rules: Bearer auth, its rate limit, an
// Idempotency-Key, and a key that may redact every product of the records
// it deletes. Errors have the contact endpoint's body shape.
func (srv *Server) deleteLegs(w http.ResponseWriter, r *http.Request, id, conv string) {
	c, idem := srv.admit(w, r, contactAPI)
	if c == nil {
		return
	}
	if id != "" {
		if cdrstore.ValidateID(id) != nil {
			contactFail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "id is malformed")
			return
		}
	} else if conv == "" || len(conv) > cdrstore.MaxConversationLen {
		contactFail(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("conversation id must be 1 to %d bytes", cdrstore.MaxConversationLen))
		return
	}
	// The key must be one that may redact every product the deletion
	// touches, as a contact erasure's must.
	products, err := legProducts(srv.s, c.Workspace, id, conv)
	if err != nil {
		srv.contactInternal(w, r, err)
		return
	}
	if !mayRedactAll(w, c, products, "every product of the records it would delete") {
		return
	}
	ctx := redaction.WithRequest(r.Context(), redaction.Request{ID: idem, Actor: c.KeyID})
	var res redaction.Result
	if id != "" {
		res, err = srv.rd.DeleteRecord(ctx, c.Workspace, id)
	} else {
		res, err = srv.rd.DeleteConversation(ctx, c.Workspace, conv)
	}
	switch {
	case err == nil:
	case errors.Is(err, redaction.ErrLegalHold):
		contactFail(w, http.StatusConflict, "LEGAL_HOLD", fmt.Sprintf("Record %s is under a legal hold and cannot be deleted", id))
		return
	default:
		srv.contactWriteFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", NewDeletion(res, id, conv))
}

// legProducts returns the products of record id, or of the legs of
// conversation conv, in workspace ws.
func legProducts(s *cdrstore.Store, ws, id, conv string) ([]cdrstore.Product, error) {
	var products []cdrstore.Product
	add := func(p cdrstore.Product) {
		if !slices.Contains(products, p) {
			products = append(products, p)
		}
	}
	err := s.View(func(tx *cdrstore.Tx) error {
		if id != "" {
			rec, err := tx.Get(ws, id)
			if errors.Is(err, cdrstore.ErrNotFound) {
				return nil
			}
			add(rec.Product)
			return err
		}
		for rec, err := range tx.ByConversation(ws, conv, cdrstore.Query{Limit: 1 << 62}) {
			if err != nil {
				return err
			}
			add(rec.Product)
		}
		return nil
	})
	return products, err
}
