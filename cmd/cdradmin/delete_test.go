package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delete removes a record, or every leg of a conversation: audited, held
// legs kept and listed, recordings handed to the outbox.
func TestDeleteLegs(t *testing.T) {
	db := fixtureDB(t, 400)
	leg := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.ConversationID != "" && r.RecordingURL != "" })
	var legs []cdrstore.Record
	s, err := cdrstore.Open(db, &cdrstore.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for r, err := range tx.ByConversation("acme", leg.ConversationID, cdrstore.Query{}) {
			if err != nil {
				return err
			}
			legs = append(legs, r)
		}
		return nil
	}))
	require.NoError(t, s.Close())
	require.NotEmpty(t, legs)

	other := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.ConversationID == "" })
	code, out, stderr := cli(t, "", "--db", db, "delete", "-w", "acme", "--id", other.ID)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "deleted 1 records (record "+other.ID+") in acme\n", firstLine(out))
	code, out, stderr = cli(t, "", "--db", db, "delete", "-w", "acme", "--id", other.ID, "--json")
	require.Equal(t, 0, code, stderr)
	assert.JSONEq(t, `{"deleted":true,"id":"`+other.ID+`","records_affected":0}`, out, "a repeat deletes nothing")

	code, _, stderr = cli(t, "", "--db", db, "hold", "add", "-w", "acme", "--id", leg.ID, "--reason", "litigation")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, "", "--db", db, "delete", "-w", "acme", "--id", leg.ID)
	assert.Equal(t, 1, code)
	assert.Equal(t, "cdradmin delete: redaction: record \""+leg.ID+"\": legal hold: litigation\n", stderr)

	code, out, stderr = cli(t, "", "--db", db, "delete", "-w", "acme", "--conversation", leg.ConversationID, "--json")
	require.Equal(t, 0, code, stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, map[string]any{"deleted": false, "conversation_id": leg.ConversationID,
		"records_affected": float64(len(legs) - 1), "records_skipped": float64(1)}, got)
	for _, r := range legs {
		code, _, _ := cli(t, "", "--db", db, "get", "-w", "acme", r.ID)
		if r.ID == leg.ID {
			assert.Equal(t, 0, code, "the held leg stays")
		} else {
			assert.Equal(t, 1, code, "leg %s is gone", r.ID)
		}
	}

	code, out, stderr = cli(t, "", "--db", db, "audit", "list", "-w", "acme", "--limit", "3")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 2, strings.Count(out, "record.delete"), out)
	code, out, stderr = cli(t, "", "--db", db, "drain", "--log-only")
	require.Equal(t, 0, code, stderr)
	for _, r := range legs {
		if r.RecordingURL != "" && r.ID != leg.ID {
			assert.Contains(t, out, r.RecordingURL)
		}
	}
	assert.NotContains(t, out, leg.RecordingURL, "the held leg's recording stays")

	for _, args := range [][]string{
		{"delete", "-w", "acme"},
		{"delete", "-w", "acme", "--id", "x", "--conversation", "y"},
		{"delete", "--id", "x"},
	} {
		code, _, stderr := cli(t, "", append([]string{"--db", db}, args...)...)
		assert.Equal(t, 2, code, args)
		assert.Contains(t, stderr, "need -w WS and one of --id or --conversation")
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l + "\n"
}
