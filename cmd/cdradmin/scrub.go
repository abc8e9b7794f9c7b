package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"time"
)

type scrubCmd struct{}

func (c *scrubCmd) flags(fs *flag.FlagSet) {}
func (c *scrubCmd) validate(e *env) error  { return noArgs(e) }

func (c *scrubCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readWrite)
	if err != nil {
		return err
	}
	defer done()
	res, err := ops.Scrub(ctx)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(res)
	}
	fmt.Fprintf(e.stdout, "scrubbed %s: %d free pages, %d zeroed (%d bytes), %d already zero, %d left pinned (%d bytes); longest writer hold %s; %d -> %d bytes\n",
		e.db, res.FreePages, res.PagesZeroed, res.BytesZeroed, res.PagesClean, res.PagesPinned, res.BytesPinned, res.LongestHold.Round(time.Microsecond), res.SizeBefore, res.SizeAfter)
	if res.PagesPinned > 0 {
		fmt.Fprintf(e.stderr, "cdradmin scrub: %d pages may still be read by a transaction open since before they were freed; run scrub again once it ends\n", res.PagesPinned)
	}
	return nil
}

type compactCmd struct{}

func (c *compactCmd) flags(fs *flag.FlagSet) {}
func (c *compactCmd) validate(e *env) error  { return noArgs(e) }

func (c *compactCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readWrite)
	if err != nil {
		return err
	}
	defer done()
	res, err := ops.Compact(ctx)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(res)
	}
	fmt.Fprintf(e.stdout, "compacted %s: %d free pages dropped, %d -> %d bytes\n", e.db, res.FreePages, res.SizeBefore, res.SizeAfter)
	return nil
}

type backupCmd struct{ to string }

func (c *backupCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.to, "to", "", "path of the copy (must not exist)")
}

func (c *backupCmd) validate(e *env) error {
	if c.to == "" {
		return usageErr("need --to PATH")
	}
	return noArgs(e)
}

func (c *backupCmd) run(ctx context.Context, e *env) error {
	if _, err := os.Lstat(c.to); err == nil {
		return fmt.Errorf("%s exists: %w", c.to, fs.ErrExist)
	}
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	n, err := writeWhole(c.to, func(f *os.File) (int64, error) { return ops.Backup(ctx, f) })
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(struct {
			DB    string `json:"db"`
			To    string `json:"to"`
			Bytes int64  `json:"bytes"`
		}{e.db, c.to, n})
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s (%d bytes, no free pages)\n", e.db, c.to, n)
	return nil
}
