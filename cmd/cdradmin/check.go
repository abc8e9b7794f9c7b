package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
)

type checkCmd struct{}

func (c *checkCmd) flags(fs *flag.FlagSet) {}
func (c *checkCmd) validate(e *env) error  { return noArgs(e) }

var errIntegrity = errors.New("integrity check failed")

func (c *checkCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	rep, err := ops.Check(ctx)
	if err != nil {
		return err
	}
	if e.json {
		e.printJSON(rep)
	} else {
		fmt.Fprintf(e.stdout, "integrity: %s\n", rep.Integrity)
		if len(rep.Findings) == 0 {
			fmt.Fprintln(e.stdout, "configuration: nothing to review")
		}
		for _, f := range rep.Findings {
			where := ""
			if f.Workspace != "" {
				where = show(f.Workspace) + ": "
			}
			fmt.Fprintf(e.stdout, "- %s%s\n  what to do: %s\n", where, f.Issue, f.Action)
		}
	}
	if rep.Integrity != "ok" {
		return errIntegrity
	}
	return nil
}
