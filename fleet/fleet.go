package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Config.
const (
	DefaultStream      = "CDRFLEET"
	DefaultSubject     = "cdrfleet.cmd"
	DefaultQuery       = "cdrfleet.query"
	DefaultBucket      = "cdrfleet"
	DefaultCallTimeout = 5 * time.Second
	// DefaultMaxAge keeps the command log for the longest retention (13
	// months) plus a margin: a node restored from a year-old backup
	// still replays every command it missed.
	DefaultMaxAge = 430 * 24 * time.Hour
	// DefaultDuplicates is the stream's Nats-Msg-Id window; a duplicate
	// after it is still harmless (the stores replay the request ID).
	DefaultDuplicates = 10 * time.Minute
)

// Config names the fleet's stream and bucket and sets their shape. The
// zero value of each field means its default.
type Config struct {
	Stream  string // command log stream name
	Subject string // command subject
	Query   string // subject of subject-access queries (core NATS)
	Bucket  string // key-value bucket of nodes, requests, reports, records
	// Replicas of the stream and bucket: 3 in a cluster, 1 on a single
	// server (the default).
	Replicas int
	// MaxAge of the command log (limits retention).
	MaxAge time.Duration
	// Duplicates is the publish de-duplication window.
	Duplicates time.Duration
	// CallTimeout bounds every JetStream call: a call made during a
	// leader election would otherwise wait without end.
	CallTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Query == "" {
		c.Query = DefaultQuery
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	return c
}

// Keys of the fleet bucket.
func nodeKey(id string) string                   { return "node." + id }
func requestKey(corr string) string              { return "req." + corr }
func reportKey(corr, node string) string         { return "report." + corr + "." + node }
func recordKey(corr string) string               { return "record." + corr }
func deferredKey(node string, seq uint64) string { return fmt.Sprintf("deferred.%s.%d", node, seq) }

// conn is the JetStream side shared by Issuer and Agent.
type conn struct {
	cfg    Config
	js     jetstream.JetStream
	stream jetstream.Stream
	kv     jetstream.KeyValue
}

// call runs fn under the call deadline.
func (c *conn) call(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	return fn(ctx)
}

// setup finds the stream and bucket, creating them when missing (the
// first participant to start creates them with its Config; a running
// fleet's are never changed), retrying while the cluster elects leaders.
func setup(ctx context.Context, nc *nats.Conn, cfg Config) (*conn, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &conn{cfg: cfg, js: js}
	for attempt := 0; ; attempt++ {
		err = c.call(ctx, func(ctx context.Context) error {
			st, err := js.Stream(ctx, cfg.Stream)
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				st, err = js.CreateStream(ctx, jetstream.StreamConfig{
					Name:        cfg.Stream,
					Subjects:    []string{cfg.Subject},
					Retention:   jetstream.LimitsPolicy,
					Storage:     jetstream.FileStorage,
					Replicas:    cfg.Replicas,
					MaxAge:      cfg.MaxAge,
					Duplicates:  cfg.Duplicates,
					Description: "cdrvault fleet command log",
				})
			}
			if err != nil {
				return fmt.Errorf("fleet: stream %s: %w", cfg.Stream, err)
			}
			kv, err := js.KeyValue(ctx, cfg.Bucket)
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
					Bucket:      cfg.Bucket,
					Replicas:    cfg.Replicas,
					Storage:     jetstream.FileStorage,
					History:     1,
					Description: "cdrvault fleet nodes, requests, reports and records",
				})
			}
			if err != nil {
				return fmt.Errorf("fleet: bucket %s: %w", cfg.Bucket, err)
			}
			c.stream, c.kv = st, kv
			return nil
		})
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || attempt >= 20 {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff(attempt, 50*time.Millisecond, 2*time.Second)):
		}
	}
}

// backoff is the delay before retry attempt n: base doubled per attempt,
// capped at max.
func backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// isNoKey reports a key-value miss.
func isNoKey(err error) bool { return errors.Is(err, jetstream.ErrKeyNotFound) }
