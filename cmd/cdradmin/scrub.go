package main

import (
	"context"
	"flag"
	"fmt"
	"os"
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
	fmt.Fprintf(e.stdout, "scrubbed %s: %d free pages purged, %d -> %d bytes\n", e.db, res.FreePages, res.SizeBefore, res.SizeAfter)
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
	s, err := e.openStore(readOnly)
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := os.OpenFile(c.to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := s.Backup(ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(c.to)
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
