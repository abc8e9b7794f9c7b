package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// keys add prints a credential once; serve answers with it and shuts down
// gracefully when its context ends.
func TestKeysAndServe(t *testing.T) {
	db := fixtureDB(t, 200)
	// A key erases contacts only if it may redact every product its
	// workspace is provisioned for.
	code, _, stderr := cli(t, "", "--db", db, "policy", "set", "-w", "acme", "--products", "sms,voice")
	require.Equal(t, 0, code, stderr)
	code, out, stderr := cli(t, "", "--db", db, "keys", "add", "-w", "acme", "--products", "sms,voice", "--json")
	require.Equal(t, 0, code, stderr)
	var k struct{ Key, Secret, Token string }
	require.NoError(t, json.Unmarshal([]byte(out), &k))
	require.NotEmpty(t, k.Secret)
	code, out, _ = cli(t, "", "--db", db, "keys", "list")
	require.Equal(t, 0, code)
	assert.Contains(t, out, k.Key)
	assert.NotContains(t, out, k.Secret, "the secret is never shown again")

	addr, stop := serve(t, db, io.Discard)
	req, _ := http.NewRequest("DELETE", "http://"+addr+"/v1/contacts/+2348031234567", nil)
	req.Header.Set("Authorization", "Bearer "+k.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(body))
	assert.JSONEq(t, `{"erased":true,"e164":"+2348031234567","records_affected":0}`, string(body))

	// While serve holds the store, cdradmin reaches it through the
	// control socket, and a revocation there is refused over HTTP at once.
	fi, err := os.Lstat(db + ".ctl")
	require.NoError(t, err, "serve turns the control socket on")
	assert.Zero(t, fi.Mode().Perm()&0o077)
	code, out, stderr = cli(t, "", "--db", db, "keys", "revoke", "-w", "acme", k.Key)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "revoked "+k.Key+"\n", out)
	req, _ = http.NewRequest("DELETE", "http://"+addr+"/v1/contacts/+2348031234567", nil)
	req.Header.Set("Authorization", "Bearer "+k.Token)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode, "the key revoked through the socket is refused from the next request")
	stop()
	assert.NoFileExists(t, db+".ctl", "a clean shutdown removes the socket")
	code, _, _ = cli(t, "", "--db", db, "keys", "revoke", "-w", "acme", k.Key)
	assert.Equal(t, 0, code)
}

// serve runs cdradmin serve (with flags) on the store at db, its log to stderr, and
// returns its address once it accepts connections, and the function that
// stops it (and checks it stopped cleanly).
func serve(t *testing.T, db string, stderr io.Writer, flags ...string) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		args := append([]string{"--db", db, "serve", "--addr", addr}, flags...)
		done <- runWithClock(ctx, args, strings.NewReader(""), io.Discard, stderr, func() time.Time { return fixedNow })
	}()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	return addr, func() {
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, 0, code)
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not shut down")
		}
	}
}

// serve --metrics-addr: /metrics shows the operations done through the
// API, named by route, and no number of the fixture; /healthz and
// /readyz answer 200; the text log holds no number either.
func TestServeMetrics(t *testing.T) {
	db := fixtureDB(t, 200)
	code, _, stderr := cli(t, "", "--db", db, "policy", "set", "-w", "acme", "--products", "sms,voice")
	require.Equal(t, 0, code, stderr)
	k := addKey(t, db)

	// An outbound SMS of acme to redact, and another's number to erase.
	var redactID, erase string
	var numbers []string
	for _, line := range fixtureLines(t, 200) {
		var r struct{ ID, Workspace, Product, Direction, From, To string }
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		for _, n := range []string{r.From, r.To} {
			if strings.HasPrefix(n, "+") {
				numbers = append(numbers, n[1:])
			}
		}
		if r.Workspace != "acme" || r.Product != "sms" || r.Direction != "outbound" {
			continue
		}
		switch {
		case redactID == "":
			redactID = r.ID
		case erase == "" && strings.HasPrefix(r.To, "+"):
			erase = r.To
		}
	}
	require.NotEmpty(t, redactID)
	require.NotEmpty(t, erase)

	maddr := freeAddr(t)
	var logs strings.Builder
	addr, stop := serve(t, db, &syncWriter{w: &logs}, "--metrics-addr", maddr, "--log-format", "text", "--log-level", "debug")
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + maddr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, _ = get("/readyz")
	assert.Equal(t, 200, code)
	code, _ = get("/healthz")
	assert.Equal(t, 200, code)

	status, body := k.call(t, addr, "DELETE", "/v1/contacts/"+erase, "", false)
	require.Equal(t, 200, status, body)
	status, body = k.call(t, addr, "POST", "/v1/redact/transaction", `{"id":"`+redactID+`","product":"sms"}`, true)
	require.Equal(t, 204, status, body)

	// A scrub, through the control socket of the running service.
	code, _, stderr = cli(t, "", "--db", db, "scrub")
	require.Equal(t, 0, code, stderr)

	code, body = get("/metrics")
	require.Equal(t, 200, code)
	for _, series := range []string{
		`cdrvault_operations_total{kind="scrub",outcome="ok"} 1`,
		`cdrvault_operations_total{kind="erase",outcome="ok"} 1`,
		`cdrvault_operations_total{kind="redact",outcome="ok"} 1`,
		`cdrvault_http_requests_total{code="2xx",route="DELETE /v1/contacts/{e164}"} 1`,
		`cdrvault_http_requests_total{code="2xx",route="POST /v1/redact/transaction"} 1`,
		`cdrvault_http_request_duration_seconds_count{route="POST /v1/redact/transaction"} 1`,
		`cdrvault_records{workspace="acme"}`,
		`cdrvault_commit_duration_seconds_count`,
		`cdrvault_unscrubbed_free_bytes `,
		`cdrvault_store_up 1`,
	} {
		assert.Contains(t, body, series)
	}
	stop()
	for _, n := range numbers {
		assert.NotContains(t, body, n[len(n)-7:], "no number of the fixture in /metrics")
		assert.NotContains(t, logs.String(), n[len(n)-7:], "no number of the fixture in the log")
	}
	assert.Contains(t, logs.String(), "level=INFO msg=operation kind=erase workspace=acme outcome=ok")
}

func TestServeRefusesBadLogFlags(t *testing.T) {
	db := fixtureDB(t, 10)
	for _, args := range [][]string{{"--log-format", "xml"}, {"--log-level", "loud"}} {
		code, _, stderr := cli(t, "", append([]string{"--db", db, "serve"}, args...)...)
		assert.Equal(t, 2, code, stderr)
		assert.Contains(t, stderr, args[0])
	}
}
