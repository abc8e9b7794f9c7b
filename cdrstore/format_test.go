package cdrstore_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var writeFixtures = flag.Bool("write-format-fixtures", false, "rewrite testdata/format/v<N>/store.db (only when a new format is born)")

// fixtureKey is the subject key of the frozen fixtures.
var fixtureKey = []byte("format-fixture-key-0123456789abcdef")

// formatRecords are the records frozen in testdata/format/v1/store.db.
func formatRecords() []cdrstore.Record {
	full := fullRecord()
	sms := cdrstore.Record{ID: "sms-1", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound,
		From: e164.MustParse("+2348031234567", ""), To: e164.MustParse("+14155552671", ""), Body: "STOP",
		StartedAt: time.Date(2025, 2, 28, 10, 0, 0, 0, time.UTC), Price: "0.0065", Currency: "EUR"}
	redacted := sms
	redacted.ID, redacted.Workspace, redacted.Body = "sms-2", "globex", ""
	redacted.From = e164.Number{}
	redacted.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldFromObfuscated, At: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Masked: "+234803123XXXX"}
	return []cdrstore.Record{full, sms, redacted}
}

// TestFormatFixtures opens the store files written by earlier versions
// (copied first: tests never touch the fixtures) and reads them back.
// The v1 fixture was written by: go test ./cdrstore -run TestFormatFixtures -write-format-fixtures
func TestFormatFixtures(t *testing.T) {
	src := filepath.Join("testdata", "format", "v1", "store.db")
	if *writeFixtures {
		os.Remove(src)
		s, err := cdrstore.Open(src, &cdrstore.Options{SubjectKey: fixtureKey, Now: func() time.Time { return storetest.Epoch }})
		require.NoError(t, err)
		require.NoError(t, s.PutBatch(formatRecords()))
		require.NoError(t, s.Update(func(tx *cdrstore.Tx) error {
			_, err := tx.AppendAudit("acme", audit.Entry{Time: storetest.Epoch, Action: "data.erasure", Reason: "gdpr_art17",
				Subject: s.SubjectHMAC("+2348031234567"), Count: 1})
			return err
		}))
		require.NoError(t, s.Close())
	}
	dst := filepath.Join(t.TempDir(), "store.db")
	storetest.CopyFile(t, src, dst)
	s, err := cdrstore.Open(dst, &cdrstore.Options{SubjectKey: fixtureKey})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(context.Background()))
	for _, want := range formatRecords() {
		got, err := s.Get(want.Workspace, want.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		head, ok, err := tx.AuditHead("acme")
		require.True(t, ok)
		assert.Equal(t, "data.erasure", head.Action)
		return err
	}))
	// Read-only opens of the current format work too.
	require.NoError(t, s.Close())
	ro, err := cdrstore.Open(dst, &cdrstore.Options{SubjectKey: fixtureKey, ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, ro.Close())
}

// Every format from the oldest supported up to the newest has a
// migration to the next.
func TestMigrationsCoverEveryFormat(t *testing.T) {
	for v := cdrstore.FormatMinSupported; v < cdrstore.FormatNewest; v++ {
		assert.True(t, cdrstore.HasMigration(v), "no migration from format %d", v)
	}
}
