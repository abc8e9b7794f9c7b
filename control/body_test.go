package control_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request body the service refuses is answered with an error that does
// not quote a number the body held, even as a field name.
func TestBadBodyIsAnsweredMasked(t *testing.T) {
	f := setup(t, 1)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", f.srv.Path())
	}}}
	resp, err := hc.Post("http://control/v1/stats", "application/json", strings.NewReader(`{"+2348031234567":1}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "invalid_record")
	assert.NotContains(t, string(body), "8031234567")
}
