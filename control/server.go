package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
)

// Options configures a Server. Zero fields take their defaults.
type Options struct {
	// SocketPath is where the socket is bound; default SocketPath(the
	// store's path).
	SocketPath string
	// Logger receives refused peers and failed requests; default discard.
	Logger *slog.Logger
	// MaxBodyBytes caps a request body; default 1 MiB.
	MaxBodyBytes int64
	// StreamShare is the share of wall time, in [0.001, 1], that a
	// stream (export, search by number or time, audit list) may spend
	// reading and sending while the service's own traffic uses the store:
	// after a page during which others than the streams began
	// transactions, it waits (1/StreamShare - 1) times as long as the page
	// took (at most a second) before its next page. On a store nobody
	// else uses, streams never wait. Default DefaultStreamShare; 1 never
	// waits.
	StreamShare float64
}

// Server serves a store's operations on its control socket.
type Server struct {
	local *Local
	opts  Options
	ln    *net.UnixListener
	http  *http.Server
	mux   *http.ServeMux
	done  chan error

	once    sync.Once
	stopErr error
}

// Start binds the control socket of rd's store and serves it until Close.
// The store must be open for writing: only the process holding its
// exclusive file lock may serve it, and so replace a stale socket
// (cdrstore.ErrReadOnly otherwise). A path over the OS limit is a
// *PathTooLongError; a path taken by a file that is not a socket, or by
// a socket another process answers on, is ErrSocketTaken.
func Start(rd *redaction.Redactor, opts *Options) (*Server, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	s := rd.Store()
	if s.ReadOnly() {
		return nil, fmt.Errorf("control: serve %s: %w", s.Path(), cdrstore.ErrReadOnly)
	}
	if o.SocketPath == "" {
		o.SocketPath = SocketPath(s.Path())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	switch {
	case o.StreamShare == 0:
		o.StreamShare = DefaultStreamShare
	case !(o.StreamShare >= minStreamShare && o.StreamShare <= 1): // NaN too
		return nil, fmt.Errorf("control: options: StreamShare %v is not in [%v, 1]", o.StreamShare, minStreamShare)
	}
	ln, err := listen(o.SocketPath)
	if err != nil {
		return nil, err
	}
	local := NewLocal(rd)
	local.pace = newPacer(s, o.StreamShare)
	srv := &Server{local: local, opts: o, ln: ln, mux: http.NewServeMux(), done: make(chan error, 1)}
	srv.routes()
	srv.http = &http.Server{
		Handler:           srv.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if pc, ok := c.(*peerConn); ok {
				return context.WithValue(ctx, peerKey{}, pc.peer)
			}
			return ctx
		},
	}
	pl := &peerListener{UnixListener: ln, owner: uint32(os.Geteuid()), creds: peerCred, log: o.Logger}
	go func() { srv.done <- srv.http.Serve(pl) }()
	return srv, nil
}

// Path returns the socket's path.
func (srv *Server) Path() string { return srv.opts.SocketPath }

// Shutdown stops accepting, waits for running operations until ctx ends,
// and removes the socket. Later calls return the first call's error.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.once.Do(func() {
		err := srv.http.Shutdown(ctx)
		if serr := <-srv.done; err == nil && !errors.Is(serr, http.ErrServerClosed) {
			err = serr
		}
		srv.stopErr = err
	})
	return srv.stopErr
}

// Close shuts the server down, giving running operations 30 seconds, and
// removes the socket. It is what a service calls on a clean shutdown.
func (srv *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

type peerKey struct{}

// opContext tags ctx with the peer's actor and the request ID the client
// sent. A request with no peer (which the listener never hands out) is
// refused.
func opContext(r *http.Request) (context.Context, error) {
	p, ok := r.Context().Value(peerKey{}).(Peer)
	if !ok {
		return nil, &PeerError{Err: errors.New("no credentials")}
	}
	id := r.Header.Get(headerRequestID)
	return redaction.WithRequest(r.Context(), redaction.Request{ID: id, Actor: p.Actor()}), nil
}

const headerRequestID = "Cdrvault-Request-Id"

// wireError is an error on the wire.
type wireError struct {
	Code    string       `json:"code,omitempty"`
	Message string       `json:"message"`
	Details []wireDetail `json:"details,omitempty"`
}

func toWire(err error) *wireError {
	return &wireError{Code: codeOf(err), Message: err.Error(), Details: detailsOf(err)}
}

// err is the error the client returns for we.
func (we *wireError) err() error {
	return &RemoteError{Code: we.Code, Message: we.Message, Details: rebuild(we.Details)}
}

// frame is one line of a stream: an item, the end (with the result), or
// an error that ends it.
type frame struct {
	Item  json.RawMessage `json:"item,omitempty"`
	End   json.RawMessage `json:"end,omitempty"`
	Error *wireError      `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrPeerRefused):
		return http.StatusForbidden
	case errors.Is(err, cdrstore.ErrNotFound):
		return http.StatusNotFound
	case codeOf(err) != "":
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// badJSON is the error of a request's JSON (what: its body, its options)
// that did not decode, masked: the decoder's text may quote the caller's
// field name, which may be a number.
func badJSON(what string, err error) error {
	return fmt.Errorf("control: bad %s: %s: %w", what, e164.MaskText(err.Error()), cdrstore.ErrInvalidRecord)
}

// decode reads a bounded JSON body into v; unknown fields are refused.
func decode(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return badJSON("request body", err)
	}
	return nil
}

// handle serves operation name: a JSON request in, a JSON result out.
func handle[Req, Res any](srv *Server, name string, fn func(ctx context.Context, req Req) (Res, error)) {
	srv.mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
		ctx, err := opContext(r)
		var req Req
		if err == nil {
			err = decode(w, r, srv.opts.MaxBodyBytes, &req)
		}
		var res Res
		if err == nil {
			res, err = fn(ctx, req)
		}
		if err != nil {
			srv.opts.Logger.Info("control: operation failed", "op", name, "code", codeOf(err))
			writeJSON(w, statusOf(err), toWire(err))
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// frameWriter writes the frames of a stream (JSON Lines: items, then the
// end or an error) through a 64 KiB buffer.
type frameWriter struct {
	w   http.ResponseWriter
	bw  *bufio.Writer
	enc *json.Encoder
}

// startFrames answers 200 and returns the writer of the stream's frames.
func startFrames(w http.ResponseWriter) *frameWriter {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &frameWriter{w: w, bw: bw, enc: enc}
}

// item writes the frame of v, encoding it once (the newline the encoder
// ends v with is whitespace inside the frame).
func (f *frameWriter) item(v any) error {
	f.bw.WriteString(`{"item":`)
	if err := f.enc.Encode(v); err != nil {
		return err
	}
	_, err := f.bw.WriteString("}\n")
	return err
}

// flush sends what is buffered now.
func (f *frameWriter) flush() error {
	if err := f.bw.Flush(); err != nil {
		return err
	}
	return http.NewResponseController(f.w).Flush()
}

// finish writes the end frame with res, or the error frame of err.
func (f *frameWriter) finish(res any, err error) {
	if err == nil {
		var raw []byte
		if raw, err = json.Marshal(res); err == nil {
			f.enc.Encode(frame{End: raw})
		}
	}
	if err != nil {
		f.enc.Encode(frame{Error: toWire(err)})
	}
	f.bw.Flush()
}

// handleStream serves a streaming operation: a JSON request in, JSON
// Lines out (frames: items, then the end or an error).
func handleStream[Req, Item, Res any](srv *Server, name string, fn func(ctx context.Context, req Req, emit func(Item) error) (Res, error)) {
	srv.mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
		ctx, err := opContext(r)
		var req Req
		if err == nil {
			err = decode(w, r, srv.opts.MaxBodyBytes, &req)
		}
		if err != nil {
			writeJSON(w, statusOf(err), toWire(err))
			return
		}
		fw := startFrames(w)
		res, err := fn(ctx, req, func(it Item) error { return fw.item(it) })
		fw.finish(res, err)
	})
}

// handleDuplex serves an operation whose request body streams in while its
// frames stream out (ingest, drain): options come in the Cdrvault-Options
// header as JSON.
func handleDuplex[Opt any](srv *Server, name string, fn func(ctx context.Context, o Opt, body io.Reader, fw *frameWriter) (any, error)) {
	srv.mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
		ctx, err := opContext(r)
		var o Opt
		if err == nil {
			if raw := r.Header.Get(headerOptions); raw != "" {
				if jerr := json.Unmarshal([]byte(raw), &o); jerr != nil {
					err = badJSON("options", jerr)
				}
			}
		}
		if err == nil {
			err = http.NewResponseController(w).EnableFullDuplex()
		}
		if err != nil {
			writeJSON(w, statusOf(err), toWire(err))
			return
		}
		fw := startFrames(w)
		if err := fw.flush(); err != nil {
			return
		}
		res, err := fn(ctx, o, r.Body, fw)
		fw.finish(res, err)
	})
}

const headerOptions = "Cdrvault-Options"

// headerBytes is the trailer of a backup: the bytes the service wrote, so
// the client knows the copy is whole.
const headerBytes = "Cdrvault-Bytes"

// serveBackup writes the backup to a spool file beside the store first,
// so the read transaction lasts as long as the compaction and not as long
// as the client takes to read; then it streams the file and removes it.
func (srv *Server) serveBackup(w http.ResponseWriter, r *http.Request) {
	ctx, err := opContext(r)
	var spool *os.File
	if err == nil {
		spool, err = os.CreateTemp(filepath.Dir(srv.local.s.Path()), ".cdrvault-backup-*")
	}
	if err != nil {
		writeJSON(w, statusOf(err), toWire(err))
		return
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	n, err := srv.local.Backup(ctx, spool)
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	if err != nil {
		writeJSON(w, statusOf(err), toWire(err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", headerBytes)
	w.WriteHeader(http.StatusOK)
	if copied, err := io.Copy(w, spool); err == nil && copied == n {
		w.Header().Set(headerBytes, strconv.FormatInt(n, 10))
	}
}

// None is the request or result of an operation that has none.
type None struct{}

type wsReq struct {
	Workspace string `json:"workspace"`
}

type getReq struct {
	Workspace string `json:"workspace"`
	ID        string `json:"id"`
}

type exportReq struct {
	Workspace string      `json:"workspace"`
	Number    e164.Number `json:"number"`
}

// exportItem is a frame of an export: the head first, then records.
type exportItem struct {
	Head   *Subject        `json:"head,omitempty"`
	Record *cdrjson.Record `json:"record,omitempty"`
}

type eraseReq struct {
	Workspace string      `json:"workspace"`
	Number    e164.Number `json:"number"`
	Reason    string      `json:"reason"`
	DryRun    bool        `json:"dry_run"`
}

type redactReq struct {
	Workspace string             `json:"workspace"`
	ID        string             `json:"id"`
	Product   cdrstore.Product   `json:"product"`
	Direction cdrstore.Direction `json:"direction"`
}

type optOutReq struct {
	Workspace string      `json:"workspace"`
	Number    e164.Number `json:"number"`
	Change    string      `json:"change"`
}

type addKeyReq struct {
	Workspace string             `json:"workspace"`
	Products  []cdrstore.Product `json:"products"`
}

type revokeKeyReq struct {
	Workspace string `json:"workspace"`
	Key       string `json:"key"`
}

type setSettingsReq struct {
	Workspace string             `json:"workspace"`
	Settings  redaction.Settings `json:"settings"`
}

type asOfReq struct {
	AsOf time.Time              `json:"as_of"`
	O    redaction.SweepOptions `json:"options"`
}

// routes registers every operation: each calls its Local method.
func (srv *Server) routes() {
	l := srv.local
	handle(srv, "ping", func(ctx context.Context, _ None) (None, error) { return None{}, nil })
	handle(srv, "stats", func(ctx context.Context, _ None) (Stats, error) { return l.Stats(ctx) })
	handle(srv, "get", func(ctx context.Context, q getReq) (cdrjson.Record, error) { return l.Get(ctx, q.Workspace, q.ID) })
	handleStream(srv, "search", l.Search)
	handleStream(srv, "export", func(ctx context.Context, q exportReq, emit func(exportItem) error) (None, error) {
		return None{}, l.Export(ctx, q.Workspace, q.Number,
			func(s Subject) error { return emit(exportItem{Head: &s}) },
			func(r cdrjson.Record) error { return emit(exportItem{Record: &r}) })
	})
	handle(srv, "erase", func(ctx context.Context, q eraseReq) (redaction.EraseResult, error) {
		return l.EraseContact(ctx, q.Workspace, q.Number, q.Reason, q.DryRun)
	})
	handle(srv, "redact", func(ctx context.Context, q redactReq) (redaction.Result, error) {
		return l.RedactByID(ctx, q.Workspace, q.ID, q.Product, q.Direction)
	})
	handle(srv, "optout", func(ctx context.Context, q optOutReq) (OptOutStatus, error) {
		return l.OptOut(ctx, q.Workspace, q.Number, q.Change)
	})
	handle(srv, "hold", l.Hold)
	handle(srv, "keys/add", func(ctx context.Context, q addKeyReq) (newKey, error) { return l.AddKey(ctx, q.Workspace, q.Products) })
	handle(srv, "keys/revoke", func(ctx context.Context, q revokeKeyReq) (None, error) {
		return None{}, l.RevokeKey(ctx, q.Workspace, q.Key)
	})
	handle(srv, "keys/list", func(ctx context.Context, q wsReq) ([]credential, error) { return l.ListKeys(ctx, q.Workspace) })
	handle(srv, "settings", func(ctx context.Context, q wsReq) (redaction.Settings, error) { return l.Settings(ctx, q.Workspace) })
	handle(srv, "settings/set", func(ctx context.Context, q setSettingsReq) (redaction.Result, error) {
		return l.SetSettings(ctx, q.Workspace, q.Settings)
	})
	handle(srv, "check", func(ctx context.Context, _ None) (Report, error) { return l.Check(ctx) })
	handle(srv, "audit/verify", func(ctx context.Context, q wsReq) (verifyRes, error) {
		st, err := l.VerifyAudit(ctx, q.Workspace)
		res := verifyRes{Chains: st}
		if err != nil {
			res.Err = toWire(err)
		}
		return res, nil
	})
	handleStream(srv, "audit/list", func(ctx context.Context, q AuditQuery, emit func(AuditLine) error) (None, error) {
		return None{}, l.AuditList(ctx, q, emit)
	})
	handle(srv, "autoredact", func(ctx context.Context, q asOfReq) (redaction.AutoRedactResult, error) {
		return l.AutoRedact(ctx, q.AsOf)
	})
	handle(srv, "sweep", func(ctx context.Context, q asOfReq) (redaction.SweepResult, error) { return l.Sweep(ctx, q.AsOf, q.O) })
	handle(srv, "scrub", func(ctx context.Context, _ None) (cdrstore.ScrubResult, error) { return l.Scrub(ctx) })
	handleDuplex(srv, "ingest", func(ctx context.Context, o IngestOptions, body io.Reader, fw *frameWriter) (any, error) {
		res, err := l.Ingest(ctx, body, o, func(ev IngestEvent) error {
			if err := fw.item(ev); err != nil {
				return err
			}
			if ev.Progress != nil {
				return fw.flush()
			}
			return nil
		})
		if err != nil {
			fw.item(IngestEvent{Progress: &res}) // the counts, with the error
		}
		return res, err
	})
	handleDuplex(srv, "drain", func(ctx context.Context, q wsReq, body io.Reader, fw *frameWriter) (any, error) {
		acks := bufio.NewReader(body)
		return l.Drain(ctx, q.Workspace, func(url string) error {
			if err := fw.item(url); err != nil {
				return err
			}
			if err := fw.flush(); err != nil {
				return err
			}
			ack, err := acks.ReadString('\n')
			if err != nil {
				return err
			}
			if ack != ackOK {
				return errors.New("control: drain: the client did not write it out")
			}
			return nil
		})
	})
	srv.mux.HandleFunc("POST /v1/backup", srv.serveBackup)
	handle(srv, "workspaces", func(ctx context.Context, q wsReq) ([]WorkspaceStats, error) { return l.Workspaces(ctx, q.Workspace) })
	handle(srv, "workspaces/create", func(ctx context.Context, q wsReq) (bool, error) { return l.CreateWorkspace(ctx, q.Workspace) })
	handle(srv, "compact", func(ctx context.Context, _ None) (cdrstore.CompactResult, error) { return l.Compact(ctx) })
	handle(srv, "unlinked", func(ctx context.Context, _ None) (map[string]int, error) { return l.Unlinked(ctx) })
	handle(srv, "unlinked/discard", func(ctx context.Context, q wsReq) (redaction.Result, error) {
		return l.DiscardUnlinked(ctx, q.Workspace)
	})
	handle(srv, "delete", func(ctx context.Context, q deleteReq) (redaction.Result, error) {
		return l.Delete(ctx, q.Workspace, q.ID, q.Conversation)
	})
}

type deleteReq struct {
	Workspace    string `json:"workspace"`
	ID           string `json:"id,omitempty"`
	Conversation string `json:"conversation,omitempty"`
}

// ackOK is the client's line acknowledging that it wrote out a drained URL.
const ackOK = "ok\n"

// verifyRes carries the chains verified before a failure, and the failure.
type verifyRes struct {
	Chains []ChainStatus `json:"chains"`
	Err    *wireError    `json:"error,omitempty"`
}
