package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/redaction"
)

type autoRedactCmd struct{ asOf string }

func (c *autoRedactCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.asOf, "as-of", "", "RFC 3339 time to apply the policies as of (default now)")
}
func (c *autoRedactCmd) validate(e *env) error { return noArgs(e) }

func (c *autoRedactCmd) run(ctx context.Context, e *env) error {
	asOf, err := e.parseAsOf(c.asOf)
	if err != nil {
		return err
	}
	ops, done, err := e.ops(ctx, readWrite)
	if err != nil {
		return err
	}
	defer done()
	res, err := ops.AutoRedact(ctxRequest(ctx, ""), asOf)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(res)
	}
	fmt.Fprintf(e.stdout, "auto-redacted %d records: content discarded %d, numbers obfuscated %d, media expired %d, held %d\n",
		res.Records, res.ContentDiscarded, res.AddressesObfuscated, res.MediaExpired, res.SkippedCount)
	return nil
}

type sweepCmd struct {
	asOf   string
	dryRun bool
	batch  int
}

func (c *sweepCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.asOf, "as-of", "", "RFC 3339 time to sweep as of (default now)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "count what would be deleted; write nothing")
	fs.IntVar(&c.batch, "batch", redaction.DefaultBatchSize, "records per transaction")
}
func (c *sweepCmd) validate(e *env) error {
	if c.batch < 1 {
		return usageErr("--batch must be at least 1")
	}
	return noArgs(e)
}

func (c *sweepCmd) run(ctx context.Context, e *env) error {
	asOf, err := e.parseAsOf(c.asOf)
	if err != nil {
		return err
	}
	mode := readWrite
	if c.dryRun {
		mode = readOnly // a dry run reads in read-only transactions
	}
	ops, done, err := e.ops(ctx, mode)
	if err != nil {
		return err
	}
	defer done()
	res, err := ops.Sweep(ctxRequest(ctx, ""), asOf, redaction.SweepOptions{DryRun: c.dryRun, BatchSize: c.batch})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(res)
	}
	verb := "deleted"
	if c.dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(e.stdout, "%s %d expired records in %d batches (held: %d)\n", verb, res.Deleted, res.Batches, res.SkippedCount)
	for _, ws := range sortedKeys(res.ByWorkspace) {
		fmt.Fprintf(e.stdout, "  %s: %d\n", show(ws), res.ByWorkspace[ws])
	}
	return nil
}

type drainCmd struct{ logOnly bool }

func (c *drainCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.logOnly, "log-only", false, "print each pending URL and remove it from the outbox once printed (embed redaction.DrainOutbox for at-least-once deletion); with --json each is a {\"url\"} line, and the counts on stderr are JSON")
}

func (c *drainCmd) validate(e *env) error {
	if !c.logOnly {
		return usageErr("only --log-only is supported from the shell; embed redaction.DrainOutbox for a real deleter")
	}
	return noArgs(e)
}

func (c *drainCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readWrite)
	if err != nil {
		return err
	}
	defer done()
	var firstErr error // why the first hand-over failed
	res, err := ops.Drain(ctx, "", func(url string) (err error) {
		if e.json {
			err = e.printJSON(struct {
				URL string `json:"url"`
			}{url})
		} else {
			_, err = fmt.Fprintln(e.stdout, url)
		}
		if firstErr == nil {
			firstErr = err
		}
		return err
	})
	if err != nil {
		return err
	}
	// The counts go to stderr, so that stdout holds only the URLs.
	if e.json {
		err = encodeJSON(e.stderr, res)
	} else {
		fmt.Fprintf(e.stderr, "handed over %d, failed %d, pending %d\n", res.Deleted, res.Failed, res.Pending)
	}
	if err == nil && res.Failed > 0 {
		err = fmt.Errorf("%d deletions could not be handed over and stay pending: %w", res.Failed, firstErr)
	}
	return err
}

func noArgs(e *env) error {
	if len(e.args) > 0 {
		return usageErr("unexpected argument %q", e.args[0])
	}
	return nil
}
