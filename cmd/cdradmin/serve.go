package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/redaction"
)

type serveCmd struct {
	addr    string
	rate    float64
	control bool
	fleet   natsFlags
	node    string
}

func (c *serveCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.Float64Var(&c.rate, "rate", 170, "requests per second per key")
	fs.BoolVar(&c.control, "control", true, "serve cdradmin's commands on the control socket beside the store (PATH.ctl, or --socket)")
	c.fleet.flags(fs)
	fs.StringVar(&c.node, "node", "", "this node's ID in the fleet (with --nats)")
}

func (c *serveCmd) validate(e *env) error {
	if (c.fleet.url != "") != (c.node != "") || (c.fleet.url != "" && c.fleet.keysDir == "") {
		return usageErr("--nats, --node and --fleet-keys go together")
	}
	return noArgs(e)
}

func (c *serveCmd) run(ctx context.Context, e *env) error {
	// The store logs to the same place: a commit that fails and halts
	// writes says so there.
	logger := slog.New(slog.NewJSONHandler(e.stderr, nil))
	e.logger = logger
	s, err := e.openStore(readWrite)
	if err != nil {
		return err
	}
	defer s.Close()
	rd := redaction.New(s, nil)
	if c.control {
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
	api := httpapi.New(rd, &httpapi.Options{RateLimit: c.rate, Logger: logger})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	logger.Info("serving", "addr", ln.Addr().String(), "db", e.db)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting, finish in-flight requests.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}
