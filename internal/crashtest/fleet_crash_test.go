package crashtest_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/natstest"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
)

// fleetChild runs a fleet agent on dir's store until it is killed.
func fleetChild(dir string) error {
	s, err := openStore(filepath.Join(dir, "store.db"))
	if err != nil {
		return err
	}
	keys, err := fleet.LoadKeys(filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	key, err := fleet.LoadOrCreateNodeKey(filepath.Join(dir, "node.key"))
	if err != nil {
		return err
	}
	nc, err := nats.Connect(os.Getenv("CDRVAULT_FLEET_NATS"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	a, err := fleet.NewAgent(ctx, nc, redaction.New(s, nil), fleet.AgentOptions{Node: "crash", NodeKey: key, Keys: keys.NodeKeys(),
		Now: func() time.Time { return now }, AckWait: 500 * time.Millisecond, FetchWait: 100 * time.Millisecond, RetryBase: 10 * time.Millisecond})
	if err != nil {
		return err
	}
	fmt.Println("ok joined")
	return a.Run(ctx)
}

// TestFleetAgentKill kills a node's agent at random points while it
// works through a log of commands, and restarts it, until the log is
// done: every command is applied, and no request ID has more than one
// audit entry on the store (each erasure exactly one).
func TestFleetAgentKill(t *testing.T) {
	srv, err := natstest.Run(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(srv.Kill)
	dir := t.TempDir()
	keys, err := fleet.Keygen(filepath.Join(dir, "keys"))
	require.NoError(t, err)
	s, err := openStore(filepath.Join(dir, "store.db"))
	require.NoError(t, err)
	require.NoError(t, s.PutBatch(seedRecords()))
	require.NoError(t, s.Close())

	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	is, err := fleet.NewIssuer(t.Context(), nc, keys, &fleet.IssuerOptions{Now: func() time.Time { return now }})
	require.NoError(t, err)

	// runChild runs the agent in a child process until stop closes or
	// killAfter passes (when positive; with neither, until it joined),
	// then kills it with SIGKILL.
	runChild := func(killAfter time.Duration, stop <-chan struct{}) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CDRVAULT_FLEET_CHILD="+dir, "CDRVAULT_FLEET_NATS="+srv.URL())
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		exited, joined := make(chan error, 1), make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "ok joined" {
					close(joined)
				}
			}
			exited <- cmd.Wait()
		}()
		if stop == nil && killAfter == 0 {
			stop = joined
		}
		var timer <-chan time.Time
		if killAfter > 0 {
			timer = time.After(killAfter)
		}
		select {
		case err := <-exited:
			t.Fatalf("the fleet child exited by itself: %v", err)
		case <-timer:
		case <-stop:
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	// A first run joins the node, so the commands wait for it.
	runChild(0, nil)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	type pub struct {
		corr, id string
		kind     fleet.Kind
	}
	var pubs []pub
	for i := range 40 {
		c := e164.MustParse(contacts[rng.IntN(len(contacts))], "")
		cmd := fleet.Command{RequestID: fmt.Sprintf("crash-%d", i), Workspace: "acme", IssuedAt: now}
		switch rng.IntN(4) {
		case 0, 1:
			cmd.Kind, cmd.Number, cmd.Reason = fleet.KindEraseContact, c, "gdpr_art17"
		case 2:
			cmd.Kind, cmd.Number = fleet.KindOptOutAdd, c
		case 3:
			cmd.Kind, cmd.ID, cmd.Product, cmd.Direction = fleet.KindRedactID, fmt.Sprintf("c%d-%02d", rng.IntN(len(contacts)), rng.IntN(perContact)), cdrstore.ProductVoice, cdrstore.Outbound
		}
		corr, err := is.Publish(t.Context(), cmd)
		require.NoError(t, err)
		pubs = append(pubs, pub{corr, cmd.RequestID, cmd.Kind})
	}
	kills := 8
	if testing.Short() {
		kills = 4
	}
	for range kills {
		runChild(time.Duration(20+rng.IntN(300))*time.Millisecond, nil)
	}
	// The last run is killed once the log is done.
	done := make(chan struct{})
	var recs []fleet.Record
	go func() {
		defer close(done)
		for _, p := range pubs {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			rec, _ := is.Wait(ctx, p.corr, 20*time.Millisecond)
			cancel()
			recs = append(recs, rec)
		}
	}()
	runChild(0, done)

	s, err = openStore(filepath.Join(dir, "store.db"))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(t.Context()))
	audited := map[string]int{} // by request ID; the audit keeps its keyed HMAC
	for _, e := range storetest.AuditEntries(t, s, "acme") {
		audited[e.RequestID]++
	}
	key := func(id string) (k string) {
		require.NoError(t, s.View(func(tx *cdrstore.Tx) error { k = hex.EncodeToString(tx.RequestKey(id)); return nil }))
		return k
	}
	for i, p := range pubs {
		rec := recs[i]
		require.True(t, rec.Complete(), "%s: %s", p.id, rec.Summary())
		require.Len(t, rec.Nodes, 1)
		assert.NotEqual(t, fleet.StatusRejected, rec.Nodes[0].Status, "%s: %s", p.id, rec.Nodes[0].Reason)
		if p.kind == fleet.KindOptOutAdd {
			assert.LessOrEqual(t, audited[key(p.id)], 1, p.id)
		} else {
			assert.Equal(t, 1, audited[key(p.id)], "%s: one audit entry per erasure request", p.id)
		}
	}
}
