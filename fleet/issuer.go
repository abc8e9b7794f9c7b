package fleet

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IssuerOptions configures an Issuer.
type IssuerOptions struct {
	Config Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Issuer publishes commands to the fleet and reads their fleet records.
// It is safe for concurrent use.
type Issuer struct {
	c    *conn
	nc   *nats.Conn
	keys Keys
	now  func() time.Time
}

// NewIssuer sets up the stream and bucket on nc (idempotent) and returns
// an Issuer signing with keys.Issuer.
func NewIssuer(ctx context.Context, nc *nats.Conn, keys Keys, opts *IssuerOptions) (*Issuer, error) {
	var o IssuerOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := keys.validate(); err != nil {
		return nil, err
	}
	c, err := setup(ctx, nc, o.Config)
	if err != nil {
		return nil, err
	}
	return &Issuer{c: c, nc: nc, keys: keys, now: o.Now}, nil
}

// Publish signs, seals and publishes cmd, and returns its correlation.
// The nodes registered (and not retired) now are the ones its fleet
// record waits for. Publishing the same request ID again is harmless:
// the stream drops a duplicate inside its window and each store replays
// the request ID after it. An invalid command is a *CommandError and
// nothing is published.
func (is *Issuer) Publish(ctx context.Context, cmd Command) (string, error) {
	if is.keys.Issuer == nil {
		return "", ErrNoIssuerKey
	}
	if cmd.IssuedAt.IsZero() {
		cmd.IssuedAt = is.now().UTC()
	}
	if err := cmd.Validate(); err != nil {
		return "", err
	}
	if cmd.query() {
		return "", &CommandError{Field: "kind", Reason: "a query is asked with Export or Search, not published"}
	}
	raw, corr, err := seal(is.keys, cmd)
	if err != nil {
		return "", err
	}
	nodes, err := is.c.nodes(ctx)
	if err != nil {
		return "", err
	}
	req := request{Corr: corr, Kind: cmd.Kind, IssuedAt: cmd.IssuedAt.UTC(), PublishedAt: is.now().UTC()}
	for id, n := range nodes {
		if n.RetiredAt == nil {
			req.Expected = append(req.Expected, id)
		}
	}
	sort.Strings(req.Expected)
	// The request entry first: whoever sees the last report can then
	// complete the record. A second publish keeps the first entry.
	if _, err := is.c.createJSON(ctx, requestKey(corr), req); err != nil {
		return "", err
	}
	msg := &nats.Msg{Subject: is.c.cfg.Subject, Data: raw, Header: nats.Header{}}
	for attempt := 0; ; attempt++ {
		err = is.c.call(ctx, func(ctx context.Context) error {
			_, err := is.c.js.PublishMsg(ctx, msg, jetstream.WithMsgID(corr))
			return err
		})
		if err == nil || ctx.Err() != nil || attempt >= 10 {
			break
		}
		// A leader election: wait and publish again under the same
		// Nats-Msg-Id, so a publish that did land is not doubled.
		select {
		case <-ctx.Done():
		case <-time.After(backoff(attempt, 50*time.Millisecond, time.Second)):
		}
	}
	if err != nil {
		return "", fmt.Errorf("fleet: publish: %w", err)
	}
	return corr, nil
}

// Correlation returns the correlation of a request ID.
func (is *Issuer) Correlation(requestID string) string { return is.keys.Correlation(requestID) }

// Status returns the fleet record of corr: the stored, signed one when
// complete; else the tally so far (Status "pending"). When the tally is
// complete and no record is stored yet, Status writes it, signed with the
// issuer key.
func (is *Issuer) Status(ctx context.Context, corr string) (Record, error) {
	var s *signer
	if is.keys.Issuer != nil {
		s = &signer{name: "issuer:" + KeyID(is.keys.Issuer.Public().(ed25519.PublicKey)), key: is.keys.Issuer}
	}
	return is.c.status(ctx, corr, s, is.now(), false)
}

// Wait waits until corr's fleet record is complete or ctx ends, and
// returns the last record it read (pending when ctx ended first) and no
// error. It reads the stored record every poll, and tallies the reports
// (completing the record itself when no node did) once a second and at
// the end. Each read has its own call deadline, so the last one
// completes even when ctx has ended meanwhile.
func (is *Issuer) Wait(ctx context.Context, corr string, poll time.Duration) (Record, error) {
	rec, err := is.Status(context.WithoutCancel(ctx), corr)
	last := time.Now()
	for err == nil && !rec.Complete() && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
		if ctx.Err() != nil || time.Since(last) >= time.Second {
			rec, err = is.Status(context.WithoutCancel(ctx), corr)
			last = time.Now()
			continue
		}
		var stored Record
		found, _, gerr := is.c.getJSON(context.WithoutCancel(ctx), recordKey(corr), &stored)
		if gerr == nil && found {
			rec = stored
		}
	}
	return rec, err
}

// NodeStatus is a node as `fleet nodes` shows it.
type NodeStatus struct {
	Node
	// Lag is how many commands of the log the node has not acknowledged.
	Lag uint64 `json:"lag"`
	// Applied is the stream sequence of the last command it acknowledged.
	Applied uint64 `json:"applied"`
}

// Nodes lists the registered nodes with their lag.
func (is *Issuer) Nodes(ctx context.Context) ([]NodeStatus, error) {
	nodes, err := is.c.nodes(ctx)
	if err != nil {
		return nil, err
	}
	var out []NodeStatus
	for _, n := range nodes {
		ns := NodeStatus{Node: n}
		err := is.c.call(ctx, func(ctx context.Context) error {
			ci, err := is.c.stream.Consumer(ctx, consumerName(n.ID))
			if err != nil {
				return err
			}
			info, err := ci.Info(ctx)
			if err != nil {
				return err
			}
			ns.Lag = info.NumPending + uint64(info.NumAckPending)
			ns.Applied = info.AckFloor.Stream
			return nil
		})
		if err != nil && n.RetiredAt == nil {
			return nil, fmt.Errorf("fleet: node %s: %w", n.ID, err)
		}
		out = append(out, ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Retire marks node id retired: fleet records stop waiting for it, and
// its consumer is deleted. Idempotent.
func (is *Issuer) Retire(ctx context.Context, id string) error {
	var n Node
	found, rev, err := is.c.getJSON(ctx, nodeKey(id), &n)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	if n.RetiredAt == nil {
		t := is.now().UTC()
		n.RetiredAt = &t
		raw, err := json.Marshal(n)
		if err != nil {
			return err
		}
		if err := is.c.call(ctx, func(ctx context.Context) error {
			_, err := is.c.kv.Update(ctx, nodeKey(id), raw, rev)
			return err
		}); err != nil {
			return err
		}
	}
	return is.c.call(ctx, func(ctx context.Context) error {
		err := is.c.stream.DeleteConsumer(ctx, consumerName(id))
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return err
		}
		return nil
	})
}
