package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
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

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- runWithClock(ctx, []string{"--db", db, "serve", "--addr", addr}, strings.NewReader(""), io.Discard, io.Discard, func() time.Time { return fixedNow })
	}()
	var resp *http.Response
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest("DELETE", "http://"+addr+"/v1/contacts/+2348031234567", nil)
		req.Header.Set("Authorization", "Bearer "+k.Token)
		var err error
		resp, err = http.DefaultClient.Do(req)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(body))
	assert.JSONEq(t, `{"erased":true,"e164":"+2348031234567","records_affected":0}`, string(body))
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not shut down")
	}
	code, _, _ = cli(t, "", "--db", db, "keys", "revoke", "-w", "acme", k.Key)
	assert.Equal(t, 0, code)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serve --metrics-addr: /metrics shows the operations done through the
// API, named by route, and no number of the fixture; /healthz and
// /readyz answer 200; the text log holds no number either.
func TestServeMetrics(t *testing.T) {
	db := fixtureDB(t, 200)
	code, _, stderr := cli(t, "", "--db", db, "policy", "set", "-w", "acme", "--products", "sms,voice")
	require.Equal(t, 0, code, stderr)
	code, out, stderr := cli(t, "", "--db", db, "keys", "add", "-w", "acme", "--products", "sms,voice", "--json")
	require.Equal(t, 0, code, stderr)
	var k struct{ Key, Secret, Token string }
	require.NoError(t, json.Unmarshal([]byte(out), &k))

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

	addr, maddr := freeAddr(t), freeAddr(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- runWithClock(ctx, []string{"--db", db, "serve", "--addr", addr, "--metrics-addr", maddr, "--log-format", "text", "--log-level", "debug"},
			strings.NewReader(""), io.Discard, logs, func() time.Time { return fixedNow })
	}()
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	require.Eventually(t, func() bool { code, _ := get("http://" + maddr + "/readyz"); return code == 200 }, 5*time.Second, 20*time.Millisecond)
	code, _ = get("http://" + maddr + "/healthz")
	assert.Equal(t, 200, code)

	call := func(method, path, body string, auth func(*http.Request)) int {
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		require.NoError(t, err)
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+k.Token) }
	basic := func(r *http.Request) { r.SetBasicAuth(k.Key, k.Secret) }
	require.Equal(t, 200, call("DELETE", "/v1/contacts/"+erase, "", bearer))
	require.Equal(t, 204, call("POST", "/v1/redact/transaction", `{"id":"`+redactID+`","product":"sms"}`, basic))

	code, body := get("http://" + maddr + "/metrics")
	require.Equal(t, 200, code)
	for _, series := range []string{
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
	for _, n := range numbers {
		assert.NotContains(t, body, n[len(n)-7:], "no number of the fixture in /metrics")
		assert.NotContains(t, logs.String(), n[len(n)-7:], "no number of the fixture in the log")
	}
	assert.Contains(t, logs.String(), "level=INFO msg=operation kind=erase workspace=acme outcome=ok")
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

func TestServeRefusesBadLogFlags(t *testing.T) {
	db := fixtureDB(t, 10)
	for _, args := range [][]string{{"--log-format", "xml"}, {"--log-level", "loud"}} {
		code, _, stderr := cli(t, "", append([]string{"--db", db, "serve"}, args...)...)
		assert.Equal(t, 2, code, stderr)
		assert.Contains(t, stderr, args[0])
	}
}
