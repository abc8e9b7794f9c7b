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

// serve runs cdradmin serve on the store at db, its log to stderr, and
// returns its address once it accepts connections, and the function that
// stops it (and checks it stopped cleanly).
func serve(t *testing.T, db string, stderr io.Writer) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- runWithClock(ctx, []string{"--db", db, "serve", "--addr", addr}, strings.NewReader(""), io.Discard, stderr, func() time.Time { return fixedNow })
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
