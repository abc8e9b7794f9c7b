package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/natstest"
	"github.com/cdrvault/cdrvault/redaction"
)

// fleetDemo is the fleet's quick start: an embedded 3-server JetStream
// cluster and three stores in one process; an erasure published while
// one store is down stays pending, completes when it returns, and the
// fleet record is printed.
func fleetDemo(ctx context.Context, e *env) error {
	dir, err := os.MkdirTemp("", "cdrvault-fleet-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := e.stdout
	fmt.Fprintln(out, "starting a 3-server NATS JetStream cluster (embedded, sync_interval: always)")
	cl, err := natstest.RunCluster(filepath.Join(dir, "nats"), 3)
	if err != nil {
		return err
	}
	defer cl.Shutdown()
	keys, err := fleet.NewKeys()
	if err != nil {
		return err
	}
	connect := func() (*nats.Conn, error) {
		return nats.Connect(cl.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	}
	cfg := fleet.Config{Replicas: 3}
	nc, err := connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	is, err := fleet.NewIssuer(ctx, nc, keys, &fleet.IssuerOptions{Config: cfg})
	if err != nil {
		return err
	}
	contact := e164.MustParse("+2348031234567", "")
	platform := e164.MustParse("+14155550100", "")
	now := time.Now().UTC()
	type node struct {
		id    string
		store *cdrstore.Store
		key   ed25519.PrivateKey
		stop  func()
	}
	var nodes []*node
	start := func(n *node) error {
		c, err := connect()
		if err != nil {
			return err
		}
		a, err := fleet.NewAgent(ctx, c, redaction.New(n.store, nil), fleet.AgentOptions{Config: cfg, Node: n.id, NodeKey: n.key, Keys: keys.NodeKeys(), FetchWait: 200 * time.Millisecond})
		if err != nil {
			c.Close()
			return err
		}
		actx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); a.Run(actx) }()
		n.stop = func() { cancel(); <-done; c.Close() }
		return nil
	}
	for i, id := range []string{"lagos-1", "lagos-2", "abuja-1"} {
		s, err := cdrstore.Open(filepath.Join(dir, id+".db"), &cdrstore.Options{NoSync: true})
		if err != nil {
			return err
		}
		defer s.Close()
		var recs []cdrstore.Record
		for j := range i + 2 {
			recs = append(recs, cdrstore.Record{ID: fmt.Sprintf("%s-%d", id, j), Workspace: "acme", Product: cdrstore.ProductSMS,
				Direction: cdrstore.Outbound, From: platform, To: contact, Body: "your code is 4821",
				StartedAt: now.Add(-time.Duration(48+j) * time.Hour)})
		}
		if err := s.PutBatch(recs); err != nil {
			return err
		}
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		n := &node{id: id, store: s, key: key}
		if err := start(n); err != nil {
			return err
		}
		defer func() {
			if n.stop != nil {
				n.stop()
			}
		}()
		nodes = append(nodes, n)
		fmt.Fprintf(out, "node %s joined with %d records of %s\n", id, len(recs), contact.Masked())
	}
	down := nodes[2]
	down.stop()
	down.stop = nil
	fmt.Fprintf(out, "node %s is down\n", down.id)
	cmd := fleet.Command{Kind: fleet.KindEraseContact, RequestID: "demo-erasure-1", Workspace: "acme", Number: contact, Reason: "ndpr_right_to_erasure"}
	corr, err := is.Publish(ctx, cmd)
	if err != nil {
		return err
	}
	wait := func(d time.Duration) (fleet.Record, error) {
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		rec, err := is.Wait(wctx, corr, 50*time.Millisecond)
		rec.RequestID = cmd.RequestID
		return rec, err
	}
	rec, err := wait(time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\nerasure published; after 1s:")
	writeRecord(out, rec)
	fmt.Fprintf(out, "\nnode %s is back: it catches up from its durable consumer\n", down.id)
	if err := start(down); err != nil {
		return err
	}
	rec, err = wait(30 * time.Second)
	if err != nil {
		return err
	}
	writeRecord(out, rec)
	if !rec.Complete() {
		return fmt.Errorf("%w: the demo's record did not complete", errPending)
	}
	if err := rec.Verify(); err != nil {
		return err
	}
	fmt.Fprintln(out, "fleet record signature verified")
	return nil
}
