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
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
