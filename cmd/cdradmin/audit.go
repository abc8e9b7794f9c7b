package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/control"
)

type auditCmd struct {
	ws    string
	after uint64
	limit int
}

func (c *auditCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace (list: required; verify: default all)")
	fs.Uint64Var(&c.after, "after", 0, "list entries after this seq")
	fs.IntVar(&c.limit, "limit", 100, "list at most this many entries")
}

func (c *auditCmd) validate(e *env) error {
	if len(e.args) != 1 || (e.args[0] != "verify" && e.args[0] != "list") {
		return usageErr("need verify or list")
	}
	if e.args[0] == "list" && c.ws == "" {
		return usageErr("list needs -w WS")
	}
	return nil
}

func (c *auditCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	if e.args[0] == "verify" {
		results, err := ops.VerifyAudit(ctx, c.ws)
		for _, r := range results {
			if e.json {
				e.printJSON(r)
			} else {
				fmt.Fprintf(e.stdout, "%s: %d entries, chain intact, head %s\n", r.Workspace, r.Entries, r.Head)
			}
		}
		return err
	}
	return ops.AuditList(ctx, c.ws, c.after, c.limit, func(l control.AuditLine) error {
		if e.json {
			return e.printJSON(l)
		}
		_, err := fmt.Fprintf(e.stdout, "%6d  %s  %-20s count=%-6d %s %s\n", l.Seq, l.Time, l.Action, l.Count, l.Reason, l.Detail)
		return err
	})
}
