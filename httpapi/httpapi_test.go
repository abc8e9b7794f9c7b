package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	ada  = e164.MustParse("+2348031234567", "")
	plat = e164.MustParse("+14155552671", "")
	now  = storetest.Epoch
)

type fixture struct {
	s     *cdrstore.Store
	srv   *httptest.Server
	key   httpapi.NewKey
	other httpapi.NewKey
	log   *bytes.Buffer
}

func setup(t *testing.T, opts *httpapi.Options) *fixture {
	t.Helper()
	s := storetest.Open(t, nil)
	old := now.Add(-48 * time.Hour)
	recs := []cdrstore.Record{
		{ID: "209ab3c7536542b91e8b5aef032f6861", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, From: plat, To: ada, Body: "secret body", StartedAt: old},
		{ID: "inbound-1", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound, From: ada, To: plat, Body: "STOP", StartedAt: old},
		{ID: "voice-1", Workspace: "acme", Product: cdrstore.ProductVoice, Direction: cdrstore.Outbound, From: plat, To: ada, Transcript: []string{"hello"}, StartedAt: old},
		{ID: "young", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, From: plat, To: ada, Body: "x", StartedAt: now.Add(-10 * time.Minute)},
		{ID: "globex-1", Workspace: "globex", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, From: plat, To: ada, Body: "other tenant", StartedAt: old},
	}
	require.NoError(t, s.PutBatch(recs))
	for i := range 12 {
		r := recs[0]
		r.ID = "bulk-" + string(rune('a'+i))
		r.StartedAt = old.Add(time.Duration(i) * time.Minute)
		require.NoError(t, s.Put(r))
	}
	// acme is provisioned for the products its key may redact, so the key
	// may also erase contacts, which touches every product.
	acme := []cdrstore.Product{cdrstore.ProductSMS, cdrstore.ProductVoice, cdrstore.ProductMessages}
	_, err := redaction.New(s, nil).SetSettings(context.Background(), "acme", redaction.Settings{Products: acme})
	require.NoError(t, err)
	key, err := httpapi.AddKey(s, "acme", acme)
	require.NoError(t, err)
	other, err := httpapi.AddKey(s, "globex", nil)
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	if opts == nil {
		opts = &httpapi.Options{}
	}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewServer(httpapi.New(redaction.New(s, nil), opts))
	t.Cleanup(srv.Close)
	return &fixture{s: s, srv: srv, key: key, other: other, log: logs}
}

func (f *fixture) do(t *testing.T, method, path, body string, auth func(*http.Request)) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &m), string(raw))
	}
	return resp.StatusCode, resp.Header, m
}

func basic(k httpapi.NewKey) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(k.Key, k.Secret) }
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// with adds a header to what auth sets.
func with(auth func(*http.Request), header, value string) func(*http.Request) {
	return func(r *http.Request) {
		auth(r)
		r.Header.Set(header, value)
	}
}

func TestRedactTransactionContract(t *testing.T) {
	f := setup(t, nil)
	for _, tc := range []struct {
		name   string
		body   string
		auth   func(*http.Request)
		status int
		want   map[string]any // fields compared one by one; instance checked apart
	}{
		{"success", `{"id":"209ab3c7536542b91e8b5aef032f6861","product":"sms","type":"outbound"}`, basic(f.key), 204, nil},
		{"sdk spellings", `{"id":"inbound-1","product":"SMS","type":"Inbound"}`, basic(f.key), 204, nil},
		{"type defaults to outbound", `{"id":"voice-1","product":"Voice"}`, basic(f.key), 204, nil},
		{"wrong secret", `{"id":"x","product":"sms"}`, func(r *http.Request) { r.SetBasicAuth(f.key.Key, "nope") }, 401,
			map[string]any{"type": "UNAUTHORIZED", "error_title": "Unauthorized"}},
		{"no auth", `{"id":"x","product":"sms"}`, nil, 401, map[string]any{"type": "UNAUTHORIZED", "error_title": "Unauthorized"}},
		{"premature", `{"id":"young","product":"sms"}`, basic(f.key), 403, map[string]any{
			"type": "https://developer.nexmo.com/api-errors/redact#premature-redaction", "title": "Premature Redaction",
			"detail": "You must wait 50 minutes before redacting ID 'young'"}},
		{"not provisioned", `{"id":"x","product":"verify"}`, basic(f.key), 403, map[string]any{
			"type": "https://developer.nexmo.com/api-errors#unprovisioned", "title": "Authorisation error",
			"detail": "User=" + f.key.Key + " is not provisioned to redact product=VERIFY"}},
		{"unknown id", `{"id":"0A000000B0C9A1234","product":"sms","type":"outbound"}`, basic(f.key), 404, map[string]any{
			"type": "https://developer.nexmo.com/api-errors#invalid-id", "title": "Invalid ID",
			"detail": "ID '0A000000B0C9A1234' could not be found (type=MT)"}},
		{"other workspace's id", `{"id":"globex-1","product":"sms"}`, basic(f.key), 404, map[string]any{
			"title": "Invalid ID", "detail": "ID 'globex-1' could not be found (type=MT)"}},
		{"wrong type", `{"id":"bulk-a","product":"sms","type":"inbound"}`, basic(f.key), 404, map[string]any{
			"detail": "ID 'bulk-a' could not be found (type=MO)"}},
		{"invalid json", `{"id":"x" "product":"sms"}`, basic(f.key), 422, map[string]any{
			"type": "https://developer.nexmo.com/api-errors#invalid-json", "title": "Invalid JSON"}},
		{"id of the wrong JSON type", `{"id":2090,"product":"sms"}`, basic(f.key), 422, map[string]any{
			"type": "https://developer.nexmo.com/api-errors#invalid-json", "title": "Invalid JSON", "detail": "id must be a string, not a number"}},
		{"product of the wrong JSON type", `{"id":"x","product":["sms"]}`, basic(f.key), 422, map[string]any{
			"title": "Invalid JSON", "detail": "product must be a string, not an array"}},
		{"type of the wrong JSON type", `{"id":"x","product":"sms","type":true}`, basic(f.key), 422, map[string]any{
			"title": "Invalid JSON", "detail": "type must be a string, not a bool"}},
		{"not an object", `["x"]`, basic(f.key), 422, map[string]any{
			"title": "Invalid JSON", "detail": "the request body is not a JSON object"}},
		{"invalid product", `{"id":"x","product":"sms2"}`, basic(f.key), 422, map[string]any{
			"type": "https://developer.nexmo.com/api-errors/redact#invalid-product", "title": "Invalid Product",
			"detail": "No product corresponding to supplied string sms2!"}},
		{"body too large", `{"id":"` + strings.Repeat("x", 70<<10) + `","product":"sms"}`, basic(f.key), 422, map[string]any{"title": "Invalid JSON"}},
		{"trailing data", `{"id":"bulk-e","product":"sms"}garbage`, basic(f.key), 422, map[string]any{
			"type": "https://developer.nexmo.com/api-errors#invalid-json", "title": "Invalid JSON"}},
		{"a second object", `{"id":"bulk-e","product":"sms"} {"id":"bulk-f","product":"sms"}`, basic(f.key), 422, map[string]any{
			"type": "https://developer.nexmo.com/api-errors#invalid-json", "title": "Invalid JSON"}},
		{"trailing white space", `{"id":"bulk-g","product":"sms"}` + "\r\n ", basic(f.key), 204, nil},
		{"idempotency key over 128 bytes", `{"id":"bulk-h","product":"sms"}`, with(basic(f.key), "Idempotency-Key", strings.Repeat("k", 129)), 422, map[string]any{
			"type": "https://developer.nexmo.com/api-errors/redact#invalid-idempotency-key", "title": "Invalid Idempotency Key",
			"detail": "Idempotency-Key must be at most 128 bytes"}},
		{"idempotency key of 128 bytes", `{"id":"bulk-i","product":"sms"}`, with(basic(f.key), "Idempotency-Key", strings.Repeat("k", 128)), 204, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := f.do(t, "POST", "/v1/redact/transaction", tc.body, tc.auth)
			require.Equal(t, tc.status, status, "%v", body)
			for k, v := range tc.want {
				assert.Equal(t, v, body[k], k)
			}
			if status >= 400 && status != 401 {
				assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
				assert.Regexp(t, `^[0-9a-f]{32}$`, body["instance"], "a per-request trace ID")
			}
		})
	}
	got, err := f.s.Get("acme", "209ab3c7536542b91e8b5aef032f6861")
	require.NoError(t, err)
	assert.Empty(t, got.Body)
	assert.False(t, got.To.IsValid())
	assert.NotContains(t, f.log.String(), "8031234567", "no number in the access log")
	assert.NotContains(t, f.log.String(), "secret body")
	for _, id := range []string{"bulk-e", "bulk-f", "bulk-h"} {
		got, err := f.s.Get("acme", id)
		require.NoError(t, err)
		assert.Equal(t, "secret body", got.Body, "%s: a refused request changes nothing", id)
	}
}

func TestRateLimit(t *testing.T) {
	f := setup(t, &httpapi.Options{RateLimit: 1, Burst: 2})
	var statuses []int
	var last http.Header
	var body map[string]any
	for range 4 {
		var status int
		status, last, body = f.do(t, "POST", "/v1/redact/transaction", `{"id":"bulk-a","product":"sms"}`, basic(f.key))
		statuses = append(statuses, status)
	}
	assert.Equal(t, []int{204, 204, 429, 429}, statuses)
	assert.Equal(t, "1", last.Get("Retry-After"))
	assert.Equal(t, "Rate Limit Hit", body["title"])
	assert.Equal(t, "https://developer.nexmo.com/api-errors/redact#rate-limit", body["type"])
	// Another key has its own budget.
	status, _, _ := f.do(t, "GET", "/v1/records/globex-1", "", bearer(f.other.Token))
	assert.Equal(t, 200, status)
}

func TestContactErasureContract(t *testing.T) {
	f := setup(t, nil)
	status, _, body := f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	assert.Equal(t, map[string]any{"erased": true, "e164": "+2348031234567", "records_affected": float64(16)}, body)
	status, _, body = f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", bearer(f.key.Token))
	require.Equal(t, 200, status)
	assert.Equal(t, float64(0), body["records_affected"], "idempotent")
	other, err := f.s.Get("globex", "globex-1")
	require.NoError(t, err)
	assert.Equal(t, "other tenant", other.Body, "scoped to the token's workspace")

	for _, path := range []string{"/v1/contacts/", "/v1/contacts/2348031234567", "/v1/contacts/+234", "/v1/contacts/+1234567890123456", "/v1/contacts/+12005550100", "/v1/contacts/+23480312345ab"} {
		status, _, body = f.do(t, "DELETE", path, "", bearer(f.key.Token))
		assert.Equal(t, 400, status, path)
		assert.Equal(t, "INVALID_ARGUMENT", body["error_code"], path)
	}
	for _, auth := range []func(*http.Request){nil, bearer("nope"), bearer(f.key.Key + ".wrong"), basic(f.key)} {
		status, _, body = f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", auth)
		assert.Equal(t, 401, status)
		assert.Equal(t, "UNAUTHORIZED", body["error_code"])
	}
	assert.Contains(t, f.log.String(), "path=/v1/contacts/+234XXXXXXXXXX")
	assert.NotContains(t, f.log.String(), "8031234567")
}

func TestSubjectAccessReads(t *testing.T) {
	f := setup(t, nil)
	status, _, body := f.do(t, "GET", "/v1/records/voice-1", "", bearer(f.key.Token))
	require.Equal(t, 200, status)
	assert.Equal(t, "voice-1", body["id"])
	status, _, _ = f.do(t, "GET", "/v1/records/globex-1", "", bearer(f.key.Token))
	assert.Equal(t, 404, status, "another workspace's record is invisible")

	status, _, body = f.do(t, "GET", "/v1/records?ids=voice-1,nope,globex-1", "", basic(f.key))
	require.Equal(t, 200, status)
	assert.Len(t, body["records"], 1)
	assert.Equal(t, []any{"nope", "globex-1"}, body["ids_not_found"])
	status, _, _ = f.do(t, "GET", "/v1/records?ids=a,b,c,d,e,f,g,h,i,j,k", "", basic(f.key))
	assert.Equal(t, 400, status)

	var ids []string
	cursor := ""
	for range 10 {
		status, _, body = f.do(t, "GET", "/v1/records?number=%2B2348031234567&limit=5&cursor="+cursor, "", bearer(f.key.Token))
		require.Equal(t, 200, status, "%v", body)
		for _, r := range body["records"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Len(t, ids, 16)
	for _, q := range []string{"since=yesterday", "since=1970-01-01T00:00:00Z", "until=1969-12-31T23:59:59Z", "until=2300-01-01T00:00:00Z", "cursor=nope", "limit=0"} {
		status, hdr, body := f.do(t, "GET", "/v1/records?number=%2B2348031234567&"+q, "", bearer(f.key.Token))
		assert.Equal(t, 400, status, "%s: %v", q, body)
		assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"), q)
		assert.Equal(t, "Invalid Parameters", body["title"], q)
	}
	status, _, _ = f.do(t, "GET", "/v1/records/voice-1", "", nil)
	assert.Equal(t, 401, status)
}

// The real @vonage/redact client (its lockfile is in testdata) against the
// server. Under CI=true a missing node or package fails the test.
func TestVonageRedactClient(t *testing.T) {
	node, err := exec.LookPath("node")
	modules := filepath.Join("testdata", "node_modules", "@vonage", "redact")
	_, statErr := os.Stat(modules)
	if err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node (%v) or @vonage/redact (%v) missing: .ci/run installs them with npm ci", err, statErr)
		}
		t.Skip("node or @vonage/redact not installed: run npm ci in httpapi/testdata")
	}
	f := setup(t, &httpapi.Options{RateLimit: 0.5, Burst: 8})
	type tcase struct {
		Name   string         `json:"name"`
		Params map[string]any `json:"params"`
	}
	cases := []tcase{
		{"success", map[string]any{"id": "209ab3c7536542b91e8b5aef032f6861", "product": "sms", "type": "outbound"}},
		{"sdk enums", map[string]any{"id": "inbound-1", "product": "$SDK:SMS", "type": "$SDK:Inbound"}},
		{"lowercase spec spellings", map[string]any{"id": "bulk-a", "product": "sms", "type": "outbound"}},
		{"omitted type", map[string]any{"id": "voice-1", "product": "$SDK:Voice"}},
		{"unknown id", map[string]any{"id": "0A000000B0C9A1234", "product": "sms", "type": "outbound"}},
		{"premature", map[string]any{"id": "young", "product": "sms"}},
		{"invalid product", map[string]any{"id": "bulk-b", "product": "sms2"}},
		{"rate limit", map[string]any{"id": "bulk-c", "product": "sms"}},
		{"rate limit", map[string]any{"id": "bulk-d", "product": "sms"}},
	}
	run := func(key, secret string, cs []tcase) []map[string]any {
		cfg, _ := json.Marshal(map[string]any{"host": f.srv.URL, "key": key, "secret": secret, "cases": cs})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "redact_client.cjs", string(cfg))
		cmd.Dir = "testdata"
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, stderr.String())
		var res []map[string]any
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var m map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
			res = append(res, m)
		}
		return res
	}
	res := run(f.key.Key, f.key.Secret, cases)
	require.Len(t, res, len(cases))
	want := []int{204, 204, 204, 204, 404, 403, 422, 204, 429}
	for i, r := range res {
		assert.Equal(t, float64(want[i]), r["status"], "%s: %v", r["name"], r["body"])
	}
	assert.Equal(t, "ID '0A000000B0C9A1234' could not be found (type=MT)", res[4]["body"].(map[string]any)["detail"])
	assert.Equal(t, "Premature Redaction", res[5]["body"].(map[string]any)["title"])
	assert.Equal(t, "No product corresponding to supplied string sms2!", res[6]["body"].(map[string]any)["detail"])
	assert.Equal(t, "Rate Limit Hit", res[8]["body"].(map[string]any)["title"])
	assert.Equal(t, "2", res[8]["retryAfter"])

	wrong := run(f.key.Key, "wrong-secret", cases[:1])
	assert.Equal(t, float64(401), wrong[0]["status"])
	assert.Equal(t, map[string]any{"type": "UNAUTHORIZED", "error_title": "Unauthorized"}, wrong[0]["body"])
}

// Bad input on the contact endpoint gets a typed 4xx with an error_code,
// never a 500, and changes nothing.
func TestContactErasureBadInput(t *testing.T) {
	f := setup(t, nil)
	// The key is first used for a redaction: reusing it for an erasure is
	// a different request.
	status, _, body := f.do(t, "POST", "/v1/redact/transaction", `{"id":"bulk-a","product":"sms"}`, with(basic(f.key), "Idempotency-Key", "req-1"))
	require.Equal(t, 204, status, "%v", body)
	for _, tc := range []struct {
		name, path string
		auth       func(*http.Request)
		status     int
		code       string
	}{
		{"idempotency key over 128 bytes", "/v1/contacts/+2348031234567", with(bearer(f.key.Token), "Idempotency-Key", strings.Repeat("k", 129)), 400, "INVALID_ARGUMENT"},
		{"idempotency key reused", "/v1/contacts/+2348031234567", with(bearer(f.key.Token), "Idempotency-Key", "req-1"), 422, "IDEMPOTENCY_KEY_REUSED"},
		{"free-text reason", "/v1/contacts/+2348031234567?reason=she+asked", bearer(f.key.Token), 400, "INVALID_ARGUMENT"},
		{"a number as the reason", "/v1/contacts/+2348031234567?reason=%2B2348031234567", bearer(f.key.Token), 400, "INVALID_ARGUMENT"},
		{"reason over 64 bytes", "/v1/contacts/+2348031234567?reason=" + strings.Repeat("r", 200), bearer(f.key.Token), 400, "INVALID_ARGUMENT"},
		{"upper-case reason", "/v1/contacts/+2348031234567?reason=GDPR_ART17", bearer(f.key.Token), 400, "INVALID_ARGUMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := f.do(t, "DELETE", tc.path, "", tc.auth)
			assert.Equal(t, tc.status, status, "%v", body)
			assert.Equal(t, "application/json", hdr.Get("Content-Type"))
			assert.Equal(t, tc.code, body["error_code"])
			assert.NotEmpty(t, body["message"])
			assert.NotContains(t, fmt.Sprint(body), "8031234567", "no number in the response")
		})
	}
	got, err := f.s.Get("acme", "voice-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"hello"}, got.Transcript, "nothing was erased")

	status, _, body = f.do(t, "DELETE", "/v1/contacts/+2348031234567?reason=gdpr_art17", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	assert.Equal(t, float64(15), body["records_affected"], "16 records hold the number, less bulk-a, whose number the redaction removed")
	var reasons []string
	for _, e := range storetest.AuditEntries(t, f.s, "acme") {
		if e.Action == redaction.ActionDataErasure {
			reasons = append(reasons, e.Reason)
		}
	}
	assert.Equal(t, []string{"gdpr_art17"}, reasons, "the reason reaches the audit, and refused requests wrote none")
	assert.NotContains(t, f.log.String(), "8031234567")

	// And the other way round: a key first used for an erasure, then for
	// a redaction.
	status, _, body = f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", with(bearer(f.key.Token), "Idempotency-Key", "req-2"))
	require.Equal(t, 200, status, "%v", body)
	status, hdr, body := f.do(t, "POST", "/v1/redact/transaction", `{"id":"bulk-b","product":"sms"}`, with(basic(f.key), "Idempotency-Key", "req-2"))
	assert.Equal(t, 422, status, "%v", body)
	assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
	assert.Equal(t, "Idempotency Key Reused", body["title"])
}

// A known path with the wrong method gets 405 with Allow, in the body
// shape of its endpoint.
func TestWrongMethod(t *testing.T) {
	f := setup(t, nil)
	for _, tc := range []struct {
		method, path, allow string
		field, want         string
	}{
		{"GET", "/v1/redact/transaction", "POST", "title", "Method Not Allowed"},
		{"PUT", "/v1/redact/transaction", "POST", "title", "Method Not Allowed"},
		{"GET", "/v1/contacts/+2348031234567", "DELETE", "error_code", "METHOD_NOT_ALLOWED"},
		{"POST", "/v1/contacts/", "DELETE", "error_code", "METHOD_NOT_ALLOWED"},
		{"PUT", "/v1/records/voice-1", "GET, HEAD, DELETE", "title", "Method Not Allowed"},
		{"GET", "/v1/conversations/CON-1", "DELETE", "error_code", "METHOD_NOT_ALLOWED"},
		{"POST", "/v1/records", "GET, HEAD", "title", "Method Not Allowed"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, hdr, body := f.do(t, tc.method, tc.path, "", basic(f.key))
			assert.Equal(t, 405, status)
			assert.Equal(t, tc.allow, hdr.Get("Allow"))
			assert.Equal(t, tc.want, body[tc.field])
			if tc.field == "title" {
				assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
				assert.Regexp(t, `^[0-9a-f]{32}$`, body["instance"])
			}
		})
	}
	assert.NotContains(t, f.log.String(), "8031234567")
}

// Records kept by a legal hold are counted in the answer, and erased is
// then false.
func TestContactErasureReportsHeldRecords(t *testing.T) {
	f := setup(t, nil)
	rd := redaction.New(f.s, nil)
	_, err := rd.HoldRecord(context.Background(), "acme", "voice-1", "litigation-2026-17")
	require.NoError(t, err)
	status, _, body := f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	assert.Equal(t, map[string]any{"erased": false, "e164": "+2348031234567", "records_affected": float64(15), "records_skipped": float64(1)}, body)
	got, err := f.s.Get("acme", "voice-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"hello"}, got.Transcript, "the held record is untouched")

	_, err = rd.ReleaseHold(context.Background(), "acme", redaction.HoldKeyForID("voice-1"))
	require.NoError(t, err)
	status, _, body = f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	assert.Equal(t, map[string]any{"erased": true, "e164": "+2348031234567", "records_affected": float64(1)}, body,
		"records_skipped is left out when none was")
}

// A contact erasure touches records of every product, so it needs a key
// that may redact every product the workspace is provisioned for.
func TestContactErasureNeedsEveryProvisionedProduct(t *testing.T) {
	f := setup(t, nil)
	rd := redaction.New(f.s, nil)
	smsOnly, err := httpapi.AddKey(f.s, "acme", []cdrstore.Product{cdrstore.ProductSMS})
	require.NoError(t, err)
	all, err := httpapi.AddKey(f.s, "acme", nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name        string
		provisioned []cdrstore.Product // nil: every product
		key         httpapi.NewKey
		status      int
	}{
		{"sms key, workspace of sms and voice", []cdrstore.Product{cdrstore.ProductSMS, cdrstore.ProductVoice}, smsOnly, 403},
		{"sms key, workspace of every product", nil, smsOnly, 403},
		{"sms, voice and messages key, workspace of every product", nil, f.key, 403},
		{"key of every product, workspace of every product", nil, all, 200},
		{"sms key, workspace of sms", []cdrstore.Product{cdrstore.ProductSMS}, smsOnly, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rd.SetSettings(context.Background(), "acme", redaction.Settings{Products: tc.provisioned})
			require.NoError(t, err)
			status, hdr, body := f.do(t, "DELETE", "/v1/contacts/+2348031234567?reason=gdpr_art17", "", bearer(tc.key.Token))
			require.Equal(t, tc.status, status, "%v", body)
			if tc.status == 403 {
				assert.Equal(t, "application/json", hdr.Get("Content-Type"))
				assert.Equal(t, "PERMISSION_DENIED", body["error_code"])
				assert.NotEmpty(t, body["message"])
				got, err := f.s.Get("acme", "voice-1")
				require.NoError(t, err)
				assert.Equal(t, []string{"hello"}, got.Transcript, "nothing was erased")
			}
		})
	}
}

// A key revoked while the server runs is refused from the next request
// on, on every endpoint; other keys keep working.
func TestRevokedKeyIsRefusedAtOnce(t *testing.T) {
	f := setup(t, nil)
	status, _, body := f.do(t, "GET", "/v1/records/voice-1", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	status, _, body = f.do(t, "POST", "/v1/redact/transaction", `{"id":"bulk-a","product":"sms"}`, basic(f.key))
	require.Equal(t, 204, status, "%v", body)

	require.NoError(t, httpapi.RevokeKey(f.s, "acme", f.key.Key))
	status, _, body = f.do(t, "GET", "/v1/records/voice-1", "", bearer(f.key.Token))
	assert.Equal(t, 401, status, "%v", body)
	status, _, body = f.do(t, "GET", "/v1/records?ids=voice-1", "", basic(f.key))
	assert.Equal(t, 401, status, "%v", body)
	status, _, body = f.do(t, "POST", "/v1/redact/transaction", `{"id":"bulk-b","product":"sms"}`, basic(f.key))
	assert.Equal(t, 401, status, "%v", body)
	status, _, body = f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", bearer(f.key.Token))
	assert.Equal(t, 401, status, "%v", body)
	assert.Equal(t, "UNAUTHORIZED", body["error_code"])
	got, err := f.s.Get("acme", "voice-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"hello"}, got.Transcript, "the revoked key erased nothing")

	status, _, body = f.do(t, "GET", "/v1/records/globex-1", "", bearer(f.other.Token))
	assert.Equal(t, 200, status, "%v", body)
}

func TestAddedKeyIsAcceptedAtOnce(t *testing.T) {
	f := setup(t, nil)
	// The first request names a key that does not exist yet: refused, and
	// that refusal is not remembered.
	fresh := httpapi.NewKey{Key: "0123456789abcdef", Secret: "s"}
	status, _, body := f.do(t, "GET", "/v1/records/voice-1", "", basic(fresh))
	require.Equal(t, 401, status, "%v", body)

	k, err := httpapi.AddKey(f.s, "acme", nil)
	require.NoError(t, err)
	status, _, body = f.do(t, "GET", "/v1/records/voice-1", "", bearer(k.Token))
	assert.Equal(t, 200, status, "a key added while the server runs is accepted from the next request: %v", body)
}

// Concurrent Redact API requests share one commit, with nothing for the
// server or its clients to do: each gets its own answer (one unknown ID
// its 404 without failing the others) and its own audit entry.
func TestConcurrentRedactionsShareACommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storetest.Open(t, nil)
		var ids []string
		for i := range 8 {
			id := fmt.Sprintf("grp-%d", i)
			ids = append(ids, id)
			require.NoError(t, s.Put(cdrstore.Record{ID: id, Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
				From: plat, To: ada, Body: "secret body", StartedAt: now.Add(-48 * time.Hour)}))
		}
		ids = append(ids, "grp-missing")
		key, err := httpapi.AddKey(s, "acme", nil)
		require.NoError(t, err)
		h := httpapi.New(redaction.New(s, nil), &httpapi.Options{RateLimit: 1e9})

		before := s.GroupStats()
		codes := make([]int, len(ids))
		requests := make([]func(), len(ids))
		for i, id := range ids {
			requests[i] = func() {
				req := httptest.NewRequest("POST", "/v1/redact/transaction", strings.NewReader(fmt.Sprintf(`{"id":%q,"product":"sms","type":"outbound"}`, id)))
				req.SetBasicAuth(key.Key, key.Secret)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				codes[i] = rec.Code
			}
		}
		storetest.InOneGroup(s, requests...)

		for i, id := range ids[:len(ids)-1] {
			assert.Equal(t, http.StatusNoContent, codes[i], id)
			r, err := s.Get("acme", id)
			require.NoError(t, err)
			assert.Empty(t, r.Body, id)
		}
		assert.Equal(t, http.StatusNotFound, codes[len(ids)-1])
		assert.Equal(t, cdrstore.GroupStats{Groups: 2, Calls: uint64(len(ids) + 1)}, s.GroupStats().Sub(before),
			"one commit for all the requests (after the one that held the writer)")
		redactions := 0
		for _, e := range storetest.AuditEntries(t, s, "acme") {
			if e.Action == redaction.ActionRedactTransaction {
				redactions++
			}
		}
		assert.Equal(t, len(ids)-1, redactions)
	})
}

// A credential for a workspace that does not exist is refused: it would
// authenticate requests against a workspace nobody ingests into.
func TestAddKeyNeedsTheWorkspace(t *testing.T) {
	f := setup(t, nil)
	before := storetest.Dump(t, f.s)
	_, err := httpapi.AddKey(f.s, "acmee", nil)
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	var nw *cdrstore.NoWorkspaceError
	require.ErrorAs(t, err, &nw)
	assert.Equal(t, "acmee", nw.Workspace)
	assert.Equal(t, before, storetest.Dump(t, f.s))
}

// Records whose platform side is a sender ID or a short code are read
// over HTTP as given, by ID and by the counterparty's number.
func TestSubjectAccessShowsSenderIDs(t *testing.T) {
	f := setup(t, nil)
	old := now.Add(-48 * time.Hour)
	bob := e164.MustParse("+447911123456", "")
	require.NoError(t, f.s.PutBatch([]cdrstore.Record{
		{ID: "mt-alpha", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound, FromAlias: cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "ACME"}, To: bob, Body: "code 1234", StartedAt: old},
		{ID: "mo-short", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound, From: bob, ToAlias: cdrstore.Alias{Kind: cdrstore.AliasShortCode, Value: "32665"}, Body: "STOP", StartedAt: old.Add(time.Minute)},
	}))
	status, _, body := f.do(t, "GET", "/v1/records/mt-alpha", "", bearer(f.key.Token))
	require.Equal(t, 200, status)
	assert.Equal(t, "ACME", body["from"])
	status, _, body = f.do(t, "GET", "/v1/records?number=%2B447911123456", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	recs := body["records"].([]any)
	require.Len(t, recs, 2)
	assert.Equal(t, "ACME", recs[0].(map[string]any)["from"])
	assert.Equal(t, "32665", recs[1].(map[string]any)["to"])
}

// Obfuscated numbers over HTTP (scenario 1 of #11): once auto-redaction
// obfuscated the counterparty and kept the content, GET ?number= still
// lists the records (with the masked number), paginated across the two
// indexes, and DELETE /v1/contacts erases them.
func TestSubjectAccessFindsObfuscatedRecords(t *testing.T) {
	f := setup(t, nil)
	rd := redaction.New(f.s, nil)
	_, err := rd.SetSettings(context.Background(), "acme", redaction.Settings{
		Products:   []cdrstore.Product{cdrstore.ProductSMS, cdrstore.ProductVoice, cdrstore.ProductMessages},
		AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Address: true, Hold: redaction.Duration(6 * time.Hour)}},
	})
	require.NoError(t, err)
	res, err := rd.AutoRedact(context.Background(), now, redaction.AutoRedactOptions{})
	require.NoError(t, err)
	require.Equal(t, 14, res.AddressesObfuscated, "every SMS but the young one")

	var ids []string
	masked := 0
	cursor := ""
	for range 10 {
		status, _, body := f.do(t, "GET", "/v1/records?number=%2B2348031234567&limit=5&cursor="+cursor, "", bearer(f.key.Token))
		require.Equal(t, 200, status, "%v", body)
		for _, r := range body["records"].([]any) {
			rec := r.(map[string]any)
			ids = append(ids, rec["id"].(string))
			if rec["to"] == ada.Obfuscate() || rec["from"] == ada.Obfuscate() {
				masked++
			}
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Len(t, ids, 16, "the same records as before the obfuscation")
	assert.Equal(t, 14, masked, "an obfuscated record shows the masked number")

	status, _, body := f.do(t, "DELETE", "/v1/contacts/+2348031234567", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	assert.Equal(t, float64(16), body["records_affected"])
}

// A phone number inside an Idempotency-Key is not in the file once the
// record it names is redacted and the store scrubbed; the key still
// replays.
func TestIdempotencyKeyHoldsNoPlaintextNumber(t *testing.T) {
	f := setup(t, nil)
	bob := e164.MustParse("+447911123456", "")
	require.NoError(t, f.s.Put(cdrstore.Record{ID: "to-bob", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: plat, To: bob, Body: "hello", StartedAt: now.Add(-48 * time.Hour)}))
	key := with(basic(f.key), "Idempotency-Key", "redact-"+bob.String())
	status, _, body := f.do(t, "POST", "/v1/redact/transaction", `{"id":"to-bob","product":"sms"}`, key)
	require.Equal(t, 204, status, "%v", body)
	_, err := f.s.Scrub(context.Background())
	require.NoError(t, err)
	raw, err := os.ReadFile(f.s.Path())
	require.NoError(t, err)
	assert.False(t, bytes.Contains(raw, []byte("447911123456")), "the number is in no byte of the file")
	status, _, body = f.do(t, "POST", "/v1/redact/transaction", `{"id":"to-bob","product":"sms"}`, key)
	assert.Equal(t, 204, status, "a replay: %v", body)
}
