package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/cdrvault/cdrvault/control"
)

type ingestCmd struct {
	region string
	batch  int
	strict bool
}

func (c *ingestCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.region, "region", "", "ISO 3166 region for numbers given in national form (e.g. NG)")
	fs.IntVar(&c.batch, "batch", 10000, "records per transaction")
	fs.BoolVar(&c.strict, "strict", false, "stop at the first bad line; nothing of its batch is written")
}

func (c *ingestCmd) validate(e *env) error {
	if c.batch < 1 {
		return usageErr("--batch must be at least 1")
	}
	if len(e.args) > 1 {
		return usageErr("one input at most")
	}
	return nil
}

// errRejected says ingest stored the good lines but refused some.
var errRejected = errors.New("some lines were rejected")

func (c *ingestCmd) run(ctx context.Context, e *env) error {
	in := e.stdin
	if len(e.args) == 1 && e.args[0] != "-" {
		f, err := os.Open(e.args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	ops, done, err := e.ops(ctx, create)
	if err != nil {
		return err
	}
	defer done()
	prog := newProgress(e.stderr)
	res, err := ops.Ingest(ctx, in, control.IngestOptions{Region: c.region, Batch: c.batch, Strict: c.strict}, func(ev control.IngestEvent) error {
		if ev.Progress != nil {
			prog.update("%d stored, %d rejected", ev.Progress.Stored, ev.Progress.Rejected)
			return nil
		}
		_, err := fmt.Fprintf(e.stderr, "line %d: %s\n", ev.Line, ev.Reason)
		return err
	})
	prog.done()
	if e.json {
		e.printJSON(res)
	} else {
		fmt.Fprintf(e.stdout, "read %d lines: %d stored, %d rejected\n", res.Read, res.Stored, res.Rejected)
		if res.Redacted+res.NotStored+res.Expired > 0 {
			fmt.Fprintf(e.stdout, "%d stored redacted (an erasure or a policy covered them), %d not stored (deleted), %d not stored (past retention)\n", res.Redacted, res.NotStored, res.Expired)
		}
	}
	if err != nil {
		return err
	}
	if res.Rejected > 0 {
		return fmt.Errorf("%d of %d lines rejected: %w", res.Rejected, res.Read, errRejected)
	}
	return nil
}
