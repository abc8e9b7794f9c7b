package main

import (
	"context"
	"flag"
	"fmt"
)

type statsCmd struct{}

func (c *statsCmd) flags(fs *flag.FlagSet) {}
func (c *statsCmd) validate(e *env) error  { return noArgs(e) }

func (c *statsCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	st, err := ops.Stats(ctx)
	if err != nil {
		return err
	}
	st.Path = e.db // as the operator named it
	if e.json {
		return e.printJSON(st)
	}
	fmt.Fprintf(e.stdout, "%s: %d bytes, %d workspaces\n", st.Path, st.FileBytes, len(st.Workspaces))
	for _, w := range st.Workspaces {
		fmt.Fprintf(e.stdout, "  %-12s records %-9d outbox %-5d opt-outs %-5d holds %-3d audit seq %d head %s\n",
			show(w.Workspace), w.Records, w.Outbox, w.OptOuts, w.Holds, w.AuditSeq, w.AuditHead)
	}
	return nil
}
