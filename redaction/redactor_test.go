package redaction_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// groupedOp is an operation that group commit serves, with its request ID.
type groupedOp struct {
	name string
	run  func(rd *redaction.Redactor) (any, error)
}

func withID(id string) redaction.Request { return redaction.Request{ID: id, Actor: "test"} }

// groupedOps are one of each grouped operation, plus one that fails
// before it writes (an unknown ID), each under its own request ID.
func groupedOps() []groupedOp {
	rq := func(id string) redaction.Request { return withID(id) }
	return []groupedOp{
		{"RedactByID", func(rd *redaction.Redactor) (any, error) {
			return rd.RedactByID(redaction.WithRequest(ctx, rq("g-redact")), "acme", "s2", cdrstore.ProductSMS, cdrstore.Outbound)
		}},
		{"RedactByID unknown", func(rd *redaction.Redactor) (any, error) {
			return rd.RedactByID(redaction.WithRequest(ctx, rq("g-unknown")), "acme", "nope", cdrstore.ProductSMS, cdrstore.Outbound)
		}},
		{"EraseContact", func(rd *redaction.Redactor) (any, error) {
			return rd.EraseContact(redaction.WithRequest(ctx, rq("g-erase")), "acme", ada, "gdpr_art17")
		}},
		{"DeleteRecord", func(rd *redaction.Redactor) (any, error) {
			return rd.DeleteRecord(redaction.WithRequest(ctx, rq("g-delete")), "acme", "v3")
		}},
		{"DeleteConversation", func(rd *redaction.Redactor) (any, error) {
			return rd.DeleteConversation(redaction.WithRequest(ctx, rq("g-conv")), "acme", "c1")
		}},
		{"OptOut", func(rd *redaction.Redactor) (any, error) {
			return rd.OptOut(redaction.WithRequest(ctx, rq("g-optout")), "acme", bob)
		}},
		{"RemoveOptOut", func(rd *redaction.Redactor) (any, error) {
			return rd.RemoveOptOut(redaction.WithRequest(ctx, rq("g-optin")), "acme", ada)
		}},
		{"HoldRecord", func(rd *redaction.Redactor) (any, error) {
			return rd.HoldRecord(redaction.WithRequest(ctx, rq("g-hold")), "acme", "s3", "case 7")
		}},
		{"ReleaseHold", func(rd *redaction.Redactor) (any, error) {
			return rd.ReleaseHold(redaction.WithRequest(ctx, rq("g-release")), "acme", redaction.HoldKeyForID("s4"))
		}},
	}
}

// groupBase writes the store the grouped operations start from and
// returns its path.
func groupBase(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "base.db")
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true, Now: func() time.Time { return now }})
	require.NoError(t, err)
	v3 := voice("v3", bob, "c2")
	require.NoError(t, s.PutBatch([]cdrstore.Record{
		voice("v1", ada, "c1"), voice("v2", ada, "c1"), v3, smsOut("s1", ada, "hello"), smsOut("s2", bob, "hi bob"),
		smsOut("s3", bob, "keep"), smsOut("s4", bob, "held"), message("m1", ada),
	}))
	rd := redaction.New(s, nil)
	_, err = rd.OptOut(ctx, "acme", ada)
	require.NoError(t, err)
	_, err = rd.HoldRecord(ctx, "acme", "s4", "case 6")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return path
}

var groupSigner = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

// openCopy opens a private copy of the store at base.
func openCopy(t *testing.T, base string) (*cdrstore.Store, *redaction.Redactor) {
	path := filepath.Join(t.TempDir(), "store.db")
	storetest.CopyFile(t, base, path)
	s, err := cdrstore.Open(path, &cdrstore.Options{NoSync: true, Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, s.Check(ctx))
		s.Close()
	})
	return s, redaction.New(s, &redaction.Options{SigningKey: groupSigner})
}

type opOutcome struct {
	res any
	err error
}

// runInOneGroup runs ops concurrently, in order, in one shared
// transaction (see storetest.InOneGroup).
func runInOneGroup(s *cdrstore.Store, rd *redaction.Redactor, ops []groupedOp) []opOutcome {
	out := make([]opOutcome, len(ops))
	calls := make([]func(), len(ops))
	for i, op := range ops {
		calls[i] = func() { out[i].res, out[i].err = op.run(rd) }
	}
	storetest.InOneGroup(s, calls...)
	return out
}

// runAlone runs ops one after another, except the one at skip.
func runAlone(rd *redaction.Redactor, ops []groupedOp, skip int) []opOutcome {
	out := make([]opOutcome, len(ops))
	for i, op := range ops {
		if i != skip {
			out[i].res, out[i].err = op.run(rd)
		}
	}
	return out
}

// Concurrent operations that share a commit each get what they would get
// alone, one after another: their own result, receipt, audit entry in
// chain order and request-ID replay. A fault injected at write step i of
// the group (every step in turn) fails the operation it hits and no
// other: the store then holds exactly what the others write without it,
// none applied twice, and the failed one, run again, applies once.
func TestGroupedOperationsFaultInjection(t *testing.T) {
	base := groupBase(t)
	ops := groupedOps()
	total, reran := -1, 0
	for i := 0; total < 0 || i <= total; i++ { // i = 0: no fault
		var (
			got     []opOutcome
			gotDump string
			failed  = -1
			steps   atomic.Int64
			stats   cdrstore.GroupStats
		)
		synctest.Test(t, func(t *testing.T) {
			s, rd := openCopy(t, base)
			redaction.SetHook(rd, func(string) error {
				if steps.Add(1) == int64(i) {
					return errInjected
				}
				return nil
			})
			before := s.GroupStats()
			got = runInOneGroup(s, rd, ops)
			stats = s.GroupStats().Sub(before)
			redaction.SetHook(rd, nil)
			gotDump = storetest.Dump(t, s)
			for k, o := range got {
				if errors.Is(o.err, errInjected) {
					require.Equal(t, -1, failed, "one fault failed two operations")
					failed = k
				}
			}
			if i > 0 {
				require.NotEqual(t, -1, failed, "fault at step %d failed no operation", i)
			}
			// Replays return the first results and change nothing; the
			// failed operation applies when run again, then replays.
			replayed := storetest.Dump(t, s)
			for k, op := range ops {
				if k == failed || got[k].err != nil {
					continue
				}
				res, err := op.run(rd)
				require.NoError(t, err)
				assert.Equal(t, got[k].res, firstRun(res), "replay of %s", op.name)
			}
			assert.Equal(t, replayed, storetest.Dump(t, s), "replays changed the store")
			if failed >= 0 {
				_, err := ops[failed].run(rd)
				require.NoError(t, err, "%s after its fault", ops[failed].name)
				res, err := ops[failed].run(rd)
				require.NoError(t, err)
				assert.True(t, wasReplayed(res), "%s after its fault, twice", ops[failed].name)
			}
		})
		if i == 0 {
			total = int(steps.Load())
			require.Positive(t, total)
			assert.Equal(t, cdrstore.GroupStats{Groups: 2, Calls: uint64(len(ops) + 1)}, stats,
				"the operations shared one transaction (after the one that held the writer)")
		}
		reran += int(stats.Reruns)
		t.Run(fmt.Sprintf("fault=%d", i), func(t *testing.T) {
			s, rd := openCopy(t, base)
			want := runAlone(rd, ops, failed)
			for k := range ops {
				if k != failed {
					assert.Equal(t, want[k], got[k], "fault at step %d: %s", i, ops[k].name)
				}
			}
			assert.Equal(t, storetest.Dump(t, s), gotDump, "fault at step %d (in %s): the store differs from the others run alone", i, opName(ops, failed))
		})
		if t.Failed() {
			return
		}
	}
	assert.Positive(t, reran, "no fault made the group run again")
}

func opName(ops []groupedOp, k int) string {
	if k < 0 {
		return "none"
	}
	return ops[k].name
}

// firstRun returns a replayed result as the first run returned it.
func firstRun(res any) any {
	switch r := res.(type) {
	case redaction.Result:
		r.Replayed = false
		return r
	case redaction.EraseResult:
		r.Replayed = false
		return r
	}
	return res
}

func wasReplayed(res any) bool {
	switch r := res.(type) {
	case redaction.Result:
		return r.Replayed
	case redaction.EraseResult:
		return r.Replayed
	}
	return false
}

// The same request delivered twice at once (a bus re-delivery) shares a
// commit with itself: the first applies, the second replays its result,
// and one audit entry is written; the same ID with other arguments in
// that group is refused and fails nothing else.
func TestGroupedRequestDeliveredTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, rd := setup(t, smsOut("s1", ada, "hello"), smsOut("s2", bob, "hi"))
		c := redaction.WithRequest(ctx, withID("bus-1"))
		redact := func(id string) func(*redaction.Redactor) (any, error) {
			return func(rd *redaction.Redactor) (any, error) {
				return rd.RedactByID(c, "acme", id, cdrstore.ProductSMS, cdrstore.Outbound)
			}
		}
		got := runInOneGroup(s, rd, []groupedOp{{"first", redact("s1")}, {"again", redact("s1")}, {"other args", redact("s2")}})
		require.NoError(t, got[0].err)
		require.NoError(t, got[1].err)
		assert.False(t, wasReplayed(got[0].res))
		assert.True(t, wasReplayed(got[1].res))
		assert.Equal(t, got[0].res, firstRun(got[1].res))
		require.ErrorIs(t, got[2].err, redaction.ErrRequestConflict)
		assert.Len(t, storetest.AuditEntries(t, s, "acme"), 1)
		r, err := s.Get("acme", "s2")
		require.NoError(t, err)
		assert.Equal(t, "hi", r.Body)
	})
}
