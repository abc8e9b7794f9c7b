package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putLegs stores a voice conversation of three legs, two with recordings,
// in acme.
func putLegs(t *testing.T, s *cdrstore.Store) {
	t.Helper()
	at := now.Add(-48 * time.Hour)
	for i, id := range []string{"leg-a", "leg-b", "leg-c"} {
		r := cdrstore.Record{ID: id, Workspace: "acme", Product: cdrstore.ProductVoice, Direction: cdrstore.Outbound,
			From: plat, To: ada, ConversationID: "CON-1", StartedAt: at.Add(time.Duration(i) * time.Second)}
		if i < 2 {
			r.RecordingURL = "https://media.example.net/rec/" + id + ".mp3"
		}
		require.NoError(t, s.Put(r))
	}
}

// DELETE /v1/records/{id} and /v1/conversations/{id} delete voice legs
// with the contact endpoint's rules: Bearer auth, a key that may redact
// the products deleted, holds honoured, an audit entry, recordings to
// the outbox.
func TestDeleteLegs(t *testing.T) {
	f := setup(t, nil)
	putLegs(t, f.s)
	rd := redaction.New(f.s, nil)
	_, err := rd.HoldRecord(context.Background(), "acme", "leg-c", "litigation-2026-17")
	require.NoError(t, err)
	smsOnly, err := httpapi.AddKey(f.s, "acme", []cdrstore.Product{cdrstore.ProductSMS})
	require.NoError(t, err)
	auditBefore := len(storetest.AuditEntries(t, f.s, "acme"))

	status, _, body := f.do(t, "DELETE", "/v1/records/leg-a", "", basic(f.key))
	assert.Equal(t, 401, status, "Bearer only")
	assert.Equal(t, "UNAUTHORIZED", body["error_code"])
	status, _, body = f.do(t, "DELETE", "/v1/records/leg-a", "", bearer(smsOnly.Token))
	assert.Equal(t, 403, status)
	assert.Equal(t, "PERMISSION_DENIED", body["error_code"])
	status, _, body = f.do(t, "DELETE", "/v1/conversations/CON-1", "", bearer(smsOnly.Token))
	assert.Equal(t, 403, status)
	assert.Equal(t, "PERMISSION_DENIED", body["error_code"])
	status, _, body = f.do(t, "DELETE", "/v1/records/leg-a", "", bearer(f.other.Token))
	assert.Equal(t, 200, status, "globex's key sees no acme record")
	assert.Equal(t, float64(0), body["records_affected"])
	_, err = f.s.Get("acme", "leg-a")
	require.NoError(t, err, "refused requests deleted nothing")

	status, _, body = f.do(t, "DELETE", "/v1/records/leg-a", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	assert.Equal(t, map[string]any{"deleted": true, "id": "leg-a", "records_affected": float64(1)}, body)
	_, err = f.s.Get("acme", "leg-a")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)

	status, _, body = f.do(t, "DELETE", "/v1/records/leg-c", "", bearer(f.key.Token))
	assert.Equal(t, 409, status)
	assert.Equal(t, "LEGAL_HOLD", body["error_code"])

	status, _, body = f.do(t, "DELETE", "/v1/conversations/CON-1", "", bearer(f.key.Token))
	require.Equal(t, 200, status, "%v", body)
	assert.Equal(t, map[string]any{"deleted": false, "conversation_id": "CON-1", "records_affected": float64(1), "records_skipped": float64(1)}, body)
	_, err = f.s.Get("acme", "leg-b")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	_, err = f.s.Get("acme", "leg-c")
	require.NoError(t, err, "the held leg stays")

	entries := storetest.AuditEntries(t, f.s, "acme")
	require.Len(t, entries, auditBefore+2, "one entry per deletion; refusals write none")
	for _, e := range entries[auditBefore:] {
		assert.Equal(t, redaction.ActionRecordDelete, e.Action)
		assert.Equal(t, f.key.Key, e.Actor)
	}
	var urls []string
	_, err = rd.DrainOutbox(context.Background(), "acme", redaction.DeleterFunc(func(_ context.Context, url string) error {
		urls = append(urls, url)
		return nil
	}))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"https://media.example.net/rec/leg-a.mp3", "https://media.example.net/rec/leg-b.mp3"}, urls)

	status, _, body = f.do(t, "DELETE", "/v1/conversations/CON-unknown", "", bearer(f.key.Token))
	assert.Equal(t, 200, status, "%v", body)
	assert.Equal(t, float64(0), body["records_affected"], "an unknown conversation has no legs")
}
