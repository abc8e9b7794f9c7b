package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/control"
)

type auditCmd struct {
	ws      string
	after   uint64
	limit   int
	reverse bool
}

func (c *auditCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace (list: required; verify: default all)")
	fs.Uint64Var(&c.after, "after", 0, "list only entries after this seq")
	fs.IntVar(&c.limit, "limit", 100, "list at most this many entries: the newest (the oldest with --reverse)")
	fs.BoolVar(&c.reverse, "reverse", false, "list the oldest entries first (default: newest first)")
}

func (c *auditCmd) validate(e *env) error {
	if len(e.args) != 1 || (e.args[0] != "verify" && e.args[0] != "list") {
		return usageErr("need verify or list")
	}
	if e.args[0] == "list" && c.ws == "" {
		return usageErr("list needs -w WS")
	}
	if c.limit < 1 {
		return usageErr("--limit must be at least 1")
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
				fmt.Fprintf(e.stdout, "%s: %d entries, chain intact, head %s\n", show(r.Workspace), r.Entries, r.Head)
			}
		}
		return err
	}
	q := control.AuditQuery{Workspace: c.ws, After: c.after, Limit: c.limit, NewestFirst: !c.reverse}
	return ops.AuditList(ctx, q, func(l control.AuditLine) error {
		if e.json {
			return e.printJSON(l)
		}
		_, err := fmt.Fprintf(e.stdout, "%6d  %s  %-20s count=%-6d %s %s\n", l.Seq, l.Time, show(l.Action), l.Count, show(l.Reason), show(l.Detail))
		return err
	})
}
