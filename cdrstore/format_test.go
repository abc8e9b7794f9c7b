package cdrstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var writeFixtures = flag.Bool("write-format-fixtures", false, "rewrite testdata/format/v<N>/store.db (only when a new format is born)")

// fixtureKey is the subject key of the frozen fixtures.
var fixtureKey = storetest.FixtureKey

// formatRecords are the records frozen in testdata/format/v<v>/store.db.
func formatRecords(v uint32) []cdrstore.Record {
	full := fullRecord()
	sms := cdrstore.Record{ID: "sms-1", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound,
		From: e164.MustParse("+2348031234567", ""), To: e164.MustParse("+14155552671", ""), Body: "STOP",
		StartedAt: time.Date(2025, 2, 28, 10, 0, 0, 0, time.UTC), Price: "0.0065", Currency: "EUR"}
	redacted := sms
	redacted.ID, redacted.Workspace, redacted.Body = "sms-2", "globex", ""
	redacted.From = e164.Number{}
	redacted.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldFromObfuscated, At: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Masked: "+234803123XXXX"}
	recs := []cdrstore.Record{full, sms, redacted}
	if v >= cdrstore.FormatV2 {
		// v2 packs IDs: one of each packed form beside full's 32 hex digits.
		uuid, upper := sms, sms
		uuid.ID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
		upper.ID, upper.StartedAt = "0B00000127FDA4E1", sms.StartedAt.Add(time.Second)
		recs = append(recs, uuid, upper)
	}
	if v >= cdrstore.FormatV3 {
		// v3 (codec v2): the platform's side may be a sender ID or a
		// short code.
		alpha, short := sms, sms
		alpha.ID, alpha.Direction, alpha.From, alpha.To = "sender-id-1", cdrstore.Outbound, e164.Number{}, sms.From
		alpha.FromAlias = cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "ACME"}
		short.ID, short.To = "short-code-1", e164.Number{}
		short.ToAlias = cdrstore.Alias{Kind: cdrstore.AliasShortCode, Value: "32665"}
		recs = append(recs, alpha, short)
	}
	return recs
}

// TestFormatFixtures opens the store file written by each format version
// (copied first: tests never touch the fixtures), which migrates it to the
// newest, and reads it back. The fixture of the newest format is written by:
//
//	go test ./cdrstore -run TestFormatFixtures -write-format-fixtures
func TestFormatFixtures(t *testing.T) {
	for v := cdrstore.FormatMinSupported; v <= cdrstore.FormatNewest; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			src := filepath.Join("testdata", "format", fmt.Sprintf("v%d", v), "store.db")
			if *writeFixtures && v == cdrstore.FormatNewest {
				require.NoError(t, os.MkdirAll(filepath.Dir(src), 0o755))
				os.Remove(src)
				s, err := cdrstore.Open(src, &cdrstore.Options{SubjectKey: fixtureKey, Now: func() time.Time { return storetest.Epoch }})
				require.NoError(t, err)
				require.NoError(t, s.PutBatch(formatRecords(v)))
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
			for _, want := range formatRecords(v) {
				got, err := s.Get(want.Workspace, want.ID)
				require.NoError(t, err)
				assert.Equal(t, want, got)
			}
			require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
				head, ok, err := tx.AuditHead("acme")
				require.True(t, ok)
				assert.Equal(t, "data.erasure", head.Action)
				// The indexes lead to the records by their (migrated) keys.
				n := 0
				for r, err := range tx.ByNumber("acme", e164.MustParse("+2348031234567", ""), cdrstore.Query{}) {
					require.NoError(t, err)
					assert.NotEmpty(t, r.ID)
					n++
				}
				assert.Positive(t, n)
				return err
			}))
			// A migrated store is the newest format: read-only opens work.
			require.NoError(t, s.Close())
			ro, err := cdrstore.Open(dst, &cdrstore.Options{SubjectKey: fixtureKey, ReadOnly: true})
			require.NoError(t, err)
			require.NoError(t, ro.Close())
		})
	}
}

// A read-only open of a store in an older format is refused with
// ErrUnsupportedFormat and leaves the file as it was: only a writable
// open migrates.
func TestReadOnlyOpenNeverMigrates(t *testing.T) {
	for v := cdrstore.FormatMinSupported; v < cdrstore.FormatNewest; v++ {
		for _, name := range fixtureFiles(v) {
			src := filepath.Join("testdata", "format", fmt.Sprintf("v%d", v), name)
			dst := filepath.Join(t.TempDir(), name)
			storetest.CopyFile(t, src, dst)
			before, err := os.ReadFile(dst)
			require.NoError(t, err)
			_, err = cdrstore.Open(dst, &cdrstore.Options{SubjectKey: fixtureKey, ReadOnly: true})
			require.ErrorIs(t, err, cdrstore.ErrUnsupportedFormat, "v%d %s", v, name)
			var fe *cdrstore.FormatError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, v, fe.Found)
			assert.True(t, fe.NeedsMigration())
			after, err := os.ReadFile(dst)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(before, after), "v%d %s changed", v, name)
		}
	}
}

// fixtureFiles lists the frozen stores of format v.
func fixtureFiles(v uint32) []string {
	if v == cdrstore.FormatV2 {
		return []string{"store.db", "ops.db"}
	}
	return []string{"store.db"}
}

// The v2 -> v3 migration runs its steps in every workspace in the open's
// one transaction: a step that fails leaves the file in v2, byte for byte,
// and a later open migrates it.
func TestMigrationV3IsOneTransaction(t *testing.T) {
	for _, name := range fixtureFiles(cdrstore.FormatV2) {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), name)
			storetest.CopyFile(t, filepath.Join("testdata", "format", "v2", name), dst)
			before, err := os.ReadFile(dst)
			require.NoError(t, err)
			var seen []string
			boom := errors.New("step failed")
			cdrstore.SetV3Steps(t,
				func(_ *bolt.Tx, ws []byte, root *bolt.Bucket) error {
					seen = append(seen, string(ws))
					_, err := root.CreateBucket([]byte("v3-test"))
					return err
				},
				func(*bolt.Tx, []byte, *bolt.Bucket) error { return boom },
			)
			_, err = cdrstore.Open(dst, &cdrstore.Options{SubjectKey: fixtureKey})
			require.ErrorIs(t, err, boom)
			assert.Contains(t, err.Error(), "migrate format 2 to 3")
			assert.NotEmpty(t, seen)
			after, err := os.ReadFile(dst)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(before, after), "a failed migration changed the file")

			cdrstore.SetV3Steps(t)
			s, err := cdrstore.Open(dst, &cdrstore.Options{SubjectKey: fixtureKey})
			require.NoError(t, err)
			require.NoError(t, s.Check(context.Background()))
			require.NoError(t, s.Close())
		})
	}
}

// The real v3 steps (the requests keyed by HMAC among them) roll back
// with a step that fails after them.
func TestMigrationV3RealStepsRollBack(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "ops.db")
	storetest.CopyFile(t, filepath.Join("testdata", "format", "v2", "ops.db"), dst)
	before, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.True(t, bytes.Contains(before, []byte("erase-+2348031234567")), "the fixture keeps a request ID that holds a number")
	boom := errors.New("step failed")
	cdrstore.FailAfterV3Steps(t, boom)
	_, err = cdrstore.Open(dst, &cdrstore.Options{SubjectKey: fixtureKey})
	require.ErrorIs(t, err, boom)
	after, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after), "a failed migration changed the file")
}

// Every format from the oldest supported up to the newest has a
// migration to the next.
func TestMigrationsCoverEveryFormat(t *testing.T) {
	for v := cdrstore.FormatMinSupported; v < cdrstore.FormatNewest; v++ {
		assert.True(t, cdrstore.HasMigration(v), "no migration from format %d", v)
	}
}

// docs/format.md names the format a new store is written in, in its
// opening paragraph and in the meta table.
func TestFormatDocNamesTheWrittenFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	var written uint32
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		written = binary.BigEndian.Uint32(tx.Bucket([]byte("meta")).Get([]byte("format")))
		return nil
	}))
	require.NoError(t, db.Close())
	assert.Equal(t, cdrstore.FormatNewest, written)

	doc, err := os.ReadFile(filepath.Join("..", "docs", "format.md"))
	require.NoError(t, err)
	assert.Contains(t, string(doc), fmt.Sprintf("(`meta/format` = %d)", written))
	row := regexp.MustCompile("(?m)^\\| `format` +\\| u32be: on-disk format version \\((\\d+)").FindSubmatch(doc)
	require.NotNil(t, row, "the meta table has a format row")
	assert.Equal(t, fmt.Sprint(written), string(row[1]), "the meta table's format row")
}
