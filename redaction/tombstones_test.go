package redaction_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// For each erasure kind, a CDR that started before the erasure and is
// written after it is stored erased (or not at all, for a deletion),
// through every write path; one that started after it is stored whole.
func TestLateRecordsMeetTheirErasure(t *testing.T) {
	late := func(r cdrstore.Record) cdrstore.Record { return r } // started at old: before the erasure
	fresh := func(r cdrstore.Record) cdrstore.Record {
		if !r.EndedAt.IsZero() {
			r.EndedAt = now.Add(r.EndedAt.Sub(r.StartedAt))
		}
		r.StartedAt = now
		r.ID += "-after"
		return r
	}
	cases := []struct {
		name  string
		erase func(rd *redaction.Redactor) error
		rec   cdrstore.Record
		check func(t *testing.T, got cdrstore.Record, err error)
	}{
		{"EraseContact", func(rd *redaction.Redactor) error {
			_, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
			return err
		}, voice("v1", ada, "c1"), func(t *testing.T, got cdrstore.Record, err error) {
			require.NoError(t, err)
			assert.Equal(t, []string{redaction.RedactedBody}, got.Transcript)
			assert.Empty(t, got.RecordingURL)
			assert.Equal(t, ada, got.To, "a contact erasure keeps numbers")
		}},
		{"RedactByID", func(rd *redaction.Redactor) error {
			_, err := rd.RedactByID(ctx, "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
			return err
		}, smsOut("s1", ada, "secret"), func(t *testing.T, got cdrstore.Record, err error) {
			require.NoError(t, err)
			assert.Empty(t, got.Body)
			assert.False(t, got.To.IsValid(), "the counterparty is removed")
			assert.Equal(t, plat, got.From)
		}},
		{"DeleteRecord", func(rd *redaction.Redactor) error {
			_, err := rd.DeleteRecord(ctx, "acme", "v1")
			return err
		}, voice("v1", ada, "c1"), func(t *testing.T, _ cdrstore.Record, err error) {
			assert.ErrorIs(t, err, cdrstore.ErrNotFound)
		}},
		{"DeleteConversation", func(rd *redaction.Redactor) error {
			_, err := rd.DeleteConversation(ctx, "acme", "c1")
			return err
		}, voice("v2", ada, "c1"), func(t *testing.T, _ cdrstore.Record, err error) {
			assert.ErrorIs(t, err, cdrstore.ErrNotFound)
		}},
	}
	paths := []struct {
		name  string
		write func(s *cdrstore.Store, r cdrstore.Record) error
	}{
		{"Put", func(s *cdrstore.Store, r cdrstore.Record) error { return s.Put(r) }},
		{"PutBatch", func(s *cdrstore.Store, r cdrstore.Record) error { return s.PutBatch([]cdrstore.Record{r}) }},
		{"PutGrouped", func(s *cdrstore.Store, r cdrstore.Record) error { return s.PutGrouped([]cdrstore.Record{r}) }},
		{"Tx.Put", func(s *cdrstore.Store, r cdrstore.Record) error {
			return s.Update(func(tx *cdrstore.Tx) error { return tx.Put(r) })
		}},
	}
	for _, tc := range cases {
		for _, p := range paths {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				// The store holds the record when it is erased (a
				// delivery again) or does not (a late CDR): both end
				// the same.
				for _, storedFirst := range []bool{true, false} {
					seed := smsOut("seed", bob, "x")
					recs := []cdrstore.Record{seed}
					if storedFirst || tc.name == "RedactByID" {
						recs = append(recs, tc.rec)
					}
					s, rd := setup(t, recs...)
					require.NoError(t, tc.erase(rd))
					require.NoError(t, p.write(s, late(tc.rec)))
					got, err := s.Get("acme", tc.rec.ID)
					tc.check(t, got, err)

					after := fresh(tc.rec)
					require.NoError(t, p.write(s, after))
					got, err = s.Get("acme", after.ID)
					require.NoError(t, err)
					assert.Equal(t, after, got, "started after the erasure: stored whole")
				}
			})
		}
	}
}

// A write that stored records erased or kept them out appends one audit
// entry with counts only, and its result says what it did; the blobs of a
// record kept out go to the outbox; a legal hold wins over a tombstone.
func TestTombstoneWriteAuditHoldAndResult(t *testing.T) {
	s, rd := setup(t, smsOut("seed", bob, "x"))
	_, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	_, err = rd.DeleteConversation(ctx, "acme", "c9")
	require.NoError(t, err)
	held := smsOut("held", ada, "keep me")
	_, err = rd.HoldRecord(ctx, "acme", "held", "case 7")
	require.NoError(t, err)

	entries := len(storetest.AuditEntries(t, s, "acme"))
	res, err := s.PutBatchResult([]cdrstore.Record{
		smsOut("a1", ada, "secret"), smsOut("a2", ada, "secret"), voice("leg", bob, "c9"), held, smsOut("b1", bob, "fine"),
	})
	require.NoError(t, err)
	assert.Equal(t, cdrstore.WriteResult{Stored: 4, Changed: 2, Dropped: 1}, res)
	got, err := s.Get("acme", "held")
	require.NoError(t, err)
	assert.Equal(t, "keep me", got.Body, "a legal hold wins over a tombstone")

	all := storetest.AuditEntries(t, s, "acme")
	require.Len(t, all, entries+1, "one entry for the batch")
	e := all[len(all)-1]
	assert.Equal(t, redaction.ActionTombstoneApply, e.Action)
	assert.Equal(t, uint64(3), e.Count)
	assert.Empty(t, e.Subject)
	assert.Equal(t, "erased 2, not stored 1, expired 0", e.Detail)

	out, err := rd.Outbox("acme", 10)
	require.NoError(t, err)
	var urls []string
	for _, it := range out {
		urls = append(urls, it.URL)
	}
	assert.Contains(t, urls, voice("leg", bob, "c9").RecordingURL, "a record kept out still has its blob deleted")

	// Nothing to apply: no entry.
	_, err = s.PutBatchResult([]cdrstore.Record{smsOut("b2", bob, "fine")})
	require.NoError(t, err)
	assert.Len(t, storetest.AuditEntries(t, s, "acme"), entries+1)
}

// A tombstone is stamped with the request's issue time: records that
// started after it are stored whole even when the request is applied
// later (a fleet node receiving it from a bus).
func TestTombstoneIssueTime(t *testing.T) {
	s, rd := setup(t, smsOut("seed", bob, "x"))
	issued := old.Add(time.Hour)
	_, err := rd.EraseContact(redaction.WithRequest(ctx, redaction.Request{IssuedAt: issued}), "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	before, after := smsOut("before", ada, "secret"), smsOut("after", ada, "newer")
	after.StartedAt = issued.Add(time.Minute)
	require.NoError(t, s.PutBatch([]cdrstore.Record{before, after}))
	got, err := s.Get("acme", "before")
	require.NoError(t, err)
	assert.Equal(t, redaction.RedactedBody, got.Body)
	got, err = s.Get("acme", "after")
	require.NoError(t, err)
	assert.Equal(t, "newer", got.Body)
}

// A fault before any write step of a batch that applies tombstones (the
// outbox of a record kept out, the audit entry) leaves the store as it
// was.
func TestTombstoneWriteFaultInjection(t *testing.T) {
	s, rd := setup(t, smsOut("seed", bob, "x"))
	_, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	_, err = rd.DeleteRecord(ctx, "acme", "v1")
	require.NoError(t, err)
	batch := []cdrstore.Record{voice("v1", bob, "c1"), message("m1", ada), smsOut("b", bob, "fine")}
	require.Positive(t, injectFaults(t, s, rd, func() error { return s.PutBatch(batch) }))
	got, err := s.Get("acme", "m1")
	require.NoError(t, err)
	assert.Equal(t, redaction.RedactedBody, got.Body)
}

// A contact erasure in a workspace that does not exist is an error that
// writes nothing, unless the caller asks for it explicitly (a fleet node
// that has not seen the workspace yet): then the workspace gets the
// tombstone, and what is ingested there later is erased.
func TestEraseContactAheadOfWorkspace(t *testing.T) {
	s, rd := setup(t, smsOut("seed", bob, "x"))
	before := storetest.Dump(t, s)
	_, err := rd.EraseContact(ctx, "globex", ada, "gdpr_art17")
	require.ErrorIs(t, err, cdrstore.ErrNotFound)
	assert.Equal(t, before, storetest.Dump(t, s), "a typo writes nothing")

	res, err := rd.EraseContactWith(ctx, "globex", ada, "gdpr_art17", redaction.EraseContactOptions{AheadOfWorkspace: true})
	require.NoError(t, err)
	assert.True(t, res.Erased)
	assert.NotNil(t, res.Receipt)
	r := smsOut("g1", ada, "secret")
	r.Workspace = "globex"
	require.NoError(t, s.Put(r))
	got, err := s.Get("globex", "g1")
	require.NoError(t, err)
	assert.Equal(t, redaction.RedactedBody, got.Body)
}

// A record that started before the cutoff of its workspace's last
// completed sweep is not stored again (reported expired, with an audit
// entry), unless held; a dry run sets no cutoff; the sweep drops the
// tombstones that cover nothing it would keep.
func TestSweptRecordsDoNotComeBack(t *testing.T) {
	asOf := now.AddDate(0, 14, 0) // the cutoff (13 months) is after now
	s, rd := setup(t, smsOut("seed", bob, "x"), smsOut("s1", ada, "secret"))
	_, err := rd.EraseContact(ctx, "acme", ada, "gdpr_art17")
	require.NoError(t, err)
	tombstones := func() int { return countTombstones(t, s) }
	require.Equal(t, 1, tombstones())

	_, err = rd.Sweep(ctx, asOf, redaction.SweepOptions{DryRun: true})
	require.NoError(t, err)
	res, err := s.PutBatchResult([]cdrstore.Record{smsOut("seed", bob, "x")})
	require.NoError(t, err)
	assert.Equal(t, cdrstore.WriteResult{Stored: 1}, res, "a dry run sets no cutoff")

	swept, err := rd.Sweep(ctx, asOf, redaction.SweepOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, swept.Deleted)
	assert.Zero(t, tombstones(), "the sweep's cutoff covers what the tombstone did")

	_, err = rd.HoldRecord(ctx, "acme", "held", "case 3")
	require.NoError(t, err)
	entries := len(storetest.AuditEntries(t, s, "acme"))
	res, err = s.PutBatchResult([]cdrstore.Record{smsOut("seed", bob, "x"), smsOut("s1", ada, "secret"), smsOut("held", bob, "kept")})
	require.NoError(t, err)
	assert.Equal(t, cdrstore.WriteResult{Stored: 1, Expired: 2}, res)
	for _, id := range []string{"seed", "s1"} {
		_, err = s.Get("acme", id)
		assert.ErrorIs(t, err, cdrstore.ErrNotFound, id)
	}
	_, err = s.Get("acme", "held")
	assert.NoError(t, err, "a legal hold wins")
	all := storetest.AuditEntries(t, s, "acme")
	require.Len(t, all, entries+1)
	assert.Equal(t, "erased 0, not stored 0, expired 2", all[len(all)-1].Detail)

	fresh := smsOut("fresh", ada, "new")
	fresh.StartedAt = asOf
	require.NoError(t, s.Put(fresh))
	got, err := s.Get("acme", "fresh")
	require.NoError(t, err)
	assert.Equal(t, "new", got.Body)
}

// The sweep prunes request results kept before the lowest retention
// cutoff (a fleet may replay requests that old), and none younger.
func TestSweepPrunesOldRequests(t *testing.T) {
	s, rd := setup(t, smsOut("seed", bob, "x"), smsOut("s1", ada, "x"))
	_, err := rd.RedactByID(redaction.WithRequest(ctx, redaction.Request{ID: "old"}), "acme", "s1", cdrstore.ProductSMS, cdrstore.Outbound)
	require.NoError(t, err)
	count := func() int {
		n := 0
		require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
			kv, err := tx.Bucket("acme", cdrstore.BucketRequests)
			for range kv.Scan(nil, nil) {
				n++
			}
			return err
		}))
		return n
	}
	require.Equal(t, 1, count())
	_, err = rd.Sweep(ctx, now.AddDate(0, 12, 0), redaction.SweepOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, count(), "younger than the retention: kept")
	_, err = rd.Sweep(ctx, now.AddDate(0, 14, 0), redaction.SweepOptions{})
	require.NoError(t, err)
	assert.Zero(t, count(), "older than the longest retention: pruned")
}

// A fault at any write step of what a completed sweep keeps (its cutoffs,
// dropping tombstones, pruning request results) leaves the store as it
// was; the sweep then completes.
func TestSweepFloorFaultInjection(t *testing.T) {
	fresh := smsOut("s1", ada, "x")
	fresh.StartedAt = now.Add(48 * time.Hour)
	s, rd := setup(t, fresh)
	_, err := rd.EraseContact(redaction.WithRequest(ctx, redaction.Request{ID: "e1"}), "acme", bob, "gdpr_art17")
	require.NoError(t, err)
	asOf := now.AddDate(0, 13, 0) // cutoff about now: nothing expires, the tombstone goes
	require.Positive(t, injectFaults(t, s, rd, func() error {
		_, err := rd.Sweep(ctx, asOf, redaction.SweepOptions{})
		return err
	}))
	assert.Zero(t, countTombstones(t, s))
}

// countTombstones returns how many tombstones workspace acme holds.
func countTombstones(t *testing.T, s *cdrstore.Store) int {
	t.Helper()
	n := 0
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for _, err := range tx.Tombstones("acme") {
			if err != nil {
				return err
			}
			n++
		}
		return nil
	}))
	return n
}

// A write whose only change is the write hook's (every record kept out by
// a deletion's tombstone, so only the tombstone.apply entry is written)
// commits that entry; in a group of such writes, each call's hook runs
// and finishes for that call alone: each result and each entry is its
// own, and no record of a later call escapes the hook.
func TestHookOnlyWritesCommitPerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, rd := setup(t, smsOut("seed", bob, "x"))
		for _, id := range []string{"gone1", "gone2", "gone3"} {
			_, err := rd.DeleteRecord(ctx, "acme", id)
			require.NoError(t, err)
		}
		entries := len(storetest.AuditEntries(t, s, "acme"))

		res, err := s.PutBatchResult([]cdrstore.Record{smsOut("gone1", ada, "secret")})
		require.NoError(t, err)
		assert.Equal(t, cdrstore.WriteResult{Dropped: 1}, res)
		all := storetest.AuditEntries(t, s, "acme")
		require.Len(t, all, entries+1, "the hook's entry is committed")
		assert.Equal(t, redaction.ActionTombstoneApply, all[entries].Action)

		var got [2]cdrstore.WriteResult
		var errs [2]error
		storetest.InOneGroup(s,
			func() { got[0], errs[0] = s.PutGroupedResult([]cdrstore.Record{smsOut("gone2", ada, "secret")}) },
			func() { got[1], errs[1] = s.PutGroupedResult([]cdrstore.Record{smsOut("gone3", ada, "secret")}) },
		)
		for i := range got {
			require.NoError(t, errs[i], "call %d", i)
			assert.Equal(t, cdrstore.WriteResult{Dropped: 1}, got[i], "call %d", i)
		}
		all = storetest.AuditEntries(t, s, "acme")
		require.Len(t, all, entries+3, "one entry per call of the group")
		for _, e := range all[entries+1:] {
			assert.Equal(t, redaction.ActionTombstoneApply, e.Action)
			assert.Equal(t, uint64(1), e.Count)
		}
		for _, id := range []string{"gone1", "gone2", "gone3"} {
			_, err := s.Get("acme", id)
			assert.ErrorIs(t, err, cdrstore.ErrNotFound, "%s is not stored", id)
		}
	})
}
