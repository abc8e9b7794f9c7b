package crashtest_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/killpoint"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The workload's world: a store seeded with old records (swept in
// batches), contacts with recordings (erased whole), and new batches.
var (
	now       = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	platform  = e164.MustParse("+14155552671", "")
	contacts  = []string{"+2348031234567", "+447911123456", "+4915112345678", "+33612345678", "+919812345678", "+5511912345678"}
	sweepSize = 25
	lateBatch = 10
)

const (
	nOld       = 200 // records 14–16 months old: the sweep's work
	perContact = 20  // recent records per contact, each with a recording
)

func seedRecords() []cdrstore.Record {
	var rs []cdrstore.Record
	for i := range nOld {
		rs = append(rs, cdrstore.Record{ID: fmt.Sprintf("old-%03d", i), Workspace: "acme", Product: cdrstore.ProductSMS,
			Direction: cdrstore.Outbound, From: platform, To: e164.MustParse(contacts[i%len(contacts)], ""), Body: "old body",
			StartedAt: now.AddDate(0, -16, 0).Add(time.Duration(i) * time.Hour)})
	}
	for ci, c := range contacts {
		for j := range perContact {
			rs = append(rs, cdrstore.Record{ID: fmt.Sprintf("c%d-%02d", ci, j), Workspace: "acme", Product: cdrstore.ProductVoice,
				Direction: cdrstore.Outbound, From: platform, To: e164.MustParse(c, ""), Transcript: []string{"words of " + c},
				RecordingURL: fmt.Sprintf("https://media.example.net/rec/c%d-%02d.mp3", ci, j),
				StartedAt:    now.AddDate(0, -1, 0).Add(time.Duration(ci*perContact+j) * time.Minute)})
		}
	}
	return rs
}

func openStore(path string) (*cdrstore.Store, error) {
	return cdrstore.Open(path, &cdrstore.Options{Now: func() time.Time { return now }, SubjectKey: []byte("crash-test-subject-key-0123456789")})
}

// TestMain runs the child workload when asked to.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CDRVAULT_FLEET_CHILD"); dir != "" {
		if err := fleetChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "fleet child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("CDRVAULT_CRASH_CHILD"); dir != "" {
		seed, _ := strconv.ParseUint(os.Getenv("CDRVAULT_CRASH_SEED"), 10, 64)
		run := child
		if os.Getenv("CDRVAULT_CRASH_WORKLOAD") == "grouped" {
			run = groupedChild
		}
		if err := run(dir, seed); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child runs operations in a random order, printing "ok <op> <arg>" after
// each one returned success.
func child(dir string, seed uint64) error {
	s, err := openStore(filepath.Join(dir, "store.db"))
	if err != nil {
		return err
	}
	rd := redaction.New(s, nil)
	ctx := context.Background()
	delivered, err := os.OpenFile(filepath.Join(dir, "delivered"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Printf("ok "+format+"\n", args...) }
	if name, nth, ok := killAt(seed, ""); ok {
		// Die at the nth time a scrub reaches the point, not at a random
		// time: inside a chunk (zeros written, writer lock held), after a
		// chunk's sync, before the final sync, before ScrubbedAt commits.
		reached := 0
		killpoint.Set(func(point string) {
			if point == name {
				if reached++; reached == nth {
					fmt.Printf("kill %s %d\n", name, nth)
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for step := 0; ; step++ {
		switch rng.IntN(8) {
		case 0: // an ingest batch of new records
			var batch []cdrstore.Record
			for i := range 50 {
				batch = append(batch, cdrstore.Record{ID: fmt.Sprintf("n%d-%02d", step, i), Workspace: "acme", Product: cdrstore.ProductSMS,
					Direction: cdrstore.Inbound, From: e164.MustParse("+27821234567", ""), To: platform, Body: "new",
					StartedAt: now.Add(-time.Duration(step*50+i) * time.Second)})
			}
			if err := s.PutBatch(batch); err != nil {
				return err
			}
			say("batch %d", step)
		case 1:
			c := contacts[rng.IntN(len(contacts))]
			if _, err := rd.EraseContact(ctx, "acme", e164.MustParse(c, ""), "gdpr_art17"); err != nil {
				return err
			}
			say("erase %s", c)
		case 2:
			id := fmt.Sprintf("c%d-%02d", rng.IntN(len(contacts)), rng.IntN(perContact))
			if _, err := rd.RedactByID(ctx, "acme", id, cdrstore.ProductVoice, cdrstore.Outbound); err != nil {
				return err
			}
			say("redact %s", id)
		case 3:
			if _, err := rd.Sweep(ctx, now, redaction.SweepOptions{BatchSize: sweepSize}); err != nil {
				return err
			}
			say("sweep")
		case 4:
			if _, err := rd.AutoRedact(ctx, now, redaction.AutoRedactOptions{}); err != nil {
				return err
			}
			say("autoredact")
		case 5:
			_, err := rd.DrainOutbox(ctx, "", redaction.DeleterFunc(func(_ context.Context, url string) error {
				if _, err := delivered.WriteString(url + "\n"); err != nil {
					return err
				}
				return delivered.Sync()
			}))
			if err != nil {
				return err
			}
			say("drain")
		case 6:
			if _, err := s.Scrub(ctx); err != nil {
				return err
			}
			say("scrub")
		case 7: // late CDRs of a contact: they started before any erasure
			ci := rng.IntN(len(contacts))
			var batch []cdrstore.Record
			for i := range lateBatch {
				batch = append(batch, cdrstore.Record{ID: fmt.Sprintf("l%d-%d-%02d", step, ci, i), Workspace: "acme", Product: cdrstore.ProductVoice,
					Direction: cdrstore.Outbound, From: platform, To: e164.MustParse(contacts[ci], ""), Transcript: []string{"late words"},
					RecordingURL: fmt.Sprintf("https://media.example.net/rec/l%d-%02d.mp3", step, i),
					StartedAt:    now.AddDate(0, -1, 0).Add(-time.Duration(i+1) * time.Minute)})
			}
			if err := s.PutBatch(batch); err != nil {
				return err
			}
			say("late %d %d", step, ci)
		}
	}
}

// scrubKillPoints are the points inside Scrub a child may be killed at.
var scrubKillPoints = []string{"scrub.writing", "scrub.chunk", "scrub.zeroed", "scrub.synced"}

// killAt returns the kill point of the child run with seed, if it has one
// (every other run of the default workload, the one that scrubs): the
// point's name and at which time it is reached.
func killAt(seed uint64, workload string) (name string, nth int, ok bool) {
	rng := rand.New(rand.NewPCG(seed, 3))
	if workload != "" || rng.IntN(2) == 0 {
		return "", 0, false
	}
	return scrubKillPoints[rng.IntN(len(scrubKillPoints))], 1 + rng.IntN(3), true
}

func crashIterations() int {
	if v, err := strconv.Atoi(os.Getenv("CDRVAULT_CRASH_ITERATIONS")); err == nil {
		return v
	}
	if testing.Short() {
		return 20
	}
	return 200
}

func TestCrashKill(t *testing.T) {
	killRuns(t, crashIterations(), func(s *cdrstore.Store) {
		require.NoError(t, s.PutBatch(seedRecords()))
		_, err := redaction.New(s, nil).SetSettings(context.Background(), "acme", redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
			{Product: cdrstore.ProductSMS, Direction: cdrstore.Inbound, Address: true, Hold: redaction.Duration(6 * time.Hour)}}})
		require.NoError(t, err)
	}, "", verify)
}

// killRuns seeds a store, then n times runs the child's workload (see
// TestMain) on a copy of it, kills the child and verifies what it left.
// CDRVAULT_CRASH_SEED replays one run.
func killRuns(t *testing.T, n int, seedStore func(*cdrstore.Store), workload string, verify func(t *testing.T, dir string, log []string)) {
	seedDir := t.TempDir()
	s, err := openStore(filepath.Join(seedDir, "store.db"))
	require.NoError(t, err)
	seedStore(s)
	require.NoError(t, s.Close())
	seedBytes, err := os.ReadFile(filepath.Join(seedDir, "store.db"))
	require.NoError(t, err)

	base := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("CDRVAULT_CRASH_SEED"), 10, 64); err == nil {
		base, n = v, 1
	}
	killed := map[string]int{}
	defer func() {
		t.Logf("runs killed inside Scrub, by kill point: %v", killed)
		if workload == "" && n >= 20 {
			assert.NotEmpty(t, killed, "no run was killed inside Scrub")
		}
	}()
	for i := range n {
		seed := base + uint64(i)
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "store.db"), seedBytes, 0o600))
		log := runAndKill(t, dir, seed, workload)
		if len(log) > 0 && strings.HasPrefix(log[len(log)-1], "kill ") {
			name, _, _ := strings.Cut(strings.TrimPrefix(log[len(log)-1], "kill "), " ")
			killed[name]++
		}
		if failed := !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { verify(t, dir, log) }); failed {
			t.Logf("replay with: CDRVAULT_CRASH_SEED=%d go test -run '^%s$' ./internal/crashtest (%d ops acknowledged)", seed, t.Name(), len(log))
			return
		}
	}
}

// runAndKill starts the child and kills it after a random delay; it
// returns the operations the child acknowledged.
func runAndKill(t *testing.T, dir string, seed uint64, workload string) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CDRVAULT_CRASH_CHILD="+dir, fmt.Sprintf("CDRVAULT_CRASH_SEED=%d", seed), "CDRVAULT_CRASH_WORKLOAD="+workload)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	delay := time.Duration(5+rand.New(rand.NewPCG(seed, 2)).IntN(150)) * time.Millisecond
	if _, _, ok := killAt(seed, workload); ok {
		delay = 5 * time.Second // a backstop: the kill point should come first
	}
	timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
	var log []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		log = append(log, strings.TrimPrefix(sc.Text(), "ok "))
	}

	timer.Stop()
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		t.Fatalf("seed %d: the child failed before the kill", seed)
	}
	return log
}

func verify(t *testing.T, dir string, log []string) {
	s, err := openStore(filepath.Join(dir, "store.db"))
	require.NoError(t, err, "the store opens after the kill")
	defer s.Close()
	require.NoError(t, s.Check(context.Background()), "indexes and audit chain")
	rd := redaction.New(s, nil)

	records := map[string]cdrstore.Record{}
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for r, err := range tx.ByTime("acme", cdrstore.Query{Limit: 1 << 30}) {
			if err != nil {
				return err
			}
			records[r.ID] = r
		}
		return nil
	}))
	var wholly []string // contacts no record holds a transcript of
	acked := map[string]bool{}
	for _, l := range log {
		acked[l] = true
	}

	// Late CDRs of a contact (tombstones): a batch is wholly there or
	// not; one acknowledged after the contact's acknowledged erasure is
	// stored erased, its recordings in the outbox or delivered.
	erasedAt := map[string]int{} // contact -> index in log of its first acknowledged erasure
	for i, l := range log {
		if c, ok := strings.CutPrefix(l, "erase "); ok {
			if _, seen := erasedAt[c]; !seen {
				erasedAt[c] = i
			}
		}
	}
	lates := map[string]int{}
	for id := range records {
		if strings.HasPrefix(id, "l") {
			b := id[:strings.LastIndexByte(id, '-')]
			lates[b]++
		}
	}
	for b, n := range lates {
		assert.Equal(t, lateBatch, n, "late batch %s is half there", b)
	}
	for i, l := range log {
		rest, ok := strings.CutPrefix(l, "late ")
		if !ok {
			continue
		}
		var step, ci int
		_, err := fmt.Sscanf(rest, "%d %d", &step, &ci)
		require.NoError(t, err)
		at, erased := erasedAt[contacts[ci]]
		for j := range lateBatch {
			r, ok := records[fmt.Sprintf("l%d-%d-%02d", step, ci, j)]
			require.True(t, ok, "acknowledged late batch %d", step)
			if erased && at < i {
				assert.Equal(t, []string{"[REDACTED]"}, r.Transcript, "late CDR %s of an erased contact", r.ID)
				assert.Empty(t, r.RecordingURL)
			}
		}
	}

	// Every acknowledged batch is wholly there; none is half there.
	batches := map[string]int{}
	for id := range records {
		if strings.HasPrefix(id, "n") {
			b, _, _ := strings.Cut(id, "-")
			batches[b]++
		}
	}
	for b, n := range batches {
		assert.Equal(t, 50, n, "batch %s is half there", b)
	}
	for l := range acked {
		if b, ok := strings.CutPrefix(l, "batch "); ok {
			assert.Equal(t, 50, batches["n"+b], "acknowledged batch %s", b)
		}
	}

	// A contact is wholly erased or untouched (a redaction by ID may have
	// taken single records further).
	for ci, c := range contacts {
		erased, untouched := 0, 0
		for j := range perContact {
			r, ok := records[fmt.Sprintf("c%d-%02d", ci, j)]
			require.True(t, ok)
			switch {
			case slices.Equal(r.Transcript, []string{"[REDACTED]"}):
				erased++
			case len(r.Transcript) == 1 && r.Redacted.Fields == 0:
				untouched++
			}
		}
		redacted := perContact - erased - untouched
		if untouched == 0 {
			wholly = append(wholly, c)
		}
		if acked["erase "+c] {
			assert.Zero(t, untouched, "acknowledged erasure of contact %d is incomplete", ci)
		}
		assert.True(t, erased == 0 || untouched == 0, "contact %d half erased: %d erased, %d untouched, %d redacted", ci, erased, untouched, redacted)
	}
	for l := range acked {
		if id, ok := strings.CutPrefix(l, "redact "); ok {
			r := records[id]
			assert.Empty(t, r.Transcript, "acknowledged redaction of %s", id)
			assert.False(t, r.To.IsValid())
		}
	}

	// The sweep deletes old records in time order, whole batches at a time.
	left := 0
	for i := range nOld {
		if _, ok := records[fmt.Sprintf("old-%03d", i)]; ok {
			left++
		} else {
			require.Zero(t, left, "old-%03d swept after a younger one survived", i)
		}
	}
	gone := nOld - left
	assert.True(t, gone%sweepSize == 0, "a sweep batch is half applied: %d of %d old records gone", gone, nOld)
	if acked["sweep"] {
		assert.Zero(t, left, "an acknowledged sweep left expired records")
	}

	// Every recording removed from a record is in the outbox or was delivered.
	delivered := map[string]bool{}
	if raw, err := os.ReadFile(filepath.Join(dir, "delivered")); err == nil {
		for _, u := range strings.Split(string(raw), "\n") {
			delivered[u] = true
		}
	}
	pending := map[string]bool{}
	items, err := rd.Outbox("acme", 1<<20)
	require.NoError(t, err)
	for _, it := range items {
		pending[it.URL] = true
	}
	for ci := range contacts {
		for j := range perContact {
			url := fmt.Sprintf("https://media.example.net/rec/c%d-%02d.mp3", ci, j)
			r := records[fmt.Sprintf("c%d-%02d", ci, j)]
			assert.True(t, r.RecordingURL == url || pending[url] || delivered[url], "recording %s lost", url)
		}
	}

	// The next scrub finishes what a killed one began: it leaves nothing
	// pinned (no reader is open), and no transcript of an erased contact
	// is left in the file.
	res, err := s.Scrub(context.Background())
	require.NoError(t, err, "the scrub after the kill")
	assert.Zero(t, res.PagesPinned)
	require.NoError(t, s.Check(context.Background()))
	raw, err := os.ReadFile(filepath.Join(dir, "store.db"))
	require.NoError(t, err)
	for _, c := range wholly {
		assert.NotContains(t, string(raw), "words of "+c, "an erased transcript left in the file after the scrub")
	}
}
