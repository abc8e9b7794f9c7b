package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/metrics"
	"github.com/cdrvault/cdrvault/redaction"
)

type serveCmd struct {
	addr        string
	rate        float64
	metricsAddr string
	logFormat   string
	logLevel    string
	level       slog.Level
	control     bool
	fleet       natsFlags
	node        string
}

func (c *serveCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.Float64Var(&c.rate, "rate", 170, "requests per second per key")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "listen address of /metrics, /healthz and /readyz (none when empty)")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format on stderr: json or text")
	fs.StringVar(&c.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	fs.BoolVar(&c.control, "control", true, "serve cdradmin's commands on the control socket beside the store (PATH.ctl, or --socket)")
	c.fleet.flags(fs)
	fs.StringVar(&c.node, "node", "", "this node's ID in the fleet (with --nats)")
}

func (c *serveCmd) validate(e *env) error {
	if c.logFormat != "json" && c.logFormat != "text" {
		return usageErr("--log-format must be json or text, not %q", c.logFormat)
	}
	if err := c.level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return usageErr("--log-level must be debug, info, warn or error, not %q", c.logLevel)
	}
	if (c.fleet.url != "") != (c.node != "") || (c.fleet.url != "" && c.fleet.keysDir == "") {
		return usageErr("--nats, --node and --fleet-keys go together")
	}
	return noArgs(e)
}

// newLogger returns the logger of format ("json" or "text") at level on w.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (c *serveCmd) run(ctx context.Context, e *env) error {
	// The store, the redactor and the HTTP API log through logger (a
	// commit that fails and halts writes says so there) and, with
	// --metrics-addr, report to one collector.
	logger := newLogger(e.stderr, c.logFormat, c.level)
	e.logger = logger
	rdOpts := &redaction.Options{Logger: logger}
	apiOpts := &httpapi.Options{RateLimit: c.rate, Logger: logger}
	var m *metrics.Metrics
	if c.metricsAddr != "" {
		m = metrics.New()
		e.observer, rdOpts.Observer, apiOpts.Observer = m.ObserveStore, m.ObserveRedaction, m.ObserveHTTP
	}
	s, err := e.openStore(readWrite)
	if err != nil {
		return err
	}
	defer s.Close()
	rd := redaction.New(s, rdOpts)
	if c.control {
		// Commands run through the socket use rd: the collector counts
		// them, and the store's own events (a scrub) reach it anyway.
		ctl, err := control.Start(rd, &control.Options{SocketPath: e.socket, Logger: logger})
		if err != nil {
			return err
		}
		defer ctl.Close()
		logger.Info("control socket", "path", ctl.Path())
	}
	if c.fleet.url != "" {
		stop, err := c.fleet.startAgent(ctx, e, c.node, rd, logger)
		if err != nil {
			return fmt.Errorf("join fleet: %w", err)
		}
		defer stop()
		logger.Info("fleet node", "node", c.node)
	}
	api := httpapi.New(rd, apiOpts)
	servers := []*http.Server{newServer(api)}
	listeners := []string{c.addr}
	if m != nil {
		m.Watch(s)
		servers = append(servers, newServer(m.Handler()))
		listeners = append(listeners, c.metricsAddr)
	}
	var lns []net.Listener
	for _, addr := range listeners {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	logger.Info("serving", "addr", lns[0].Addr().String(), "db", e.db)
	if m != nil {
		logger.Info("serving metrics", "addr", lns[1].Addr().String())
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(lns[i]) }()
	}
	pending := len(servers)
	var failed error // a server that stopped on its own, or a failed shutdown
	select {
	case failed = <-errc:
		pending--
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting, finish in-flight requests.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil && failed == nil {
			failed = fmt.Errorf("shutdown: %w", err)
		}
	}
	for ; pending > 0; pending-- {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) && failed == nil {
			failed = err
		}
	}
	if failed != nil {
		return failed
	}
	logger.Info("stopped")
	return nil
}

// newServer returns an http.Server for h with the service's timeouts.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}
