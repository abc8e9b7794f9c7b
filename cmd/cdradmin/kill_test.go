package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asMain makes the test binary run as cdradmin (main) when set in its
// environment, so a test can run the real command as a child process and
// kill it.
const asMain = "CDRADMIN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// child starts this test binary as cdradmin with args.
func child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	return cmd
}

// kill9 kills cmd with SIGKILL and reaps it.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	var exit *exec.ExitError
	require.ErrorAs(t, cmd.Wait(), &exit)
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	assert.Equal(t, syscall.SIGKILL, ws.Signal(), "killed by SIGKILL, not ended by itself")
}

// contactLines returns n JSON Lines of SMS from one sender to one
// recipient in workspace ws, IDs prefixed by tag.
func contactLines(ws, tag string, n int) []string {
	body := strings.Repeat("see you at the usual place ", 8)
	lines := make([]string, n)
	for i := range lines {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		lines[i] = fmt.Sprintf(`{"id":"%s-%05d","workspace":%q,"product":"sms","direction":"outbound","from":"+14155552671","to":"+2348031234567","body":%q,"started_at":%q}`,
			tag, i, ws, body, at.Format(time.RFC3339))
	}
	return lines
}

// wsRecords is the number of records of workspace ws the service reports.
func wsRecords(c *control.Client, ws string) (int, error) {
	st, err := c.Stats(context.Background())
	if err != nil {
		return 0, err
	}
	for _, w := range st.Workspaces {
		if w.Workspace == ws {
			return w.Records, nil
		}
	}
	return 0, nil
}

// pausingProxy forwards connections from its socket to the service's,
// and stops forwarding the service's answer once after `after` bytes,
// closing paused then: the client behind it is then stuck mid-stream, with
// a part of the answer read.
func pausingProxy(t *testing.T, service string, after int64) (path string, paused <-chan struct{}) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "p.ctl")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	p := make(chan struct{})
	var (
		mu    sync.Mutex
		conns []net.Conn
		once  sync.Once
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", service)
			if err != nil {
				down.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, down, up)
			mu.Unlock()
			go func() {
				io.Copy(up, down)
				up.Close() // the client is gone: so is its connection
			}()
			go func() {
				if n, _ := io.CopyN(down, up, after); n == after {
					once.Do(func() { close(p) })
				}
			}()
		}
	}()
	return path, p
}

// kill -9 of cdradmin in the middle of export, ingest and backup through
// the control socket leaves the service answering and the store
// consistent: an ingest commits whole batches only, and a backup leaves
// nothing at --to, nor any partial file beside it, nor the service's
// spool.
func TestKilledMidStream(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cdrvault.db")
	const held = 4000 // ~1.3 MB of export: more than the pipes and sockets buffer
	code, _, stderr := cli(t, strings.Join(contactLines("acme", "a", held), "\n"), "--db", db, "ingest", "-")
	require.Equal(t, 0, code, stderr)
	s, srv := service(t, db)
	c, err := control.Dial(context.Background(), srv.Path())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	spools := func() []string {
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(db), ".cdrvault-backup-*"))
		return m
	}

	t.Run("export", func(t *testing.T) {
		cmd := child(t, "--db", db, "--remote", "export", "-w", "acme", "--number", "+2348031234567")
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		got, buf := "", make([]byte, 4096)
		for !strings.Contains(got, `"id":"a-00003"`) {
			n, err := out.Read(buf)
			require.NoError(t, err, "the export streams")
			got += string(buf[:n])
		}
		kill9(t, cmd) // the export has ~4,000 records to go
	})

	t.Run("ingest", func(t *testing.T) {
		cmd := child(t, "--db", db, "--remote", "ingest", "--batch", "10")
		in, err := cmd.StdinPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		more := contactLines("fresh", "f", 15)
		_, err = io.WriteString(in, strings.Join(more, "\n")+"\n")
		require.NoError(t, err)
		require.Eventually(t, func() bool { n, err := wsRecords(c, "fresh"); return err == nil && n == 10 },
			10*time.Second, 5*time.Millisecond, "the first batch of 10 commits")
		kill9(t, cmd) // 5 lines of the next batch sent, its input still open
		in.Close()
	})

	t.Run("backup", func(t *testing.T) {
		proxy, paused := pausingProxy(t, srv.Path(), 256<<10)
		to := filepath.Join(t.TempDir(), "backup.db")
		cmd := child(t, "--db", db, "--remote", "--socket", proxy, "backup", "--to", to)
		require.NoError(t, cmd.Start())
		select {
		case <-paused: // 256 KiB of the copy read, the rest held back
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the backup never read 256 KiB")
		}
		kill9(t, cmd)

		_, err := os.Lstat(to)
		assert.ErrorIs(t, err, os.ErrNotExist, "no file at --to")
		left, err := os.ReadDir(filepath.Dir(to))
		require.NoError(t, err)
		if f, _, err := unnamedFile(filepath.Dir(to)); err == nil {
			f.Close()
			assert.Empty(t, left, "no partial file beside --to")
		} else { // the copy was a named temporary file, which a kill leaves
			for _, e := range left {
				assert.True(t, strings.HasPrefix(e.Name(), ".backup.db.partial-"), "only the hidden temporary file: %s", e.Name())
			}
		}
	})

	// The service answers and still writes; once it has finished what the
	// killed clients started, the store is consistent and holds the whole
	// batches of the ingest only, and the backup's spool is gone.
	n, err := wsRecords(c, "acme")
	require.NoError(t, err, "the service answers")
	assert.Equal(t, held, n)
	_, err = c.OptOut(context.Background(), "acme", e164.MustParse("+2348031234567", ""), "add")
	require.NoError(t, err, "the service still writes")
	require.NoError(t, c.Close())
	require.NoError(t, srv.Close())
	assert.Empty(t, spools(), "no spool file left beside the store")
	require.NoError(t, s.Check(context.Background()))
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		n, err := tx.Count("fresh")
		assert.Equal(t, 10, n, "whole batches only")
		return err
	}))
}
