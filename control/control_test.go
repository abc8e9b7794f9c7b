package control_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var (
	ada  = e164.MustParse("+2348031234567", "")
	plat = e164.MustParse("+14155552671", "")
)

// TestMain doubles as the child of TestOtherUIDIsRefused: with
// CONTROL_TEST_DIAL set, it connects to that socket as the uid it was
// started with, sends a request and prints what came back.
func TestMain(m *testing.M) {
	if path := os.Getenv("CONTROL_TEST_DIAL"); path != "" {
		c, err := net.Dial("unix", path)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(0)
		}
		fmt.Fprint(c, "POST /v1/stats HTTP/1.1\r\nHost: control\r\nContent-Length: 2\r\n\r\n{}")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		fmt.Printf("read %d bytes: %q err=%v\n", len(got), got, err)
		os.Exit(0)
	}
	storetest.Main(m)
}

type fixture struct {
	s   *cdrstore.Store
	rd  *redaction.Redactor
	srv *control.Server
	log *lockedBuffer
}

// lockedBuffer is the server's log, read by the test while the server
// may write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func setup(t *testing.T, n int) *fixture {
	t.Helper()
	s := storetest.Open(t, nil)
	recs := make([]cdrstore.Record, n)
	for i := range recs {
		recs[i] = cdrstore.Record{ID: fmt.Sprintf("rec-%05d", i), Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
			From: plat, To: ada, Body: "hello", StartedAt: storetest.Epoch.Add(-time.Duration(n-i) * time.Minute)}
	}
	require.NoError(t, s.PutBatch(recs))
	rd := redaction.New(s, nil)
	log := &lockedBuffer{}
	srv, err := control.Start(rd, &control.Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return &fixture{s: s, rd: rd, srv: srv, log: log}
}

func dial(t *testing.T, f *fixture) *control.Client {
	t.Helper()
	c, err := control.Dial(context.Background(), f.srv.Path())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSocketIsOwnerOnlyAndRemovedOnClose(t *testing.T) {
	f := setup(t, 1)
	path := control.SocketPath(f.s.Path())
	require.Equal(t, path, f.srv.Path())
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSocket)
	assert.Zero(t, fi.Mode().Perm()&0o077, "no access for group or others: %v", fi.Mode())

	require.NoError(t, f.srv.Close())
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = control.Dial(context.Background(), path)
	assert.ErrorIs(t, err, control.ErrNoService)
}

func TestStartReplacesOnlyAStaleSocket(t *testing.T) {
	s := storetest.Open(t, nil)
	path := control.SocketPath(s.Path())

	// A socket nothing answers on, left by a process that died.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	ln.Close()
	srv, err := control.Start(redaction.New(s, nil), nil)
	require.NoError(t, err, "the lock holder replaces a stale socket")
	_, err = control.Start(redaction.New(s, nil), nil)
	assert.ErrorIs(t, err, control.ErrSocketTaken, "a live one is not replaced")
	require.NoError(t, srv.Close())

	// A file that is not a socket is never removed.
	require.NoError(t, os.WriteFile(path, []byte("mine"), 0o600))
	_, err = control.Start(redaction.New(s, nil), nil)
	assert.ErrorIs(t, err, control.ErrSocketTaken)
	got, _ := os.ReadFile(path)
	assert.Equal(t, "mine", string(got))
}

func TestStartNeedsTheLock(t *testing.T) {
	s := storetest.Open(t, nil)
	path := s.Path()
	require.NoError(t, s.Close())
	ro, err := cdrstore.Open(path, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	_, err = control.Start(redaction.New(ro, nil), nil)
	assert.ErrorIs(t, err, cdrstore.ErrReadOnly, "a shared (read-only) lock does not own the socket")
	_, err = os.Lstat(control.SocketPath(path))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestSocketPathTooLong(t *testing.T) {
	s := storetest.Open(t, nil)
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 120)+".ctl")
	_, err := control.Start(redaction.New(s, nil), &control.Options{SocketPath: long})
	require.ErrorIs(t, err, control.ErrPathTooLong)
	var pe *control.PathTooLongError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 107, pe.Max)
	assert.Contains(t, err.Error(), "shorter path", "the error says how to fix it")
	_, err = control.Dial(context.Background(), long)
	assert.ErrorIs(t, err, control.ErrPathTooLong)
}

// TestOtherUIDIsRefused runs a real client as nobody against a socket
// opened up to everyone, so that only the peer credential check stands
// between them: the client reads nothing and the refusal is logged.
func TestOtherUIDIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as nobody")
	}
	f := setup(t, 1)
	dir := filepath.Dir(f.srv.Path())
	for _, p := range []string{dir, filepath.Dir(dir), f.srv.Path()} {
		require.NoError(t, os.Chmod(p, 0o777))
	}
	before := storetest.AuditEntries(t, f.s, "acme")
	// nobody cannot enter the build directory: run a copy of this binary.
	bin := filepath.Join(dir, "client.test")
	raw, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, raw, 0o755))
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "CONTROL_TEST_DIAL="+f.srv.Path())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "read 0 bytes", "the refused peer gets nothing back")
	assert.Contains(t, f.log.String(), "peer refused")
	assert.Contains(t, f.log.String(), "uid=65534")
	assert.Equal(t, before, storetest.AuditEntries(t, f.s, "acme"))
}

func TestOperationsThroughTheSocket(t *testing.T) {
	f := setup(t, 3)
	c := dial(t, f)
	local := control.NewLocal(f.rd)
	ctx := context.Background()

	remote, err := c.Stats(ctx)
	require.NoError(t, err)
	want, err := local.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, remote)

	r, err := c.Get(ctx, "acme", "rec-00001")
	require.NoError(t, err)
	assert.Equal(t, ada.String(), r.To)

	// Errors keep their class and their text.
	_, lerr := local.Get(ctx, "acme", "nope")
	_, rerr := c.Get(ctx, "acme", "nope")
	require.ErrorIs(t, rerr, cdrstore.ErrNotFound)
	assert.Equal(t, lerr.Error(), rerr.Error())
	_, rerr = c.EraseContact(ctx, "acme", ada, "NOT A CODE", false)
	assert.ErrorIs(t, rerr, redaction.ErrInvalidReason)

	// An erasure is visible to the service's next read, and its audit
	// entry names the peer.
	res, err := c.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "req-1"}), "acme", ada, "gdpr_art17", false)
	require.NoError(t, err)
	assert.Equal(t, 3, res.RecordsAffected)
	got, err := f.s.Get("acme", "rec-00002")
	require.NoError(t, err)
	assert.NotEqual(t, "hello", got.Body)
	entries := storetest.AuditEntries(t, f.s, "acme")
	last := entries[len(entries)-1]
	assert.Equal(t, fmt.Sprintf("cdradmin uid=%d pid=%d", os.Geteuid(), os.Getpid()), last.Actor)
	assert.NotEmpty(t, last.RequestID, "the request ID crossed the socket")
	again, err := c.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "req-1"}), "acme", ada, "gdpr_art17", false)
	require.NoError(t, err)
	assert.True(t, again.Replayed, "the same request ID replays the first result")
}

func TestStreamsPageThroughBoundedTransactions(t *testing.T) {
	n := control.PageSize*2 + 17
	f := setup(t, n)
	c := dial(t, f)
	ctx := context.Background()

	var ids []string
	var head control.Subject
	err := c.Export(ctx, "acme", ada, func(s control.Subject) error { head = s; return nil },
		func(r cdrjson.Record) error { ids = append(ids, r.ID); return nil })
	require.NoError(t, err)
	assert.Equal(t, ada.String(), head.E164)
	require.Len(t, ids, n)
	assert.Equal(t, "rec-00000", ids[0])
	assert.Equal(t, fmt.Sprintf("rec-%05d", n-1), ids[n-1])

	count := 0
	end, err := c.Search(ctx, control.Search{Workspace: "acme", Number: ada, Query: cdrstore.Query{Limit: n - 5}},
		func(it control.SearchItem) error { count++; return nil })
	require.NoError(t, err)
	assert.Equal(t, n-5, count)
	assert.NotEmpty(t, end.Cursor, "a search stopped at its limit says where to resume")

	// A reader that stops mid-stream leaves no transaction open: a write
	// commits while the stream is parked in emit.
	parked := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		seen := 0
		done <- c.Export(ctx, "acme", ada, func(control.Subject) error { return nil }, func(cdrjson.Record) error {
			if seen++; seen == 10 {
				close(parked)
				<-resume
			}
			return nil
		})
	}()
	<-parked
	_, err = f.rd.OptOut(ctx, "acme", plat)
	require.NoError(t, err, "the service writes while a client is stopped mid-export")
	close(resume)
	require.NoError(t, <-done)
}

// A client that dies mid-stream (its connection closed with no goodbye,
// as kill -9 leaves it) leaves the service answering and the store
// whole: an ingest keeps only the batches it committed, a backup leaves
// no spool file, an export holds nothing open.
func TestClientGoneMidStream(t *testing.T) {
	f := setup(t, 2500)
	c := dial(t, f)
	ctx := context.Background()
	path := f.srv.Path()

	lines := make([]string, 15)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"id":"new-%02d","workspace":"fresh","product":"sms","direction":"outbound","from":"+14155552671","to":"+2348031234567","started_at":"2026-01-01T00:00:%02dZ"}`, i, i)
	}
	// Ingest in batches of 10: the first 10 lines commit, the 5 after them
	// are cut off with the connection.
	body := strings.Join(lines, "\n") + "\n"
	conn, err := net.Dial("unix", path)
	require.NoError(t, err)
	fmt.Fprintf(conn, "POST /v1/ingest HTTP/1.1\r\nHost: control\r\nTransfer-Encoding: chunked\r\n%s: {\"batch\":10}\r\n\r\n%x\r\n%s\r\n", "Cdrvault-Options", len(body), body)
	buf := make([]byte, 4096)
	got := ""
	for !strings.Contains(got, `"stored":10`) {
		n, err := conn.Read(buf)
		require.NoError(t, err, "progress after the first batch; got %q", got)
		got += string(buf[:n])
	}
	conn.Close()

	// Backup and export cut off after the first bytes.
	for _, req := range []string{"POST /v1/backup HTTP/1.1\r\nHost: control\r\nContent-Length: 2\r\n\r\n{}",
		"POST /v1/export HTTP/1.1\r\nHost: control\r\nContent-Length: 54\r\n\r\n" + `{"workspace":"acme","number":"+2348031234567"}` + "        "} {
		conn, err := net.Dial("unix", path)
		require.NoError(t, err)
		fmt.Fprint(conn, req)
		_, err = conn.Read(buf)
		require.NoError(t, err)
		conn.Close()
	}

	// The service answers, and the store holds the committed batch only.
	require.Eventually(t, func() bool {
		st, err := c.Stats(ctx)
		require.NoError(t, err)
		for _, w := range st.Workspaces {
			if w.Workspace == "fresh" {
				return w.Records == 10
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	_, err = f.rd.OptOut(ctx, "acme", plat)
	require.NoError(t, err, "the service still writes")
	require.NoError(t, f.s.Check(ctx))
	require.Eventually(t, func() bool {
		spools, _ := filepath.Glob(filepath.Join(filepath.Dir(f.s.Path()), ".cdrvault-backup-*"))
		return len(spools) == 0
	}, 10*time.Second, 10*time.Millisecond, "no spool file is left behind")
}

// A service that dies in the middle of a command leaves the operator an
// error that says the command may or may not have been applied.
func TestServiceGoneMidCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.ctl")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/ping", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	mux.HandleFunc("POST /v1/erase", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close() // gone before answering
		}
	})
	mux.HandleFunc("POST /v1/export", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"item":{"head":{"workspace":"acme","e164":"+2348031234567","opted_out":false}}}` + "\n"))
	})
	go http.Serve(ln, mux)
	t.Cleanup(func() { ln.Close() })

	c, err := control.Dial(context.Background(), path)
	require.NoError(t, err)
	_, err = c.EraseContact(context.Background(), "acme", ada, "gdpr_art17", false)
	require.ErrorIs(t, err, control.ErrServiceLost)
	assert.Contains(t, err.Error(), "may or may not have been applied")

	err = c.Export(context.Background(), "acme", ada, func(control.Subject) error { return nil }, func(cdrjson.Record) error { return nil })
	require.ErrorIs(t, err, control.ErrServiceLost, "a stream that ends without its end frame is incomplete")
}

// Audit list pages through read transactions in both orders and gives
// the entries a single read would: the newest Limit after After, newest
// first, or the oldest Limit after After.
func TestAuditListPages(t *testing.T) {
	defer control.SetPageSize(3)()
	f := setup(t, 1)
	c := dial(t, f)
	ctx := context.Background()
	for range 10 { // ten audit entries, seqs 1..10
		_, err := f.rd.OptOut(ctx, "acme", plat)
		require.NoError(t, err)
		_, err = f.rd.RemoveOptOut(ctx, "acme", plat)
		require.NoError(t, err)
	}
	all := storetest.AuditEntries(t, f.s, "acme")
	require.Len(t, all, 20)
	for _, q := range []control.AuditQuery{
		{Limit: 100, NewestFirst: true}, {Limit: 7, NewestFirst: true}, {After: 15, Limit: 7, NewestFirst: true},
		{After: 2, Limit: 100, NewestFirst: true}, {Limit: 100}, {After: 4, Limit: 7}, {After: 20, Limit: 5},
	} {
		var want []uint64
		for _, en := range all {
			if en.Seq > q.After {
				want = append(want, en.Seq)
			}
		}
		if q.NewestFirst {
			slices.Reverse(want)
		}
		want = want[:min(len(want), q.Limit)]
		q.Workspace = "acme"
		var got []uint64
		require.NoError(t, c.AuditList(ctx, q, func(l control.AuditLine) error { got = append(got, l.Seq); return nil }))
		assert.Equal(t, want, got, "%+v", q)
	}
}

// Bad input over the socket gets the error it gets locally: the same
// text, the same sentinel (errors.Is) and the same detail struct
// (errors.As), field for field.
func TestTypedErrorsCrossTheSocket(t *testing.T) {
	f := setup(t, 3)
	c := dial(t, f)
	local := control.NewLocal(f.rd)
	ctx := context.Background()
	_, err := local.SetSettings(ctx, "acme", redaction.Settings{Products: []cdrstore.Product{cdrstore.ProductSMS}, PrematureWindow: redaction.Duration(2 * time.Minute)})
	require.NoError(t, err)
	_, err = local.Hold(ctx, control.HoldChange{Workspace: "acme", ID: "rec-00000", Reason: "litigation"})
	require.NoError(t, err)

	redact := func(id string, p cdrstore.Product) func(control.Ops) error {
		return func(o control.Ops) error {
			_, err := o.RedactByID(ctx, "acme", id, p, cdrstore.Outbound)
			return err
		}
	}
	for _, tc := range []struct {
		name   string
		call   func(control.Ops) error
		is     error
		detail any // a pointer to a nil pointer of the detail type
		want   any // what that detail holds, where the test sets it
	}{
		{"no workspace", func(o control.Ops) error { _, err := o.AddKey(ctx, "acmee", nil); return err },
			cdrstore.ErrNotFound, new(*cdrstore.NoWorkspaceError), &cdrstore.NoWorkspaceError{Workspace: "acmee"}},
		{"not found", redact("nope", cdrstore.ProductSMS),
			cdrstore.ErrNotFound, new(*redaction.NotFoundError), &redaction.NotFoundError{ID: "nope", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound}},
		{"legal hold", redact("rec-00000", cdrstore.ProductSMS),
			redaction.ErrLegalHold, new(*redaction.HoldError), &redaction.HoldError{ID: "rec-00000", Reason: "legal hold: litigation"}},
		{"premature", redact("rec-00002", cdrstore.ProductSMS),
			redaction.ErrPrematureRedaction, new(*redaction.PrematureRedactionError), &redaction.PrematureRedactionError{ID: "rec-00002", EligibleAt: storetest.Epoch.Add(time.Minute), Wait: time.Minute}},
		{"not provisioned", redact("rec-00001", cdrstore.ProductVoice),
			redaction.ErrNotProvisioned, new(*redaction.NotProvisionedError), &redaction.NotProvisionedError{Workspace: "acme", Product: cdrstore.ProductVoice}},
		{"product", redact("rec-00001", "telex"),
			redaction.ErrInvalidProduct, new(*redaction.ProductError), &redaction.ProductError{Input: "telex"}},
		{"product holding a number", redact("rec-00001", cdrstore.Product(ada.String())),
			redaction.ErrInvalidProduct, new(*redaction.ProductError), &redaction.ProductError{Input: "+234XXXXXXXXXX"}},
		{"validation", redact("", cdrstore.ProductSMS),
			cdrstore.ErrInvalidRecord, new(*cdrstore.ValidationError), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lerr, rerr := tc.call(local), tc.call(c)
			require.ErrorIs(t, lerr, tc.is)
			require.ErrorIs(t, rerr, tc.is)
			assert.Equal(t, lerr.Error(), rerr.Error())
			assert.NotContains(t, rerr.Error(), ada.String()[4:])

			ldetail := reflect.New(reflect.TypeOf(tc.detail).Elem())
			rdetail := reflect.New(reflect.TypeOf(tc.detail).Elem())
			require.ErrorAs(t, lerr, ldetail.Interface())
			require.ErrorAs(t, rerr, rdetail.Interface())
			if tc.want != nil {
				assert.Equal(t, tc.want, ldetail.Elem().Interface(), "the local detail")
			}
			assert.Equal(t, ldetail.Elem().Interface(), rdetail.Elem().Interface(), "the same detail crossed")
		})
	}
}

// A damaged store's typed errors cross the socket too: the
// *cdrstore.CorruptionError says where and the *audit.ChainError at which
// entry, as they do locally.
func TestDamageErrorsCrossTheSocket(t *testing.T) {
	ctx := context.Background()
	local, remote := damaged(t, func(path string) { storetest.DamagePage(t, path, "ws", "acme", "audit") })
	for name, call := range map[string]func(control.Ops) error{
		"audit verify": func(o control.Ops) error { _, err := o.VerifyAudit(ctx, "acme"); return err },
		"erase": func(o control.Ops) error {
			_, err := o.EraseContact(ctx, "acme", ada, "gdpr_art17", false)
			return err
		},
	} {
		lerr, rerr := call(local), call(remote)
		require.ErrorIs(t, lerr, cdrstore.ErrCorrupt, name)
		require.ErrorIs(t, rerr, cdrstore.ErrCorrupt, name)
		assert.Equal(t, lerr.Error(), rerr.Error(), name)
		var lce, rce *cdrstore.CorruptionError
		require.ErrorAs(t, lerr, &lce, name)
		require.ErrorAs(t, rerr, &rce, name)
		assert.Equal(t, "(pages)", lce.Bucket, name)
		assert.Equal(t, cdrstore.CorruptionError{Workspace: lce.Workspace, Bucket: lce.Bucket, Key: lce.Key}, *rce,
			"%s: the same place, without the cause (its text is in the message)", name)
	}

	// An audit entry rewritten in place breaks the chain there.
	local, remote = damaged(t, func(path string) {
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("ws")).Bucket([]byte("acme")).Bucket([]byte("audit"))
			k, v := b.Cursor().Last()
			v = bytes.Clone(v)
			v[len(v)-1] ^= 1
			return b.Put(k, v)
		}))
	})
	_, lerr := local.VerifyAudit(ctx, "acme")
	_, rerr := remote.VerifyAudit(ctx, "acme")
	require.ErrorIs(t, lerr, audit.ErrChainBroken)
	require.ErrorIs(t, rerr, audit.ErrChainBroken)
	assert.Equal(t, lerr.Error(), rerr.Error())
	var lche, rche *audit.ChainError
	require.ErrorAs(t, lerr, &lche)
	require.ErrorAs(t, rerr, &rche)
	assert.NotZero(t, lche.Seq)
	assert.Equal(t, audit.ChainError{Seq: lche.Seq}, *rche, "the same entry, without the cause (its text is in the message)")
}

// damaged serves a store of one record and 40 audit entries that damage
// changed while it was closed, and returns its operations run here and
// through the socket.
func damaged(t *testing.T, damage func(path string)) (*control.Local, *control.Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "damaged.db")
	opts := &cdrstore.Options{NoSync: true, Now: func() time.Time { return storetest.Epoch }}
	s, err := cdrstore.Open(path, opts)
	require.NoError(t, err)
	require.NoError(t, s.Put(cdrstore.Record{ID: "rec-1", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: plat, To: ada, Body: "hello", StartedAt: storetest.Epoch.Add(-time.Hour)}))
	rd := redaction.New(s, nil)
	for m := range 40 { // audit entries enough for a page of their own
		_, err := rd.SetSettings(context.Background(), "acme", redaction.Settings{Retention: redaction.Retention{Months: 12 + m%12}})
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	damage(path)

	s, err = cdrstore.Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	rd = redaction.New(s, nil)
	srv, err := control.Start(rd, nil)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c, err := control.Dial(context.Background(), srv.Path())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return control.NewLocal(rd), c
}
