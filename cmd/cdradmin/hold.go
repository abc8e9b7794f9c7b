package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
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
	rd, done, err := e.redactor(mode)
	if err != nil {
		return err
	}
	defer done()
	switch e.args[0] {
	case "add":
		if c.id != "" {
			if _, err = rd.HoldRecord(ctxRequest(ctx, ""), c.ws, c.id, c.reason); err == nil {
				warnHeldIDNotStored(e, rd.Store(), c.ws, c.id)
			}
		} else {
			_, err = rd.HoldNumber(ctxRequest(ctx, ""), c.ws, c.n, c.reason)
		}
	case "remove":
		// The library's release is idempotent (a replayed release must
		// not fail); an operator who names a hold that is not there has
		// mistyped its key, and is told so before anything is written.
		var holds []redaction.Hold
		if holds, err = rd.Holds(c.ws); err != nil {
			return err
		}
		if !slices.ContainsFunc(holds, func(h redaction.Hold) bool { return h.Key == e.args[1] }) {
			return fmt.Errorf("no hold %q in workspace %s (see hold list)", e.args[1], c.ws)
		}
		_, err = rd.ReleaseHold(ctxRequest(ctx, ""), c.ws, e.args[1])
	}
	if err != nil {
		return err
	}
	holds, err := rd.Holds(c.ws)
	if err != nil {
		return err
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
func warnHeldIDNotStored(e *env, s *cdrstore.Store, ws, id string) {
	if _, err := s.Get(ws, id); errors.Is(err, cdrstore.ErrNotFound) {
		fmt.Fprintf(e.stderr, "cdradmin hold: warning: no record %q in workspace %s yet; the hold covers it once it is ingested\n", id, ws)
	}
}
