package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/apikeys"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
)

// Client runs the operations in the service holding a store, through its
// control socket. It is safe for concurrent use.
type Client struct {
	path string
	http *http.Client
}

var _ Ops = (*Client)(nil)

// Dial connects to the control socket at path and checks that a service
// answers there. Every connection checks the server's credentials before
// a byte is sent: a process running as neither this user, nor root, nor
// one of the trusted uids (cdradmin passes the store file's owner, so
// root reaches a service run by the store's owner) is
// ErrUntrustedServer. Nothing listening is ErrNoService.
func Dial(ctx context.Context, path string, trusted ...uint32) (*Client, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
				return nil, fmt.Errorf("%w: %s", ErrNoService, path)
			}
			return nil, err
		}
		uc := c.(*net.UnixConn)
		p, err := peerCred(uc)
		if err := trustServer(p, err, append(trusted, uint32(os.Geteuid()))); err != nil {
			uc.Close()
			return nil, err
		}
		return uc, nil
	}
	c := &Client{path: path, http: &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}}
	if _, err := call[None, None](ctx, c, "ping", None{}); err != nil {
		return nil, err
	}
	return c, nil
}

// trustServer is the client's rule: the server runs as root or as one of
// the trusted uids (this user's among them); unreadable credentials are
// not trusted.
func trustServer(p Peer, credErr error, trusted []uint32) error {
	if credErr != nil {
		return fmt.Errorf("%w: credentials unreadable: %v", ErrUntrustedServer, credErr)
	}
	if p.UID != 0 && !slices.Contains(trusted, p.UID) {
		return fmt.Errorf("%w: uid %d pid %d", ErrUntrustedServer, p.UID, p.PID)
	}
	return nil
}

// Close closes idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// post sends req to operation name and returns the open response, or the
// error the service answered with.
func post(ctx context.Context, c *Client, name string, req any) (*http.Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return send(ctx, c, name, bytes.NewReader(body), "")
}

// send posts body to operation name, with options (JSON) in a header when
// given.
func send(ctx context.Context, c *Client, name string, body io.Reader, options string) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, "POST", "http://control/v1/"+name, body)
	if err != nil {
		return nil, err
	}
	if options != "" {
		hr.Header.Set(headerOptions, options)
	}
	hr.Header.Set("Content-Type", "application/json")
	if id := redaction.RequestFrom(ctx).ID; id != "" {
		hr.Header.Set(headerRequestID, id)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		if errors.Is(err, ErrNoService) || errors.Is(err, ErrUntrustedServer) || ctx.Err() != nil {
			return nil, err
		}
		return nil, lost(name, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var we wireError
		if err := json.NewDecoder(resp.Body).Decode(&we); err != nil || we.Message == "" {
			return nil, fmt.Errorf("control: %s: service answered %s", name, resp.Status)
		}
		return nil, we.err()
	}
	return resp, nil
}

// lost is the error of a service that stopped answering during name.
func lost(name string, err error) error {
	return fmt.Errorf("%w during %s: it may or may not have been applied (a retry with the same request ID is safe): %v", ErrServiceLost, name, err)
}

func call[Req, Res any](ctx context.Context, c *Client, name string, req Req) (Res, error) {
	var res Res
	resp, err := post(ctx, c, name, req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, lost(name, err)
	}
	return res, nil
}

// stream runs a streaming operation, handing each item to emit; a stream
// that ends without its end frame is ErrServiceLost.
func stream[Req, Item, Res any](ctx context.Context, c *Client, name string, req Req, emit func(Item) error) (Res, error) {
	resp, err := post(ctx, c, name, req)
	if err != nil {
		var res Res
		return res, err
	}
	return readFrames[Item, Res](ctx, resp, name, emit)
}

// typedFrame is a frame decoded in one pass into its item or result type.
type typedFrame[Item, Res any] struct {
	Item  *Item      `json:"item"`
	End   *Res       `json:"end"`
	Error *wireError `json:"error"`
}

// readFrames reads the frames of resp.
func readFrames[Item, Res any](ctx context.Context, resp *http.Response, name string, emit func(Item) error) (Res, error) {
	var res Res
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		var f typedFrame[Item, Res]
		if err := dec.Decode(&f); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return res, lost(name, err)
		}
		switch {
		case f.Error != nil:
			return res, f.Error.err()
		case f.End != nil:
			return *f.End, nil
		case f.Item == nil:
			return res, lost(name, errors.New("empty frame"))
		}
		if err := emit(*f.Item); err != nil {
			return res, err
		}
	}
}

// Stats runs Local.Stats in the service.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	return call[None, Stats](ctx, c, "stats", None{})
}

// Get runs Local.Get in the service.
func (c *Client) Get(ctx context.Context, ws, id string) (cdrjson.Record, error) {
	return call[getReq, cdrjson.Record](ctx, c, "get", getReq{ws, id})
}

// Search runs Local.Search in the service.
func (c *Client) Search(ctx context.Context, q Search, emit func(SearchItem) error) (SearchEnd, error) {
	return stream[Search, SearchItem, SearchEnd](ctx, c, "search", q, emit)
}

// Export runs Local.Export in the service.
func (c *Client) Export(ctx context.Context, ws string, n e164.Number, head func(Subject) error, emit func(cdrjson.Record) error) error {
	_, err := stream[exportReq, exportItem, None](ctx, c, "export", exportReq{ws, n}, func(it exportItem) error {
		if it.Head != nil {
			return head(*it.Head)
		}
		if it.Record == nil {
			return lost("export", errors.New("empty item"))
		}
		return emit(*it.Record)
	})
	return err
}

// EraseContact runs Local.EraseContact in the service.
func (c *Client) EraseContact(ctx context.Context, ws string, n e164.Number, reason string, dryRun bool) (redaction.EraseResult, error) {
	return call[eraseReq, redaction.EraseResult](ctx, c, "erase", eraseReq{ws, n, reason, dryRun})
}

// RedactByID runs Local.RedactByID in the service.
func (c *Client) RedactByID(ctx context.Context, ws, id string, p cdrstore.Product, d cdrstore.Direction) (redaction.Result, error) {
	return call[redactReq, redaction.Result](ctx, c, "redact", redactReq{ws, id, p, d})
}

// OptOut runs Local.OptOut in the service.
func (c *Client) OptOut(ctx context.Context, ws string, n e164.Number, change string) (OptOutStatus, error) {
	return call[optOutReq, OptOutStatus](ctx, c, "optout", optOutReq{ws, n, change})
}

// Hold runs Local.Hold in the service.
func (c *Client) Hold(ctx context.Context, ch HoldChange) ([]redaction.Hold, error) {
	return call[HoldChange, []redaction.Hold](ctx, c, "hold", ch)
}

// AddKey runs Local.AddKey in the service.
func (c *Client) AddKey(ctx context.Context, ws string, products []cdrstore.Product) (apikeys.NewKey, error) {
	return call[addKeyReq, apikeys.NewKey](ctx, c, "keys/add", addKeyReq{ws, products})
}

// RevokeKey runs Local.RevokeKey in the service.
func (c *Client) RevokeKey(ctx context.Context, ws, keyID string) error {
	_, err := call[revokeKeyReq, None](ctx, c, "keys/revoke", revokeKeyReq{ws, keyID})
	return err
}

// ListKeys runs Local.ListKeys in the service.
func (c *Client) ListKeys(ctx context.Context, ws string) ([]apikeys.Credential, error) {
	return call[wsReq, []apikeys.Credential](ctx, c, "keys/list", wsReq{ws})
}

// Settings runs Local.Settings in the service.
func (c *Client) Settings(ctx context.Context, ws string) (redaction.Settings, error) {
	return call[wsReq, redaction.Settings](ctx, c, "settings", wsReq{ws})
}

// SetSettings runs Local.SetSettings in the service.
func (c *Client) SetSettings(ctx context.Context, ws string, s redaction.Settings) (redaction.Result, error) {
	return call[setSettingsReq, redaction.Result](ctx, c, "settings/set", setSettingsReq{ws, s})
}

// Check runs Local.Check in the service.
func (c *Client) Check(ctx context.Context) (Report, error) {
	return call[None, Report](ctx, c, "check", None{})
}

// VerifyAudit runs Local.VerifyAudit in the service.
func (c *Client) VerifyAudit(ctx context.Context, ws string) ([]ChainStatus, error) {
	res, err := call[wsReq, verifyRes](ctx, c, "audit/verify", wsReq{ws})
	if err == nil && res.Err != nil {
		err = res.Err.err()
	}
	return res.Chains, err
}

// AuditList runs Local.AuditList in the service.
func (c *Client) AuditList(ctx context.Context, q AuditQuery, emit func(AuditLine) error) error {
	_, err := stream[AuditQuery, AuditLine, None](ctx, c, "audit/list", q, emit)
	return err
}

// AutoRedact runs Local.AutoRedact in the service.
func (c *Client) AutoRedact(ctx context.Context, asOf time.Time) (redaction.AutoRedactResult, error) {
	return call[asOfReq, redaction.AutoRedactResult](ctx, c, "autoredact", asOfReq{AsOf: asOf})
}

// Sweep runs Local.Sweep in the service.
func (c *Client) Sweep(ctx context.Context, asOf time.Time, o redaction.SweepOptions) (redaction.SweepResult, error) {
	return call[asOfReq, redaction.SweepResult](ctx, c, "sweep", asOfReq{AsOf: asOf, O: o})
}

// Scrub runs Local.Scrub in the service.
func (c *Client) Scrub(ctx context.Context) (cdrstore.ScrubResult, error) {
	return call[None, cdrstore.ScrubResult](ctx, c, "scrub", None{})
}

// Ingest runs Local.Ingest in the service, streaming in to it as it reads
// it. If this process dies mid-stream, the service writes none of the
// batch it was reading.
func (c *Client) Ingest(ctx context.Context, in io.Reader, o IngestOptions, event func(IngestEvent) error) (IngestResult, error) {
	opt, err := json.Marshal(o)
	if err != nil {
		return IngestResult{}, err
	}
	resp, err := send(ctx, c, "ingest", io.NopCloser(in), string(opt))
	if err != nil {
		return IngestResult{}, err
	}
	var last IngestResult
	res, err := readFrames[IngestEvent, IngestResult](ctx, resp, "ingest", func(ev IngestEvent) error {
		if ev.Progress != nil {
			last = *ev.Progress
		}
		return event(ev)
	})
	if err != nil {
		return last, err
	}
	return res, nil
}

// Backup runs Local.Backup in the service and copies what it wrote to w.
// A copy cut short is ErrServiceLost: the caller must not keep what it got.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := post(ctx, c, "backup", None{})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, lost("backup", err)
	}
	if want := resp.Trailer.Get(headerBytes); want != strconv.FormatInt(n, 10) {
		return n, lost("backup", fmt.Errorf("got %d bytes, the service wrote %q", n, want))
	}
	return n, nil
}

// Drain runs Local.Drain in the service: each URL comes here, and the
// service removes its outbox entry only after handOver returned nil and
// this client acknowledged it. A client that dies leaves the entries it
// did not acknowledge in the outbox.
func (c *Client) Drain(ctx context.Context, ws string, handOver func(url string) error) (redaction.DrainResult, error) {
	opt, err := json.Marshal(wsReq{ws})
	if err != nil {
		return redaction.DrainResult{}, err
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	resp, err := send(ctx, c, "drain", pr, string(opt))
	if err != nil {
		return redaction.DrainResult{}, err
	}
	return readFrames[string, redaction.DrainResult](ctx, resp, "drain", func(url string) error {
		ack := ackOK
		if err := handOver(url); err != nil {
			ack = "failed\n"
		}
		_, err := io.WriteString(pw, ack)
		return err
	})
}

// Workspaces runs Local.Workspaces in the service.
func (c *Client) Workspaces(ctx context.Context, ws string) ([]WorkspaceStats, error) {
	return call[wsReq, []WorkspaceStats](ctx, c, "workspaces", wsReq{ws})
}

// CreateWorkspace runs Local.CreateWorkspace in the service.
func (c *Client) CreateWorkspace(ctx context.Context, ws string) (bool, error) {
	return call[wsReq, bool](ctx, c, "workspaces/create", wsReq{ws})
}

// Delete runs Local.Delete in the service.
func (c *Client) Delete(ctx context.Context, ws, id, conv string) (redaction.Result, error) {
	return call[deleteReq, redaction.Result](ctx, c, "delete", deleteReq{ws, id, conv})
}

// Unlinked runs Local.Unlinked in the service.
func (c *Client) Unlinked(ctx context.Context) (map[string]int, error) {
	return call[None, map[string]int](ctx, c, "unlinked", None{})
}

// DiscardUnlinked runs Local.DiscardUnlinked in the service.
func (c *Client) DiscardUnlinked(ctx context.Context, ws string) (redaction.Result, error) {
	return call[wsReq, redaction.Result](ctx, c, "unlinked/discard", wsReq{ws})
}

// Compact runs Local.Compact in the service.
func (c *Client) Compact(ctx context.Context) (cdrstore.CompactResult, error) {
	return call[None, cdrstore.CompactResult](ctx, c, "compact", None{})
}
