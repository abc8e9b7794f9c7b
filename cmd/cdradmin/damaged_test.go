package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On a store with a damaged page (check: "corrupt (pages)"), every
// command fails with one line naming the corruption, exit 1: no Go stack
// trace, no hang, no file left behind (a backup's output, scrub's copy),
// and the store's bytes and modification time as they were.
func TestDamagedStoreFailsCleanly(t *testing.T) {
	for _, damaged := range [][]string{{"ws"}, nil} { // the workspaces' page, the root page
		src := fixtureDB(t, 400)
		storetest.DamagePage(t, src, damaged...)
		t.Run(strings.Join(append([]string{"root"}, damaged...), "/"), func(t *testing.T) { damagedStoreFailsCleanly(t, src) })
	}
}

func damagedStoreFailsCleanly(t *testing.T, src string) {
	lines := fixtureLines(t, 1)
	for _, args := range [][]string{
		{"backup", "--to", "BACKUP"},
		{"scrub"},
		{"check"},
		{"stats"},
		{"get", "-w", "acme", "x"},
		{"search", "-w", "acme", "--number", "+2348031234567"},
		{"export", "-w", "acme", "--number", "+2348031234567"},
		{"erase", "-w", "acme", "+2348031234567"},
		{"erase", "-w", "acme", "--dry-run", "+2348031234567"},
		{"redact", "-w", "acme", "--product", "sms", "209ab3c7536542b91e8b5aef032f6861"},
		{"sweep"},
		{"autoredact"},
		{"drain", "--log-only"},
		{"audit", "verify"},
		{"audit", "list", "-w", "acme"},
		{"hold", "list", "-w", "acme"},
		{"keys", "list"},
		{"policy", "show", "-w", "acme"},
		{"ingest"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "cdrvault.db")
			storetest.CopyFile(t, src, db)
			old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			require.NoError(t, os.Chtimes(db, old, old))
			before := fileHash(t, db)
			backup := filepath.Join(dir, "backup.db")
			for i, a := range args {
				if a == "BACKUP" {
					args[i] = backup
				}
			}
			code, _, stderr := cli(t, strings.Join(lines, "\n"), append([]string{"--db", db}, args...)...)
			assert.Equal(t, 1, code, stderr)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)
			assert.Contains(t, stderr, "cdradmin "+args[0]+": ")
			assert.Contains(t, stderr, "corrupt (pages)")
			assert.NotContains(t, stderr, "goroutine")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no file left beside the store")
			assert.Equal(t, before, fileHash(t, db), "the store's bytes are unchanged")
			fi, err := os.Stat(db)
			require.NoError(t, err)
			assert.Equal(t, old, fi.ModTime().UTC(), "the store's mtime is unchanged")
		})
	}
}

// serve on a store whose workspace audit page is damaged keeps answering:
// the write paths fail with a clean 500 in their endpoint's body shape
// (no dropped connection, no stack trace), and reads go on.
func TestServeOnADamagedStoreKeepsReading(t *testing.T) {
	db := fixtureDB(t, 400)
	for m := 12; m < 24; m++ { // audit entries enough for a page of their own
		code, _, stderr := cli(t, "", "--db", db, "policy", "set", "-w", "acme", "--retention-months", strconv.Itoa(m))
		require.Equal(t, 0, code, stderr)
	}
	k := addKey(t, db)
	r := firstRecord(t, db, "acme", func(r cdrstore.Record) bool {
		return r.Product == cdrstore.ProductSMS && r.Direction == cdrstore.Outbound && r.To.IsValid()
	})
	storetest.DamagePage(t, db, "ws", "acme", "audit")

	var serveErr strings.Builder
	addr, stop := serve(t, db, &syncWriter{w: &serveErr})
	do := func(method, path, body string, basic bool) (int, string) {
		return k.call(t, addr, method, path, body, basic)
	}
	const basicAuth, bearerAuth = true, false

	for range 2 {
		status, body := do("POST", "/v1/redact/transaction", `{"id":"`+r.ID+`","product":"sms"}`, basicAuth)
		assert.Equal(t, 500, status, body)
		assert.Contains(t, body, `"title":"Internal Error"`)
		status, body = do("DELETE", "/v1/contacts/"+r.To.String(), "", bearerAuth)
		assert.Equal(t, 500, status, body)
		assert.Contains(t, body, `"error_code":"INTERNAL"`)
		status, body = do("DELETE", "/v1/records/"+r.ID, "", bearerAuth)
		assert.Equal(t, 500, status, body)
		status, body = do("GET", "/v1/records/"+r.ID, "", basicAuth)
		assert.Equal(t, 200, status, "reads go on: %s", body)
		assert.Contains(t, body, r.ID)
	}
	stop()
	assert.NotContains(t, serveErr.String(), "goroutine")
	assert.NotContains(t, serveErr.String(), "panic:")
	assert.Contains(t, serveErr.String(), "corrupt (pages)", "the log says why")
}

// syncWriter is an io.Writer safe for the goroutines of serve.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// haltingStore makes a store in which deleting conversation CON-A empties
// the first leaf of acme's records but for one key, and damages the leaf
// after it: the deletion's commit panics (bbolt merges the two leaves),
// which halts the store's writes.
func haltingStore(t *testing.T) (db string, leg cdrstore.Record) {
	t.Helper()
	build := func(path string, legs int) []cdrstore.Record {
		s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
		require.NoError(t, err)
		defer s.Close()
		var rs []cdrstore.Record
		for i := range 300 {
			conv := "CON-B"
			if i < legs {
				conv = "CON-A"
			}
			rs = append(rs, cdrstore.Record{ID: fmt.Sprintf("leg-%04d", i), Workspace: "acme", Product: cdrstore.ProductVoice,
				Direction: cdrstore.Outbound, From: e164.MustParse("+14155552671", ""), To: e164.MustParse("+2348031234567", ""),
				ConversationID: conv, StartedAt: fixedNow.Add(-48*time.Hour + time.Duration(i)*time.Second), Status: "answered"})
		}
		require.NoError(t, s.PutBatch(rs))
		return rs
	}
	// A first build says how many records the first leaf holds; the
	// second, of the same bytes but for which conversation each leg is
	// in, puts all but one of them in CON-A.
	probe := filepath.Join(t.TempDir(), "probe.db")
	build(probe, 0)
	firstLeaf := storetest.DamageSecondLeaf(t, probe, "ws", "acme", "records")
	db = filepath.Join(t.TempDir(), "cdrvault.db")
	rs := build(db, firstLeaf-1)
	require.Equal(t, firstLeaf, storetest.DamageSecondLeaf(t, db, "ws", "acme", "records"))
	return db, rs[0]
}

// When a commit panics, serve goes on: the write that met it and every
// write after it answer 503 in their endpoint's body shape, reads of
// intact pages answer 200, and the log says why.
func TestServeAfterAFailedCommit(t *testing.T) {
	db, leg := haltingStore(t)
	k := addKey(t, db)
	var serveErr strings.Builder
	addr, stop := serve(t, db, &syncWriter{w: &serveErr})
	do := func(method, path, body string, basic bool) (int, string) {
		return k.call(t, addr, method, path, body, basic)
	}
	status, body := do("DELETE", "/v1/conversations/CON-A", "", false)
	assert.Equal(t, 503, status, body)
	assert.Contains(t, body, `"error_code":"UNAVAILABLE"`)
	status, body = do("DELETE", "/v1/contacts/+2348031234567", "", false)
	assert.Equal(t, 503, status, body)
	status, body = do("POST", "/v1/redact/transaction", `{"id":"`+leg.ID+`","product":"voice"}`, true)
	assert.Equal(t, 503, status, body)
	assert.Contains(t, body, `"title":"Service Unavailable"`)
	status, body = do("GET", "/v1/records/"+leg.ID, "", true)
	assert.Equal(t, 200, status, "reads go on: %s", body)
	stop()
	assert.NotContains(t, serveErr.String(), "goroutine")
	assert.Contains(t, serveErr.String(), "writes refused until the store is reopened")
	assert.Contains(t, serveErr.String(), "corrupt (pages)")
}

// apiKey is a credential of workspace acme, as keys add --json prints it.
type apiKey struct{ Key, Secret, Token string }

// addKey adds a key of workspace acme to the store at db.
func addKey(t *testing.T, db string) apiKey {
	t.Helper()
	code, out, stderr := cli(t, "", "--db", db, "keys", "add", "-w", "acme", "--json")
	require.Equal(t, 0, code, stderr)
	var k apiKey
	require.NoError(t, json.Unmarshal([]byte(out), &k))
	return k
}

// call sends a request to serve at addr with k (Basic auth, else Bearer)
// and returns the status and body.
func (k apiKey) call(t *testing.T, addr, method, path, body string, basic bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	require.NoError(t, err)
	if basic {
		req.SetBasicAuth(k.Key, k.Secret)
	} else {
		req.Header.Set("Authorization", "Bearer "+k.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the server answers")
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}
