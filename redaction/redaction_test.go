package redaction_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/audit"
	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	ada  = e164.MustParse("+2348031234567", "")
	bob  = e164.MustParse("+447911123456", "")
	plat = e164.MustParse("+14155552671", "")
	now  = storetest.Epoch
	old  = now.Add(-48 * time.Hour)
	ctx  = context.Background()
)

func smsOut(id string, to e164.Number, body string) cdrstore.Record {
	return cdrstore.Record{ID: id, Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: plat, To: to, Body: body, StartedAt: old, Status: "delivered", Price: "0.0065", Currency: "EUR"}
}

func smsIn(id string, from e164.Number, body string) cdrstore.Record {
	r := smsOut(id, plat, body)
	r.Direction, r.From = cdrstore.Inbound, from
	return r
}

func voice(id string, to e164.Number, conv string) cdrstore.Record {
	return cdrstore.Record{ID: id, Workspace: "acme", Product: cdrstore.ProductVoice, Direction: cdrstore.Outbound,
		From: plat, To: to, Transcript: []string{"hi it's Ada", "call me back"}, RecordingURL: "https://media.example.net/rec/" + id + ".mp3",
		ConversationID: conv, StartedAt: old, EndedAt: old.Add(time.Minute), Status: "completed"}
}

func message(id string, from e164.Number) cdrstore.Record {
	return cdrstore.Record{ID: id, Workspace: "acme", Product: cdrstore.ProductMessages, Direction: cdrstore.Inbound,
		From: from, To: plat, Body: "photo of my passport", Media: []cdrstore.Media{{URL: "https://media.example.net/m/" + id + ".jpg"}},
		StartedAt: old}
}

func setup(t *testing.T, recs ...cdrstore.Record) (*cdrstore.Store, *redaction.Redactor) {
	t.Helper()
	s := storetest.Open(t, nil)
	require.NoError(t, s.PutBatch(recs))
	return s, redaction.New(s, nil)
}

func byNumber(t *testing.T, s *cdrstore.Store, n e164.Number) []cdrstore.Record {
	t.Helper()
	var out []cdrstore.Record
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for r, err := range tx.ByNumber("acme", n, cdrstore.Query{}) {
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	}))
	return out
}

// The semantics table of DESIGN.md, row by row, field by field.
func TestRedactByIDSemantics(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  cdrstore.Record
		want func(r cdrstore.Record) cdrstore.Record
	}{
		{"sms outbound", smsOut("s1", ada, "your code is 4711"), func(r cdrstore.Record) cdrstore.Record {
			r.Body, r.To = "", e164.Number{}
			r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldTo, At: now}
			return r
		}},
		{"sms inbound", smsIn("s2", ada, "STOP"), func(r cdrstore.Record) cdrstore.Record {
			r.Body, r.From = "", e164.Number{}
			r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldFrom, At: now}
			return r
		}},
		{"voice", voice("v1", ada, "c1"), func(r cdrstore.Record) cdrstore.Record {
			r.Transcript, r.RecordingURL, r.To = nil, "", e164.Number{}
			r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldTranscript | cdrstore.FieldRecording | cdrstore.FieldTo, At: now}
			return r
		}},
		{"messages", message("m1", ada), func(r cdrstore.Record) cdrstore.Record {
			r.Body, r.Media, r.From = "", nil, e164.Number{}
			r.Redacted = cdrstore.Redaction{Fields: cdrstore.FieldBody | cdrstore.FieldMedia | cdrstore.FieldFrom, At: now}
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rd := setup(t, tc.rec)
			res, err := rd.RedactByID(ctx, "acme", tc.rec.ID, tc.rec.Product, tc.rec.Direction)
			require.NoError(t, err)
			assert.Equal(t, 1, res.Affected)
			assert.Equal(t, redaction.ActionRedactTransaction, res.Action)
			got, err := s.Get("acme", tc.rec.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.want(tc.rec), got)
			assert.Empty(t, byNumber(t, s, ada), "the counterparty's index entries are gone")
			assert.Len(t, byNumber(t, s, plat), 1, "the platform number stays")

			again, err := rd.RedactByID(ctx, "acme", tc.rec.ID, tc.rec.Product, tc.rec.Direction)
			require.NoError(t, err)
			assert.Equal(t, 0, again.Affected, "a repeat changes nothing")
		})
	}
}

func TestEraseContactSemantics(t *testing.T) {
	recs := []cdrstore.Record{smsOut("s1", ada, "hello Ada"), smsIn("s2", ada, "hi"), voice("v1", ada, "c1"), message("m1", ada), smsOut("s3", bob, "hello Bob")}
	s, rd := setup(t, recs...)
	res, err := rd.EraseContact(ctx, "acme", ada, "ndpr_right_to_erasure")
	require.NoError(t, err)
	assert.True(t, res.Erased)
	assert.Equal(t, ada, res.E164)
	assert.Equal(t, 4, res.RecordsAffected)

	got := byNumber(t, s, ada)
	require.Len(t, got, 4, "numbers and index entries stay")
	for _, r := range got {
		assert.True(t, r.From == ada || r.To == ada)
		assert.Empty(t, r.RecordingURL)
		assert.Empty(t, r.Media)
		switch r.Product {
		case cdrstore.ProductVoice:
			assert.Equal(t, []string{"[REDACTED]"}, r.Transcript)
			assert.Empty(t, r.Body)
		default:
			assert.Equal(t, "[REDACTED]", r.Body)
		}
	}
	untouched, err := s.Get("acme", "s3")
	require.NoError(t, err)
	assert.Equal(t, "hello Bob", untouched.Body)

	again, err := rd.EraseContact(ctx, "acme", ada, "ndpr_right_to_erasure")
	require.NoError(t, err)
	assert.True(t, again.Erased)
	assert.Equal(t, 0, again.RecordsAffected)

	// Recordings and media went to the outbox; the drain hands them over.
	var deleted []string
	dr, err := rd.DrainOutbox(ctx, "acme", redaction.DeleterFunc(func(_ context.Context, url string) error {
		deleted = append(deleted, url)
		return nil
	}))
	require.NoError(t, err)
	assert.Equal(t, 2, dr.Deleted)
	assert.Equal(t, 0, dr.Pending)
	assert.ElementsMatch(t, []string{"https://media.example.net/rec/v1.mp3", "https://media.example.net/m/m1.jpg"}, deleted)

	entries := storetest.AuditEntries(t, s, "acme")
	require.Len(t, entries, 2)
	assert.Equal(t, "data.erasure", entries[0].Action)
	assert.Equal(t, "ndpr_right_to_erasure", entries[0].Reason)
	assert.Equal(t, uint64(4), entries[0].Count)
	assert.Equal(t, s.SubjectHMAC(ada.String()), entries[0].Subject)
}

func TestRedactByIDRefusals(t *testing.T) {
	young := smsOut("young", ada, "x")
	young.StartedAt = now.Add(-10 * time.Minute)
	s, rd := setup(t, smsOut("s1", ada, "x"), smsIn("s2", ada, "x"), young)

	_, err := rd.RedactByID(ctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Inbound)
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	assert.Contains(t, err.Error(), "(type=MO)")
	_, err = rd.RedactByID(ctx, "acme", "s2", cdrstore.ProductSMS, cdrstore.Outbound)
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	assert.Contains(t, err.Error(), "(type=MT)")
	_, err = rd.RedactByID(ctx, "acme", "s1", cdrstore.ProductVoice, cdrstore.Outbound)
	require.ErrorIs(t, err, cdrstore.ErrNotFound, "product mismatch is not found")
	_, err = rd.RedactByID(ctx, "acme", "nope", cdrstore.ProductSMS, cdrstore.Outbound)
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	_, err = rd.RedactByID(ctx, "other", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.ErrorIs(t, err, cdrstore.ErrNotFound, "another workspace cannot reach it")

	_, err = rd.RedactByID(ctx, "acme", "young", cdrstore.ProductSMS, cdrstore.Outbound)
	var pe *redaction.PrematureRedactionError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, redaction.ErrPrematureRedaction)
	assert.Equal(t, 50*time.Minute, pe.Wait)
	assert.Equal(t, young.StartedAt.Add(time.Hour), pe.EligibleAt)

	_, err = rd.SetSettings(ctx, "acme", redaction.Settings{Products: []cdrstore.Product{cdrstore.ProductVoice}, PrematureWindow: redaction.Duration(5 * time.Minute)})
	require.NoError(t, err)
	_, err = rd.RedactByID(ctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.ErrorIs(t, err, redaction.ErrNotProvisioned)

	got, err := s.Get("acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, "x", got.Body, "refusals change nothing")
}

func TestParseProduct(t *testing.T) {
	for in, want := range map[string]cdrstore.Product{
		"sms": cdrstore.ProductSMS, "SMS": cdrstore.ProductSMS, "Voice": cdrstore.ProductVoice,
		"NumberInsight": cdrstore.ProductNumberInsight, "number-insight": cdrstore.ProductNumberInsight,
		"Verify": cdrstore.ProductVerify, "VerifySDK": cdrstore.ProductVerifySDK, "verify-sdk": cdrstore.ProductVerifySDK,
		"messages": cdrstore.ProductMessages, "MESSAGES": cdrstore.ProductMessages,
	} {
		got, err := redaction.ParseProduct(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := redaction.ParseProduct("sms2")
	require.ErrorIs(t, err, redaction.ErrInvalidProduct)
	assert.Equal(t, `redaction: no product corresponding to supplied string "sms2"`, err.Error())
	// A number given as the product is masked, and a long name cut, in
	// the error's text and in its detail alike.
	for in, shown := range map[string]string{
		"+234 803 123 4567":                "+234XXXXXXXXXX",
		"sms to 08031234567":               "sms to 080XXXXXXXX",
		strings.Repeat("numberinsight", 4): strings.Repeat("numberinsight", 4)[:32],
		strings.Repeat("é", 20):            strings.Repeat("é", 16), // 32 bytes, not 31 and half a character
		"x" + strings.Repeat("é", 20):      "x" + strings.Repeat("é", 15),
	} {
		_, err = redaction.ParseProduct(in)
		var pe *redaction.ProductError
		require.ErrorAs(t, err, &pe, in)
		assert.Equal(t, shown, pe.Input, in)
		assert.Equal(t, fmt.Sprintf("redaction: no product corresponding to supplied string %q", shown), err.Error())
	}

	for in, want := range map[string]cdrstore.Direction{"": cdrstore.Outbound, "Outbound": cdrstore.Outbound, "inbound": cdrstore.Inbound, "INBOUND": cdrstore.Inbound} {
		got, err := redaction.ParseDirection(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err = redaction.ParseDirection("sideways")
	require.ErrorIs(t, err, redaction.ErrInvalidDirection)
}

var errInjected = errors.New("injected fault")

// A fault injected before write step i leaves the store's logical dump as
// it was; i is raised until the operation succeeds.
func TestFaultInjection(t *testing.T) {
	ops := []struct {
		name string
		run  func(rd *redaction.Redactor) error
	}{
		{"RedactByID", func(rd *redaction.Redactor) error {
			_, err := rd.RedactByID(redaction.WithRequest(ctx, redaction.Request{ID: "req-1"}), "acme", "v1", cdrstore.ProductVoice, cdrstore.Outbound)
			return err
		}},
		{"EraseContact", func(rd *redaction.Redactor) error {
			_, err := rd.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "req-2"}), "acme", ada, "gdpr_art17")
			return err
		}},
		{"DeleteConversation", func(rd *redaction.Redactor) error {
			_, err := rd.DeleteConversation(ctx, "acme", "c1")
			return err
		}},
		{"EraseContactAheadOfWorkspace", func(rd *redaction.Redactor) error {
			_, err := rd.EraseContactWith(ctx, "fleet-ws", ada, "gdpr_art17", redaction.EraseContactOptions{AheadOfWorkspace: true})
			return err
		}},
		{"SetSettings", func(rd *redaction.Redactor) error {
			_, err := rd.SetSettings(ctx, "acme", redaction.Settings{Retention: redaction.Retention{Months: 6}})
			return err
		}},
	}
	for _, tc := range ops {
		t.Run(tc.name, func(t *testing.T) {
			s, rd := setup(t, voice("v1", ada, "c1"), voice("v2", ada, "c1"), smsOut("s1", ada, "hello"), message("m1", ada))
			injectFaults(t, s, rd, func() error { return tc.run(rd) })
		})
	}
}

// injectFaults runs run with a fault injected before write step i of rd's
// operations (and of its write hook), for i = 0, 1, … until run succeeds;
// after each failure the store's logical dump must be as it was, and it
// must pass Check. It returns how many steps failed before the success.
func injectFaults(t *testing.T, s *cdrstore.Store, rd *redaction.Redactor, run func() error) int {
	t.Helper()
	for i := 0; ; i++ {
		require.Less(t, i, 100, "the operation never succeeded")
		before := storetest.Dump(t, s)
		step := 0
		redaction.SetHook(rd, func(name string) error {
			if step++; step > i {
				return fmt.Errorf("step %d (%s): %w", step, name, errInjected)
			}
			return nil
		})
		err := run()
		redaction.SetHook(rd, nil)
		if err == nil {
			return i
		}
		require.ErrorIs(t, err, errInjected)
		require.Equal(t, before, storetest.Dump(t, s), "fault at step %d left a trace", i+1)
		require.NoError(t, s.Check(ctx))
	}
}

func TestCancelledContextChangesNothing(t *testing.T) {
	var recs []cdrstore.Record
	for i := range 300 {
		recs = append(recs, smsOut(fmt.Sprintf("s%d", i), ada, "hello"))
	}
	s, rd := setup(t, recs...)
	before := storetest.Dump(t, s)
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err := rd.EraseContact(c, "acme", ada, "gdpr_art17")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, storetest.Dump(t, s))
}

// No audit entry holds a number or a body, in any encoding the bytes
// could carry them.
func TestAuditHoldsNoPlaintext(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "secret-body-marker"), voice("v1", ada, "c1"))
	_, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	_, err = rd.RedactByID(ctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	_, err = rd.HoldNumber(ctx, "acme", bob, "litigation")
	require.NoError(t, err)
	_, err = rd.OptOut(ctx, "acme", ada)
	require.NoError(t, err)
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for e, err := range tx.AuditEntries("acme", 0) {
			require.NoError(t, err)
			raw, err := audit.Encode(e)
			require.NoError(t, err)
			for _, secret := range []string{ada.String(), ada.String()[1:], "8031234567", bob.String()[1:], "secret-body-marker", "hi it's Ada"} {
				assert.NotContains(t, string(raw), secret)
			}
		}
		for _, name := range []cdrstore.Name{cdrstore.BucketOptout, cdrstore.BucketHolds} {
			kv, err := tx.Bucket("acme", name)
			require.NoError(t, err)
			for k, v := range kv.Scan(nil, nil) {
				assert.NotContains(t, string(k)+string(v), "8031234567")
				assert.NotContains(t, string(k)+string(v), "7911123456")
			}
		}
		return nil
	}))
}

func TestOptOutSurvivesErasure(t *testing.T) {
	_, rd := setup(t, smsIn("s1", ada, "STOP"))
	_, err := rd.OptOut(ctx, "acme", ada)
	require.NoError(t, err)
	_, err = rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	_, err = rd.RedactByID(ctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Inbound)
	require.NoError(t, err)
	ok, since, err := rd.IsOptedOut("acme", ada)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, now, since)
}

func TestDrainOutboxAtLeastOnce(t *testing.T) {
	s, rd := setup(t, voice("v1", ada, "c1"), voice("v2", bob, "c2"))
	_, err := rd.DeleteConversation(ctx, "acme", "c1")
	require.NoError(t, err)
	_, err = rd.DeleteRecord(ctx, "acme", "v2")
	require.NoError(t, err)
	_, err = s.Get("acme", "v1")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)

	failing := redaction.DeleterFunc(func(context.Context, string) error { return errors.New("blob store down") })
	dr, err := rd.DrainOutbox(ctx, "", failing)
	require.NoError(t, err)
	assert.Equal(t, redaction.DrainResult{Failed: 2, Pending: 2}, dr)

	seen := map[string]int{}
	dr, err = rd.DrainOutbox(ctx, "", redaction.DeleterFunc(func(_ context.Context, url string) error { seen[url]++; return nil }))
	require.NoError(t, err)
	assert.Equal(t, redaction.DrainResult{Deleted: 2}, dr)
	assert.Len(t, seen, 2)
}

// Configuring a workspace that does not exist (a typo) is an error naming
// it, and writes nothing: a hold placed in "acmee" would protect nothing
// in "acme". Releasing a hold that does not exist stays idempotent.
func TestConfiguringAnUnknownWorkspaceFails(t *testing.T) {
	s, rd := setup(t, smsOut("m1", ada, "hello"))
	before := storetest.Dump(t, s)
	for name, do := range map[string]func() error{
		"hold record": func() error { _, err := rd.HoldRecord(ctx, "acmee", "m1", "litigation"); return err },
		"hold number": func() error { _, err := rd.HoldNumber(ctx, "acmee", ada, "litigation"); return err },
		"release":     func() error { _, err := rd.ReleaseHold(ctx, "acmee", redaction.HoldKeyForID("m1")); return err },
		"opt out":     func() error { _, err := rd.OptOut(ctx, "acmee", ada); return err },
		"opt in":      func() error { _, err := rd.RemoveOptOut(ctx, "acmee", ada); return err },
		"settings":    func() error { _, err := rd.SetSettings(ctx, "acmee", redaction.DefaultSettings()); return err },
	} {
		err := do()
		require.ErrorIs(t, err, cdrstore.ErrNotFound, name)
		var nw *cdrstore.NoWorkspaceError
		require.ErrorAs(t, err, &nw, name)
		assert.Equal(t, "acmee", nw.Workspace, name)
	}
	assert.Equal(t, before, storetest.Dump(t, s), "nothing written")

	res, err := rd.ReleaseHold(ctx, "acme", redaction.HoldKeyForID("m1"))
	require.NoError(t, err, "a replayed release must not fail")
	assert.Zero(t, res.AuditSeq, "nothing released, nothing audited")
}

// A redaction after an obfuscation removes the obfuscated counterparty and
// marks that side alone: an outbound record's From (the platform's number)
// stays and is not said to be gone, before or after a re-ingest.
func TestRedactAfterObfuscationMarksTheCounterpartyOnly(t *testing.T) {
	for _, tc := range []struct {
		rec          cdrstore.Record
		gone, kept   cdrstore.Field
		keptNumber   func(cdrstore.Record) e164.Number
		removedField func(cdrstore.Record) e164.Number
	}{
		{smsOut("out", ada, "hello"), cdrstore.FieldTo, cdrstore.FieldFrom, func(r cdrstore.Record) e164.Number { return r.From }, func(r cdrstore.Record) e164.Number { return r.To }},
		{smsIn("in", ada, "hello"), cdrstore.FieldFrom, cdrstore.FieldTo, func(r cdrstore.Record) e164.Number { return r.To }, func(r cdrstore.Record) e164.Number { return r.From }},
	} {
		t.Run(string(tc.rec.Direction), func(t *testing.T) {
			rec := tc.rec
			rec.AddressRetention = cdrstore.AddressObfuscate
			s, rd := setup(t, rec)
			_, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{})
			require.NoError(t, err)
			_, err = rd.RedactByID(ctx, "acme", rec.ID, rec.Product, rec.Direction)
			require.NoError(t, err)

			check := func(when string) {
				got, err := s.Get("acme", rec.ID)
				require.NoError(t, err)
				assert.True(t, got.Redacted.Fields.Has(tc.gone), when)
				assert.False(t, got.Redacted.Fields.Has(tc.kept), "%s: the platform's number is not removed: %s", when, got.Redacted.Fields)
				assert.Equal(t, plat, tc.keptNumber(got), when)
				assert.False(t, tc.removedField(got).IsValid(), when)
				assert.Empty(t, got.Redacted.Masked, when)
			}
			check("after the redaction")
			require.NoError(t, s.Put(tc.rec))
			check("after a re-ingest")
		})
	}
}

func TestValidateReason(t *testing.T) {
	for _, ok := range []string{"gdpr_art17", "ndpr_right_to_erasure", "ccpa_1798", "x"} {
		assert.NoError(t, redaction.ValidateReason(ok), ok)
	}
	for _, bad := range []string{
		"", strings.Repeat("a", 65), "Ndpr", "1st_request", "right to erasure",
		"caller_+2348031234567", "a2348031234567", "case_803_123_4567", "ndpr\x00",
	} {
		err := redaction.ValidateReason(bad)
		require.ErrorIs(t, err, redaction.ErrInvalidReason, "%q", bad)
		assert.NotContains(t, err.Error(), "8031234567", "the error does not quote the input")
	}
}

func TestEraseContactRefusesAReasonThatIsNotACode(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "hello"))
	before := storetest.Dump(t, s)
	_, err := rd.EraseContact(ctx, "acme", ada, "caller +2348031234567 asked")
	require.ErrorIs(t, err, redaction.ErrInvalidReason)
	assert.Equal(t, before, storetest.Dump(t, s), "nothing written, no audit entry")
}

func TestEraseContactSaysWhenAHoldKeptRecords(t *testing.T) {
	_, rd := setup(t, smsOut("s1", ada, "one"), smsOut("s2", ada, "two"))
	_, err := rd.HoldNumber(ctx, "acme", ada, "litigation")
	require.NoError(t, err)
	res, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	assert.False(t, res.Erased, "held records were not erased")
	assert.Equal(t, 0, res.RecordsAffected)
	assert.Equal(t, 2, res.SkippedCount)
}

func TestErasureInAnUnknownWorkspace(t *testing.T) {
	s, rd := setup(t, smsOut("s1", ada, "hello"))
	before := storetest.Dump(t, s)
	_, err := rd.EraseContact(ctx, "acmee", ada, "gdpr_art17")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	_, err = rd.DeleteRecord(ctx, "acmee", "s1")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	_, err = rd.DeleteConversation(ctx, "acmee", "c1")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	assert.Equal(t, before, storetest.Dump(t, s), "no workspace created, no receipt")
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		assert.Equal(t, []string{"acme"}, tx.Workspaces())
		return nil
	}))
}

// An operation that fails after its audit entry was built hands back no
// receipt: the entry was rolled back.
func TestFailedOperationReturnsNoReceipt(t *testing.T) {
	_, rd := setup(t, smsOut("s1", ada, "hello"))
	redaction.SetHook(rd, func(step string) error {
		if step == "request" {
			return errInjected
		}
		return nil
	})
	res, err := rd.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "r1"}), "acme", ada, "gdpr_art17")
	require.ErrorIs(t, err, errInjected)
	assert.Nil(t, res.Receipt)
	assert.Zero(t, res.AuditSeq)
	assert.Zero(t, res.RecordsAffected)
}

// After erasure, redaction and sweep followed by Scrub (in place) or
// Compact (copy and swap), no byte of the erased content remains in any
// file of the store's directory or in a backup; kept content is all still
// there.
func TestScrubLeavesNoResidue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		purge func(*cdrstore.Store) error
	}{
		{"scrub", func(s *cdrstore.Store) error {
			sr, err := s.Scrub(ctx)
			if err == nil && (sr.PagesZeroed == 0 || sr.PagesPinned != 0) {
				err = fmt.Errorf("scrub zeroed %d pages and left %d pinned", sr.PagesZeroed, sr.PagesPinned)
			}
			return err
		}},
		{"compact", func(s *cdrstore.Store) error {
			cr, err := s.Compact(ctx)
			if err == nil && cr.SizeAfter >= cr.SizeBefore {
				err = fmt.Errorf("compact: %d -> %d bytes", cr.SizeBefore, cr.SizeAfter)
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testPurgeLeavesNoResidue(t, tc.purge) })
	}
}

func testPurgeLeavesNoResidue(t *testing.T, purge func(*cdrstore.Store) error) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cdrvault.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true, Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer s.Close()
	rd := redaction.New(s, nil)

	erasedNum := e164.MustParse("+2348031234567", "")
	redactedNum := e164.MustParse("+447911123456", "")
	keptNum := e164.MustParse("+4915112345678", "")
	var recs []cdrstore.Record
	var erased, kept []string
	for i := range 300 {
		body := fmt.Sprintf("ERASED-MARKER-%04d", i)
		r := smsOut(fmt.Sprintf("e%d", i), erasedNum, body)
		erased = append(erased, body)
		recs = append(recs, r)
		kb := fmt.Sprintf("KEPT-MARKER-%04d", i)
		kept = append(kept, kb)
		recs = append(recs, smsOut(fmt.Sprintf("k%d", i), keptNum, kb))
	}
	red := voice("v-red", redactedNum, "c-red")
	red.Transcript = []string{"REDACTED-TRANSCRIPT-MARKER"}
	red.RecordingURL = "https://media.example.net/rec/REDACTED-URL-MARKER.mp3"
	recs = append(recs, red)
	swept := smsOut("swept", keptNum, "SWEPT-MARKER")
	swept.StartedAt = now.AddDate(-2, 0, 0)
	recs = append(recs, swept)
	require.NoError(t, s.PutBatch(recs))
	// More transactions so the erased bytes sit in pages bbolt freed.
	for i := range 20 {
		require.NoError(t, s.Put(smsOut(fmt.Sprintf("x%d", i), keptNum, "filler")))
	}

	_, err = rd.EraseContact(ctx, "acme", erasedNum, "gdpr_art17")
	require.NoError(t, err)
	_, err = rd.RedactByID(ctx, "acme", "v-red", cdrstore.ProductVoice, cdrstore.Outbound)
	require.NoError(t, err)
	_, err = rd.Sweep(ctx, now, redaction.SweepOptions{})
	require.NoError(t, err)
	_, err = rd.DrainOutbox(ctx, "", redaction.DeleterFunc(func(_ context.Context, _ string) error { return nil }))
	require.NoError(t, err)

	gone := append([]string{"REDACTED-TRANSCRIPT-MARKER", "REDACTED-URL-MARKER", "SWEPT-MARKER", redactedNum.String()}, erased...)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	residue := 0
	for _, m := range gone {
		if bytes.Contains(raw, []byte(m)) {
			residue++
		}
	}
	require.Positive(t, residue, "before Scrub, bbolt's free pages still hold erased bytes (else this test proves nothing)")

	require.NoError(t, purge(s))
	var backup bytes.Buffer
	_, err = s.Backup(ctx, &backup)
	require.NoError(t, err)

	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	blobs := [][]byte{backup.Bytes()}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		require.NoError(t, err)
		blobs = append(blobs, b)
	}
	for _, b := range blobs {
		for _, m := range gone {
			assert.False(t, bytes.Contains(b, []byte(m)), "residue of %q", m)
		}
	}
	for _, m := range kept {
		assert.True(t, bytes.Contains(blobs[1], []byte(m)) || bytes.Contains(blobs[0], []byte(m)), "kept %q", m)
		assert.True(t, bytes.Contains(backup.Bytes(), []byte(m)), "backup keeps %q", m)
	}
	// The store still works after the swap.
	got, err := s.Get("acme", "k1")
	require.NoError(t, err)
	assert.Equal(t, "KEPT-MARKER-0001", got.Body)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Put(smsOut("after", keptNum, "post-scrub")))
}

// Only the platform's side may hold a short code or sender ID; a record a
// library caller stored with one on the counterparty's side loses it to a
// redaction, as it would lose the counterparty's number.
func TestRedactionRemovesAnAliasOnTheCounterpartySide(t *testing.T) {
	rec := smsOut("m1", ada, "hello")
	rec.To, rec.ToAlias = e164.Number{}, cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "AdaLovelace"}
	field, ok := redaction.CounterpartyAlias(&rec)
	require.True(t, ok)
	assert.Equal(t, "to", field)
	s, rd := setup(t, rec)
	res, err := rd.RedactByID(ctx, "acme", "m1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Affected)
	got, err := s.Get("acme", "m1")
	require.NoError(t, err)
	assert.True(t, got.ToAlias.IsZero())
	assert.True(t, got.Redacted.Fields.Has(cdrstore.FieldTo))

	// The platform's sender ID stays: it names no person.
	out := smsOut("m2", ada, "hi")
	out.From, out.FromAlias = e164.Number{}, cdrstore.Alias{Kind: cdrstore.AliasSenderID, Value: "ACME"}
	_, ok = redaction.CounterpartyAlias(&out)
	assert.False(t, ok)
	require.NoError(t, s.Put(out))
	_, err = rd.RedactByID(ctx, "acme", "m2", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	got, err = s.Get("acme", "m2")
	require.NoError(t, err)
	assert.Equal(t, "ACME", got.FromAlias.Value)
	assert.False(t, got.To.IsValid())
}
