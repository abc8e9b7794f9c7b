package control

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/apikeys"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
)

// PageSize is how many records (or audit entries) one read transaction
// of a stream reads before it is closed and the page handed on; the next
// page resumes by cursor in a new transaction. So a slow reader never
// holds a transaction open, and a stream holds at most one page.
const PageSize = 1000

// pageSize is PageSize; tests shrink it.
var pageSize = PageSize

// Ops is the store's operations as cdradmin runs them, whether in this
// process on an open store ([Local]) or in the process holding the store
// ([Client]). Request IDs travel in the context (redaction.WithRequest).
// Streaming methods call emit once per item, in order, and stop at the
// first error emit returns.
type Ops interface {
	Stats(ctx context.Context) (Stats, error)
	Get(ctx context.Context, ws, id string) (cdrjson.Record, error)
	Search(ctx context.Context, q Search, emit func(SearchItem) error) (SearchEnd, error)
	Export(ctx context.Context, ws string, n e164.Number, head func(Subject) error, emit func(cdrjson.Record) error) error
	EraseContact(ctx context.Context, ws string, n e164.Number, reason string, dryRun bool) (redaction.EraseResult, error)
	RedactByID(ctx context.Context, ws, id string, p cdrstore.Product, d cdrstore.Direction) (redaction.Result, error)
	OptOut(ctx context.Context, ws string, n e164.Number, change string) (OptOutStatus, error)
	Hold(ctx context.Context, ch HoldChange) ([]redaction.Hold, error)
	AddKey(ctx context.Context, ws string, products []cdrstore.Product) (apikeys.NewKey, error)
	RevokeKey(ctx context.Context, ws, keyID string) error
	ListKeys(ctx context.Context, ws string) ([]apikeys.Credential, error)
	Settings(ctx context.Context, ws string) (redaction.Settings, error)
	SetSettings(ctx context.Context, ws string, s redaction.Settings) (redaction.Result, error)
	Check(ctx context.Context) (Report, error)
	VerifyAudit(ctx context.Context, ws string) ([]ChainStatus, error)
	AuditList(ctx context.Context, q AuditQuery, emit func(AuditLine) error) error
	AutoRedact(ctx context.Context, asOf time.Time) (redaction.AutoRedactResult, error)
	Sweep(ctx context.Context, asOf time.Time, o redaction.SweepOptions) (redaction.SweepResult, error)
	Scrub(ctx context.Context) (cdrstore.ScrubResult, error)
	Compact(ctx context.Context) (cdrstore.CompactResult, error)
	Ingest(ctx context.Context, in io.Reader, o IngestOptions, event func(IngestEvent) error) (IngestResult, error)
	Backup(ctx context.Context, w io.Writer) (int64, error)
	Drain(ctx context.Context, ws string, handOver func(url string) error) (redaction.DrainResult, error)
	Workspaces(ctx context.Context, ws string) ([]WorkspaceStats, error)
	CreateWorkspace(ctx context.Context, ws string) (bool, error)
	Delete(ctx context.Context, ws, id, conv string) (redaction.Result, error)
	Unlinked(ctx context.Context) (map[string]int, error)
	DiscardUnlinked(ctx context.Context, ws string) (redaction.Result, error)
}

// Local runs the operations on a Redactor in this process. It is safe
// for concurrent use as its Redactor is.
type Local struct {
	rd   *redaction.Redactor
	s    *cdrstore.Store
	pace *pacer // the socket's streams yield to the service's traffic; nil in cdradmin
}

// NewLocal returns the operations of rd.
func NewLocal(rd *redaction.Redactor) *Local { return &Local{rd: rd, s: rd.Store()} }

var _ Ops = (*Local)(nil)

// WorkspaceStats is one workspace's line of Stats.
type WorkspaceStats struct {
	Workspace string `json:"workspace"`
	Records   int    `json:"records"`
	Outbox    int    `json:"outbox_pending"`
	OptOuts   int    `json:"optouts"`
	Holds     int    `json:"holds"`
	AuditSeq  uint64 `json:"audit_seq"`
	AuditHead string `json:"audit_head,omitempty"`
}

// Stats are the store's counts and sizes.
type Stats struct {
	Path       string           `json:"path"`
	FileBytes  int64            `json:"file_bytes"`
	Workspaces []WorkspaceStats `json:"workspaces"`
}

// Stats counts records, outbox entries, opt-outs and holds, and reads the
// audit heads, per workspace.
func (l *Local) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Path: l.s.Path()}
	if fi, err := os.Stat(l.s.Path()); err == nil {
		st.FileBytes = fi.Size()
	}
	err := l.s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			w, err := workspaceStats(tx, ws)
			if err != nil {
				return err
			}
			st.Workspaces = append(st.Workspaces, w)
		}
		return nil
	})
	return st, err
}

// workspaceStats counts what workspace ws holds.
func workspaceStats(tx *cdrstore.Tx, ws string) (WorkspaceStats, error) {
	w := WorkspaceStats{Workspace: ws}
	n, err := tx.Count(ws)
	if err != nil {
		return w, err
	}
	w.Records = n
	for _, b := range []struct {
		name cdrstore.Name
		dst  *int
	}{{cdrstore.BucketOutbox, &w.Outbox}, {cdrstore.BucketOptout, &w.OptOuts}, {cdrstore.BucketHolds, &w.Holds}} {
		kv, err := tx.Bucket(ws, b.name)
		if err != nil {
			return w, err
		}
		*b.dst = kv.Len()
	}
	head, ok, err := tx.AuditHead(ws)
	if err != nil {
		return w, err
	}
	if ok {
		w.AuditSeq, w.AuditHead = head.Seq, hex.EncodeToString(head.Hash[:8])
	}
	return w, nil
}

// Workspaces returns the counts of workspace ws, or of every workspace
// when ws is empty. A ws that does not exist is a
// *cdrstore.NoWorkspaceError.
func (l *Local) Workspaces(ctx context.Context, ws string) ([]WorkspaceStats, error) {
	out := []WorkspaceStats{}
	err := l.s.View(func(tx *cdrstore.Tx) error {
		names := tx.Workspaces()
		if ws != "" {
			found, err := tx.HasWorkspace(ws)
			if err != nil {
				return err
			}
			if !found {
				return &cdrstore.NoWorkspaceError{Workspace: ws}
			}
			names = []string{ws}
		}
		for _, name := range names {
			w, err := workspaceStats(tx, name)
			if err != nil {
				return err
			}
			out = append(out, w)
		}
		return nil
	})
	return out, err
}

// CreateWorkspace creates workspace ws; false when it existed (see
// cdrstore.Store.CreateWorkspace).
func (l *Local) CreateWorkspace(ctx context.Context, ws string) (bool, error) {
	return l.s.CreateWorkspace(ws)
}

// Delete deletes record id, or (conv not empty) every leg of
// conversation conv, of workspace ws (redaction.DeleteRecord and
// DeleteConversation).
func (l *Local) Delete(ctx context.Context, ws, id, conv string) (redaction.Result, error) {
	if conv != "" {
		return l.rd.DeleteConversation(ctx, ws, conv)
	}
	return l.rd.DeleteRecord(ctx, ws, id)
}

// Get returns record id of workspace ws.
func (l *Local) Get(ctx context.Context, ws, id string) (cdrjson.Record, error) {
	r, err := l.s.Get(ws, id)
	if err != nil {
		return cdrjson.Record{}, err
	}
	return cdrjson.Encode(&r), nil
}

// Search is a search: by number, by IDs, or by time alone.
type Search struct {
	Workspace string         `json:"workspace"`
	Number    e164.Number    `json:"number"` // zero: not by number
	IDs       []string       `json:"ids,omitempty"`
	Query     cdrstore.Query `json:"query"`
}

// SearchItem is one answer of a search: a record, or (searching by IDs)
// an ID that was not found.
type SearchItem struct {
	Record   *cdrjson.Record `json:"record,omitempty"`
	NotFound string          `json:"not_found,omitempty"`
}

// SearchEnd ends a search: Cursor resumes after its last record when the
// search stopped at its limit.
type SearchEnd struct {
	Count  int    `json:"count"`
	Cursor string `json:"cursor,omitempty"`
}

// Search streams the records q selects, in pages of at most PageSize per
// read transaction.
func (l *Local) Search(ctx context.Context, q Search, emit func(SearchItem) error) (SearchEnd, error) {
	var end SearchEnd
	if len(q.IDs) > 0 {
		for _, id := range q.IDs {
			r, err := l.s.Get(q.Workspace, id)
			if err != nil {
				if err := emit(SearchItem{NotFound: id}); err != nil {
					return end, err
				}
				continue
			}
			rec := cdrjson.Encode(&r)
			end.Count++
			if err := emit(SearchItem{Record: &rec}); err != nil {
				return end, err
			}
		}
		return end, nil
	}
	limit := q.Query.Limit
	if limit == 0 {
		limit = cdrstore.DefaultLimit
	}
	page := q.Query
	var last cdrstore.Record
	err := l.pages(ctx, limit, &page, func(tx *cdrstore.Tx, qq cdrstore.Query) seq {
		if q.Number.IsValid() {
			return seq(tx.ByNumber(q.Workspace, q.Number, qq))
		}
		return seq(tx.ByTime(q.Workspace, qq))
	}, func(r *cdrstore.Record) error {
		end.Count++
		last = *r
		rec := cdrjson.Encode(r)
		return emit(SearchItem{Record: &rec})
	})
	if err != nil {
		return end, err
	}
	if end.Count == limit {
		end.Cursor = last.Cursor()
	}
	return end, nil
}

type seq = func(yield func(cdrstore.Record, error) bool)

// pages reads up to limit records of scan in read transactions of at most
// PageSize records each, handing each page to fn after its transaction
// closed; q.Cursor carries the position from one to the next. Served on
// the socket, pages yield to the service's traffic (pacer).
func (l *Local) pages(ctx context.Context, limit int, q *cdrstore.Query, scan func(*cdrstore.Tx, cdrstore.Query) seq, fn func(*cdrstore.Record) error) error {
	buf := make([]cdrstore.Record, 0, min(limit, pageSize))
	st := l.pace.stream()
	for done := 0; done < limit; {
		if err := ctx.Err(); err != nil {
			return err
		}
		q.Limit = min(limit-done, pageSize)
		buf = buf[:0]
		err := st.page(ctx, 1, func() error {
			err := l.s.View(func(tx *cdrstore.Tx) error {
				for r, err := range scan(tx, *q) {
					if err != nil {
						return err
					}
					buf = append(buf, r)
				}
				return nil
			})
			for i := 0; err == nil && i < len(buf); i++ {
				err = fn(&buf[i])
			}
			return err
		})
		if err != nil {
			return err
		}
		done += len(buf)
		if len(buf) < q.Limit {
			return nil
		}
		q.Cursor = buf[len(buf)-1].Cursor()
	}
	return nil
}

// Subject is the head of a subject access export: who, opt-out status and
// the legal holds on the number or its records.
type Subject struct {
	Workspace string   `json:"workspace"`
	E164      string   `json:"e164"`
	OptedOut  bool     `json:"opted_out"`
	OptOutAt  string   `json:"opted_out_since,omitempty"`
	Held      []string `json:"legal_holds,omitempty"`
}

// Export is a subject access export of number n in workspace ws: head
// first, then every record holding n, streamed in pages of PageSize.
func (l *Local) Export(ctx context.Context, ws string, n e164.Number, head func(Subject) error, emit func(cdrjson.Record) error) error {
	sub := Subject{Workspace: ws, E164: n.String()}
	ok, since, err := l.rd.IsOptedOut(ws, n)
	if err != nil {
		return err
	}
	sub.OptedOut = ok
	if ok {
		sub.OptOutAt = since.Format(time.RFC3339)
	}
	holds, err := l.rd.Holds(ws)
	if err != nil {
		return err
	}
	numberKey := redaction.HoldKeyForNumber(l.s, n)
	for _, h := range holds {
		if h.Key == numberKey {
			sub.Held = append(sub.Held, "number: "+h.Reason)
			continue
		}
		id, isID := strings.CutPrefix(h.Key, "id:")
		if !isID {
			continue
		}
		// A record hold is listed when its record holds n, as the
		// records streamed below do (by_number: From or To).
		r, err := l.s.Get(ws, id)
		if err == nil && (r.From == n || r.To == n) {
			sub.Held = append(sub.Held, "record "+id+": "+h.Reason)
		}
	}
	if err := head(sub); err != nil {
		return err
	}
	q := cdrstore.Query{}
	return l.pages(ctx, int(^uint(0)>>1), &q, func(tx *cdrstore.Tx, qq cdrstore.Query) seq {
		return seq(tx.ByNumber(ws, n, qq))
	}, func(r *cdrstore.Record) error { return emit(cdrjson.Encode(r)) })
}

// EraseContact erases (or, dry, counts) the content of number n's records
// in workspace ws.
func (l *Local) EraseContact(ctx context.Context, ws string, n e164.Number, reason string, dryRun bool) (redaction.EraseResult, error) {
	if dryRun {
		return l.rd.EraseContactDryRun(ctx, ws, n)
	}
	return l.rd.EraseContact(ctx, ws, n, reason)
}

// RedactByID redacts transaction id (the Redact API).
func (l *Local) RedactByID(ctx context.Context, ws, id string, p cdrstore.Product, d cdrstore.Direction) (redaction.Result, error) {
	return l.rd.RedactByID(ctx, ws, id, p, d)
}

// OptOutStatus is whether a number is opted out, and since when.
type OptOutStatus struct {
	OptedOut bool      `json:"opted_out"`
	Since    time.Time `json:"since,omitzero"`
}

// OptOut applies change ("add", "remove" or "check") to number n's
// opt-out in workspace ws and returns its status afterwards.
func (l *Local) OptOut(ctx context.Context, ws string, n e164.Number, change string) (OptOutStatus, error) {
	var err error
	switch change {
	case "add":
		_, err = l.rd.OptOut(ctx, ws, n)
	case "remove":
		_, err = l.rd.RemoveOptOut(ctx, ws, n)
	case "check":
	default:
		err = fmt.Errorf("control: opt-out change %q is not add, remove or check: %w", change, cdrstore.ErrInvalidRecord)
	}
	if err != nil {
		return OptOutStatus{}, err
	}
	ok, since, err := l.rd.IsOptedOut(ws, n)
	return OptOutStatus{OptedOut: ok, Since: since}, err
}

// HoldChange places a hold on a record (ID) or a number (Number), or
// releases one (Release, the hold's key); the zero change lists.
type HoldChange struct {
	Workspace string      `json:"workspace"`
	ID        string      `json:"id,omitempty"`
	Number    e164.Number `json:"number"`
	Reason    string      `json:"reason,omitempty"`
	Release   string      `json:"release,omitempty"`
}

// Hold applies ch and returns the workspace's holds afterwards.
func (l *Local) Hold(ctx context.Context, ch HoldChange) ([]redaction.Hold, error) {
	var err error
	switch {
	case ch.Release != "":
		_, err = l.rd.ReleaseHold(ctx, ch.Workspace, ch.Release)
	case ch.ID != "":
		_, err = l.rd.HoldRecord(ctx, ch.Workspace, ch.ID, ch.Reason)
	case ch.Number.IsValid():
		_, err = l.rd.HoldNumber(ctx, ch.Workspace, ch.Number, ch.Reason)
	}
	if err != nil {
		return nil, err
	}
	return l.rd.Holds(ch.Workspace)
}

// actor is who the audit entry of a key change names.
func actor(ctx context.Context) string { return redaction.RequestFrom(ctx).Actor }

// AddKey creates an API key of workspace ws (see apikeys.Add).
func (l *Local) AddKey(ctx context.Context, ws string, products []cdrstore.Product) (apikeys.NewKey, error) {
	return apikeys.Add(l.s, ws, products, actor(ctx))
}

// RevokeKey revokes key keyID of workspace ws (see apikeys.Revoke).
func (l *Local) RevokeKey(ctx context.Context, ws, keyID string) error {
	return apikeys.Revoke(l.s, ws, keyID, actor(ctx))
}

// ListKeys lists the keys of ws (every workspace when empty), without
// their secret hashes.
func (l *Local) ListKeys(ctx context.Context, ws string) ([]apikeys.Credential, error) {
	keys, err := apikeys.List(l.s, ws)
	for i := range keys {
		keys[i].SecretHash = ""
	}
	return keys, err
}

// Settings returns the settings of workspace ws.
func (l *Local) Settings(ctx context.Context, ws string) (redaction.Settings, error) {
	return l.rd.Settings(ws)
}

// SetSettings replaces the settings of workspace ws.
func (l *Local) SetSettings(ctx context.Context, ws string, s redaction.Settings) (redaction.Result, error) {
	return l.rd.SetSettings(ctx, ws, s)
}

// ChainStatus is one verified audit chain.
type ChainStatus struct {
	Workspace string `json:"workspace"`
	Entries   uint64 `json:"entries"`
	Head      string `json:"head"`
}

// VerifyAudit verifies the audit chain of ws, or of every workspace, and
// returns those verified before the first failure with it.
func (l *Local) VerifyAudit(ctx context.Context, ws string) ([]ChainStatus, error) {
	var out []ChainStatus
	err := l.s.View(func(tx *cdrstore.Tx) error {
		wss := tx.Workspaces()
		if ws != "" {
			wss = []string{ws}
		}
		for _, w := range wss {
			n, head, err := tx.VerifyAudit(ctx, w)
			if err != nil {
				return fmt.Errorf("workspace %s: %w", w, err)
			}
			out = append(out, ChainStatus{Workspace: w, Entries: n, Head: hex.EncodeToString(head.Hash[:8])})
		}
		return nil
	})
	return out, err
}

// AuditLine is one audit entry as cdradmin lists it.
type AuditLine struct {
	Seq       uint64 `json:"seq"`
	Time      string `json:"time"`
	Action    string `json:"action"`
	Reason    string `json:"reason,omitempty"`
	Actor     string `json:"actor,omitempty"`
	Subject   string `json:"subject_hmac,omitempty"`
	Count     uint64 `json:"count"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Hash      string `json:"hash"`
}

// AuditQuery selects audit entries of a workspace: at most Limit of
// those after seq After, the newest first or (NewestFirst false) the
// oldest.
type AuditQuery struct {
	Workspace   string `json:"workspace"`
	After       uint64 `json:"after"`
	Limit       int    `json:"limit"`
	NewestFirst bool   `json:"newest_first"`
}

// AuditList streams the entries q selects, PageSize per read
// transaction. Newest first, pages run backwards from the head: seqs run
// 1, 2, … with no gap (audit.Verify checks it).
func (l *Local) AuditList(ctx context.Context, q AuditQuery, emit func(AuditLine) error) error {
	st := l.pace.stream()
	if !q.NewestFirst {
		return l.auditPages(ctx, st, q.Workspace, q.After, q.Limit, math.MaxUint64, false, emit)
	}
	var head uint64
	err := l.s.View(func(tx *cdrstore.Tx) error {
		h, ok, err := tx.AuditHead(q.Workspace)
		if ok {
			head = h.Seq
		}
		return err
	})
	if err != nil || head <= q.After {
		return err
	}
	lo := q.After
	if head > uint64(q.Limit) {
		lo = max(lo, head-uint64(q.Limit))
	}
	for hi := head; hi > lo; {
		from := max(lo, hi-min(hi, uint64(pageSize)))
		if err := l.auditPages(ctx, st, q.Workspace, from, int(hi-from), hi, true, emit); err != nil {
			return err
		}
		hi = from
	}
	return nil
}

// auditPages emits up to limit entries with after < seq <= upTo, in pages
// of PageSize read transactions (one page, reversed, when reverse), paced
// as the pages of stream st.
func (l *Local) auditPages(ctx context.Context, st *paced, ws string, after uint64, limit int, upTo uint64, reverse bool, emit func(AuditLine) error) error {
	buf := make([]AuditLine, 0, min(limit, pageSize))
	for done := 0; done < limit; {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := min(limit-done, pageSize)
		buf = buf[:0]
		err := st.page(ctx, 1, func() error {
			err := l.s.View(func(tx *cdrstore.Tx) error {
				for en, err := range tx.AuditEntries(ws, after) {
					if err != nil {
						return err
					}
					if en.Seq > upTo {
						break
					}
					buf = append(buf, AuditLine{Seq: en.Seq, Time: en.Time.Format(time.RFC3339Nano), Action: en.Action, Reason: en.Reason, Actor: en.Actor,
						Subject: hex.EncodeToString(en.Subject), Count: en.Count, Detail: en.Detail, RequestID: en.RequestID, Hash: hex.EncodeToString(en.Hash[:])})
					if len(buf) == want {
						break
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if reverse {
				slices.Reverse(buf)
			}
			for _, line := range buf {
				if err := emit(line); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		done += len(buf)
		if len(buf) < want {
			return nil
		}
		after = max(after, buf[0].Seq, buf[len(buf)-1].Seq)
	}
	return nil
}

// AutoRedact applies every workspace's auto-redaction policies as of asOf.
func (l *Local) AutoRedact(ctx context.Context, asOf time.Time) (redaction.AutoRedactResult, error) {
	return l.rd.AutoRedact(ctx, asOf, redaction.AutoRedactOptions{})
}

// Sweep deletes records past their retention as of asOf.
func (l *Local) Sweep(ctx context.Context, asOf time.Time, o redaction.SweepOptions) (redaction.SweepResult, error) {
	return l.rd.Sweep(ctx, asOf, o)
}

// Backup writes a compacted copy of the store to w (see
// cdrstore.Store.Backup) and returns its size.
func (l *Local) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return l.s.Backup(ctx, w)
}

// Drain hands every pending outbox URL to handOver, oldest first, and
// removes each only once handOver returned nil (redaction.DrainOutbox).
func (l *Local) Drain(ctx context.Context, ws string, handOver func(url string) error) (redaction.DrainResult, error) {
	return l.rd.DrainOutbox(ctx, ws, redaction.DeleterFunc(func(_ context.Context, url string) error { return handOver(url) }))
}

// Compact gives the store's free pages back to the file system (see
// cdrstore.Store.Compact).
func (l *Local) Compact(ctx context.Context) (cdrstore.CompactResult, error) {
	return l.s.Compact(ctx)
}

// Unlinked counts, per workspace, the records no erasure can reach
// (redaction.Redactor.Unlinked).
func (l *Local) Unlinked(ctx context.Context) (map[string]int, error) { return l.rd.Unlinked(ctx) }

// DiscardUnlinked discards their content in workspace ws
// (redaction.Redactor.DiscardUnlinked).
func (l *Local) DiscardUnlinked(ctx context.Context, ws string) (redaction.Result, error) {
	return l.rd.DiscardUnlinked(ctx, ws)
}

// Scrub purges the store's free pages (see cdrstore.Store.Scrub).
func (l *Local) Scrub(ctx context.Context) (cdrstore.ScrubResult, error) {
	return l.s.Scrub(ctx)
}

type (
	newKey     = apikeys.NewKey
	credential = apikeys.Credential
)
