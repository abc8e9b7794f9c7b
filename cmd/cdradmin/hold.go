package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
)

type holdCmd struct {
	ws, id, number, region, reason string
	n                              e164.Number
}

func (c *holdCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.id, "id", "", "hold one record (add)")
	fs.StringVar(&c.number, "number", "", "hold every record of a number (add)")
	fs.StringVar(&c.region, "region", "", "region for a number in national form")
	fs.StringVar(&c.reason, "reason", "", "why (add; required)")
}

func (c *holdCmd) validate(e *env) error {
	if c.ws == "" || len(e.args) == 0 {
		return usageErr("need add|remove|list and -w WS")
	}
	switch e.args[0] {
	case "add":
		if (c.id == "") == (c.number == "") || c.reason == "" {
			return usageErr("add needs one of --id or --number, and --reason")
		}
		if c.number != "" {
			var err error
			if c.n, err = e164.Parse(c.number, c.region); err != nil {
				return err
			}
		}
	case "remove":
		if len(e.args) != 2 {
			return usageErr("remove needs the hold's key (see hold list)")
		}
	case "list":
	default:
		return usageErr("need add, remove or list")
	}
	return nil
}

func (c *holdCmd) run(ctx context.Context, e *env) error {
	mode := readWrite
	if e.args[0] == "list" {
		mode = readOnly
	}
	ops, done, err := e.ops(ctx, mode)
	if err != nil {
		return err
	}
	defer done()
	ch := control.HoldChange{Workspace: c.ws}
	switch e.args[0] {
	case "add":
		ch.ID, ch.Number, ch.Reason = c.id, c.n, c.reason
	case "remove":
		// The library's release is idempotent (a replayed release must
		// not fail); an operator who names a hold that is not there has
		// mistyped its key, and is told so before anything is written.
		holds, err := ops.Hold(ctx, ch)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(holds, func(h redaction.Hold) bool { return h.Key == e.args[1] }) {
			return fmt.Errorf("no hold %q in workspace %s (see hold list)", e.args[1], c.ws)
		}
		ch.Release = e.args[1]
	}
	holds, err := ops.Hold(ctxRequest(ctx, ""), ch)
	if err != nil {
		return err
	}
	if ch.ID != "" {
		warnHeldIDNotStored(ctx, e, ops, c.ws, c.id)
	}
	if e.json {
		return e.printJSON(holds)
	}
	fmt.Fprintf(e.stdout, "%d legal holds in %s\n", len(holds), show(c.ws))
	for _, h := range holds {
		fmt.Fprintf(e.stdout, "  %s  since %s  %s\n", show(h.Key), h.Since.Format(time.RFC3339), show(h.Reason))
	}
	return nil
}

// warnHeldIDNotStored warns when a hold names a record that is not stored:
// holding ahead of ingest is allowed, but it is more often a typo.
func warnHeldIDNotStored(ctx context.Context, e *env, ops control.Ops, ws, id string) {
	if _, err := ops.Get(ctx, ws, id); errors.Is(err, cdrstore.ErrNotFound) {
		fmt.Fprintf(e.stderr, "cdradmin hold: warning: no record %q in workspace %s yet; the hold covers it once it is ingested\n", id, ws)
	}
}
