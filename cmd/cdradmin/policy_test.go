package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A flag value policy set cannot read is bad usage (exit 2), like
// redact --product sms2, and nothing is written.
func TestPolicySetBadUsage(t *testing.T) {
	db := fixtureDB(t, 100)
	before := fileHash(t, db)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown product", []string{"--products", "sms2"}, `no product corresponding to supplied string "sms2"`},
		{"unknown product in retention", []string{"--retention", "sms2=6"}, `no product corresponding to supplied string "sms2"`},
		{"retention without months", []string{"--retention", "sms"}, "--retention wants PRODUCT=MONTHS"},
		{"unknown product in auto-redact", []string{"--auto-redact", "sms2:any:content:6h"}, `no product corresponding to supplied string "sms2"`},
		{"unknown direction in auto-redact", []string{"--auto-redact", "sms:sideways:content:6h"}, "cdradmin policy: "},
		{"bad premature window", []string{"--premature", "soon"}, "--premature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := cli(t, "", append([]string{"--db", db, "policy", "set", "-w", "acme"}, tc.args...)...)
			assert.Equal(t, 2, code, stderr)
			assert.Empty(t, out)
			assert.Contains(t, stderr, tc.want)
		})
	}
	assert.Equal(t, before, fileHash(t, db), "nothing was written")
}

// sweep and autoredact print how many held records they left alone, all
// of them, not the 1,000 the result lists.
func TestSweepAndAutoRedactPrintEveryHeldRecord(t *testing.T) {
	db := filepath.Join(t.TempDir(), "held.db")
	s, err := cdrstore.Open(db, nil)
	require.NoError(t, err)
	n := e164.MustParse("+2348031234567", "")
	plat := e164.MustParse("+14155552671", "")
	started := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []cdrstore.Record
	for i := range 1200 {
		recs = append(recs, cdrstore.Record{ID: fmt.Sprintf("held-%d", i), Workspace: "acme", Product: cdrstore.ProductSMS,
			Direction: cdrstore.Outbound, From: plat, To: n, Body: "hello", StartedAt: started.Add(time.Duration(i) * time.Second)})
	}
	require.NoError(t, s.PutBatch(recs))
	rd := redaction.New(s, nil)
	_, err = rd.SetSettings(context.Background(), "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{{Product: cdrstore.ProductSMS, Content: true}}})
	require.NoError(t, err)
	_, err = rd.HoldNumber(context.Background(), "acme", n, "litigation")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	code, out, stderr := cli(t, "", "--db", db, "sweep", "--as-of", "2026-11-01T00:00:00Z")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "(held: 1200)")
	code, out, stderr = cli(t, "", "--db", db, "autoredact", "--as-of", "2026-11-01T00:00:00Z")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "held 1200")
}
