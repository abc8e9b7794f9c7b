package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/natstest"
	"github.com/cdrvault/cdrvault/redaction"
)

// serveNode runs `serve --nats` on db as node id until the returned stop.
func serveNode(t *testing.T, db, url, keys, id string) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- runWithClock(ctx, []string{"--db", db, "serve", "--addr", freeAddr(t), "--nats", url, "--node", id, "--fleet-keys", keys},
			strings.NewReader(""), io.Discard, &errb, func() time.Time { return fixedNow })
	}()
	stopped := false
	stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return stop
}

type fleetJSON struct {
	RequestID       string `json:"request_id"`
	Status          string `json:"status"`
	NodesExpected   int    `json:"nodes_expected"`
	NodesDone       int    `json:"nodes_done"`
	RecordsAffected int    `json:"records_affected"`
	Nodes           []struct {
		Node   string `json:"node"`
		Status string `json:"status"`
	} `json:"nodes"`
}

// newFleet starts an embedded NATS server and writes fleet keys; it
// returns the server, the key directory and the fleet flags.
func newFleet(t *testing.T) (*natstest.Server, string, []string) {
	t.Helper()
	srv, err := natstest.Run(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(srv.Kill)
	keys := filepath.Join(t.TempDir(), "keys")
	code, out, stderr := cli(t, "", "fleet", "keygen", "--out", keys)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "issuer private key")
	return srv, keys, []string{"--nats", srv.URL(), "--fleet-keys", keys}
}

// awaitNodes waits until n nodes joined.
func awaitNodes(t *testing.T, flags []string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		code, out, _ := cli(t, "", append([]string{"fleet", "nodes", "--json"}, flags...)...)
		return code == 0 && strings.Count(out, `"id"`) == n
	}, 20*time.Second, 50*time.Millisecond)
}

func TestFleetEraseWaitPendingAndCatchUp(t *testing.T) {
	srv, keys, flags := newFleet(t)
	code, _, _ := cli(t, "", "fleet", "keygen", "--out", keys)
	assert.Equal(t, 1, code, "keygen never overwrites keys")

	dbA, dbB := fixtureDB(t, 300), fixtureDB(t, 300)
	rec := firstRecord(t, dbA, "acme", func(r cdrstore.Record) bool { return r.Body != "" && r.Direction == cdrstore.Outbound })
	number := redaction.Counterparty(&rec).String()
	stopA := serveNode(t, dbA, srv.URL(), keys, "a")
	stopB := serveNode(t, dbB, srv.URL(), keys, "b")
	fleetCLI := func(args ...string) (int, fleetJSON, string) {
		t.Helper()
		code, out, stderr := cli(t, "", append(append([]string{"fleet"}, args...), flags...)...)
		var rec fleetJSON
		if code == 0 || code == exitPending {
			require.NoError(t, json.Unmarshal([]byte(out), &rec), out+stderr)
		}
		return code, rec, stderr
	}
	awaitNodes(t, flags, 2)

	code, r1, stderr := fleetCLI("erase", "-w", "acme", "--request-id", "r1", "--wait", "20s", "--json", number)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "r1", r1.RequestID)
	assert.Equal(t, "complete", r1.Status)
	assert.Equal(t, 2, r1.NodesExpected)
	assert.Equal(t, 2, r1.NodesDone)
	assert.Positive(t, r1.RecordsAffected)
	assert.Equal(t, 0, r1.RecordsAffected%2, "the same records on both stores")

	require.Equal(t, 0, stopB())
	code, r2, _ := fleetCLI("erase", "-w", "acme", "--request-id", "r2", "--wait", "300ms", "--json", "--reason", "ndpr_right_to_erasure", number)
	require.Equal(t, exitPending, code)
	assert.Equal(t, "pending", r2.Status)
	assert.LessOrEqual(t, r2.NodesDone, 1)

	serveNode(t, dbB, srv.URL(), keys, "b")
	code, r2, stderr = fleetCLI("status", "r2", "--wait", "20s", "--json")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 2, r2.NodesDone)

	// A replayed request ID changes nothing and prints the same record.
	code, again, stderr := fleetCLI("erase", "-w", "acme", "--request-id", "r1", "--wait", "20s", "--json", number)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, r1, again)

	code, _, stderr = cli(t, "", "fleet", "erase", "-w", "acme", number)
	assert.Equal(t, exitUsage, code, stderr)

	require.Equal(t, 0, stopA())
	srv.Kill()
	digits := strings.TrimPrefix(number, "+")
	require.NoError(t, filepath.WalkDir(srv.StoreDir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.False(t, bytes.Contains(raw, []byte(digits)), "%s holds the number", p)
		assert.False(t, bytes.Contains(raw, []byte(`"r1"`)), "%s holds the request ID", p)
		return nil
	}))
}

func TestFleetDemo(t *testing.T) {
	code, out, stderr := cli(t, "", "fleet", "demo")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "pending on 2/3 stores")
	assert.Contains(t, out, "complete on 3/3 stores, 9 records")
	assert.Contains(t, out, "signature verified")
	assert.NotContains(t, out, "8031234567")
}

func TestFleetExportMatchesTheLocalExports(t *testing.T) {
	srv, keys, flags := newFleet(t)
	dbA, dbB := fixtureDB(t, 300), fixtureDB(t, 300)
	rec := firstRecord(t, dbA, "acme", func(r cdrstore.Record) bool { return r.Direction == cdrstore.Outbound })
	number := redaction.Counterparty(&rec).String()
	var local []string
	for _, db := range []string{dbA, dbB} {
		code, out, stderr := cli(t, "", "--db", db, "export", "-w", "acme", "--number", number)
		require.Equal(t, 0, code, stderr)
		var ex struct {
			Records []json.RawMessage `json:"records"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &ex))
		for _, r := range ex.Records {
			local = append(local, string(r))
		}
	}
	require.NotEmpty(t, local)
	serveNode(t, dbA, srv.URL(), keys, "a")
	stopB := serveNode(t, dbB, srv.URL(), keys, "b")
	awaitNodes(t, flags, 2)

	code, out, stderr := cli(t, "", append([]string{"fleet", "export", "-w", "acme", "--number", number}, flags...)...)
	require.Equal(t, 0, code, stderr)
	var got struct {
		E164    string `json:"e164"`
		Records []map[string]any
		Nodes   []struct {
			Node     string `json:"node"`
			Complete bool   `json:"complete"`
			Records  int    `json:"records"`
		} `json:"nodes"`
		Missing []string `json:"missing"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, number, got.E164)
	var fleetRecs []string
	last := ""
	for _, r := range got.Records {
		assert.GreaterOrEqual(t, r["started_at"].(string), last, "merged in time order")
		last = r["started_at"].(string)
		delete(r, "node")
		raw, _ := json.Marshal(r)
		fleetRecs = append(fleetRecs, string(raw))
	}
	var localNorm []string
	for _, l := range local {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		raw, _ := json.Marshal(m)
		localNorm = append(localNorm, string(raw))
	}
	assert.ElementsMatch(t, localNorm, fleetRecs, "the union of the local exports")
	require.Len(t, got.Nodes, 2)
	assert.Empty(t, got.Missing)

	// Redaction of several IDs: one request per ID, one record each.
	var ids []string
	for _, r := range got.Records {
		if r["product"] == "sms" && r["direction"] == "outbound" && r["started_at"].(string) < fixedNow.Add(-2*time.Hour).Format(time.RFC3339) && len(ids) < 2 && !slices.Contains(ids, r["id"].(string)) {
			ids = append(ids, r["id"].(string))
		}
	}
	require.Len(t, ids, 2)
	code, out, stderr = cli(t, "", append([]string{"fleet", "redact", "-w", "acme", "--product", "sms", "--request-id", "rx", "--wait", "20s", "--json", ids[0], ids[1]}, flags...)...)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	for i, l := range lines {
		var rec fleetJSON
		require.NoError(t, json.Unmarshal([]byte(l), &rec))
		assert.Equal(t, "rx/"+ids[i], rec.RequestID)
		assert.Equal(t, "complete", rec.Status)
		assert.Equal(t, 2, rec.RecordsAffected, "the record is on both stores")
	}

	require.Equal(t, 0, stopB())
	code, out, stderr = cli(t, "", append([]string{"fleet", "export", "-w", "acme", "--number", number, "--timeout", "2s", "--format", "csv"}, flags...)...)
	assert.Equal(t, exitPending, code)
	assert.Contains(t, stderr, "no complete answer from b")
	assert.Equal(t, len(local)/2+1-len(ids), strings.Count(out, "\n"), "node a's records but the two redacted (no longer the number's), and the header")
}

// A fleet node's serve also serves its control socket: cdradmin reaches
// the store the agent applies fleet commands to, on the one Redactor.
func TestServeRunsTheControlSocketBesideTheFleetAgent(t *testing.T) {
	srv, keys, flags := newFleet(t)
	db := fixtureDB(t, 50)
	rec := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Direction == cdrstore.Outbound })
	number := redaction.Counterparty(&rec).String()
	serveNode(t, db, srv.URL(), keys, "a")
	awaitNodes(t, flags, 1)

	code, out, stderr := cli(t, "", append([]string{"fleet", "optout", "add", "-w", "acme", "--request-id", "o1", "--wait", "20s", "--json", number}, flags...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"status":"complete"`)

	code, out, stderr = cli(t, "", "--db", db, "--remote", "optout", "check", "-w", "acme", number, "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"opted_out":true`, "the socket answers from the store the agent wrote")
}
