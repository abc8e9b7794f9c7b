package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/cdrvault/cdrvault/e164"
)

type optoutCmd struct {
	ws, region string
	n          e164.Number
}

func (c *optoutCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.region, "region", "", "region for a number in national form")
}

func (c *optoutCmd) validate(e *env) error {
	if c.ws == "" || len(e.args) != 2 {
		return usageErr("need add|remove|check, -w WS and one number")
	}
	switch e.args[0] {
	case "add", "remove", "check":
	default:
		return usageErr("need add, remove or check")
	}
	var err error
	c.n, err = e164.Parse(e.args[1], c.region)
	return err
}

func (c *optoutCmd) run(ctx context.Context, e *env) error {
	mode := readWrite
	if e.args[0] == "check" {
		mode = readOnly
	}
	ops, done, err := e.ops(ctx, mode)
	if err != nil {
		return err
	}
	defer done()
	st, err := ops.OptOut(ctxRequest(ctx, ""), c.ws, c.n, e.args[0])
	if err != nil {
		return err
	}
	ok, since := st.OptedOut, st.Since
	if e.json {
		out := map[string]any{"opted_out": ok}
		if ok {
			out["since"] = since.Format(time.RFC3339)
		}
		return e.printJSON(out)
	}
	if ok {
		fmt.Fprintf(e.stdout, "%s is opted out of %s since %s\n", c.n.Masked(), c.ws, since.Format(time.RFC3339))
	} else {
		fmt.Fprintf(e.stdout, "%s is not opted out of %s\n", c.n.Masked(), c.ws)
	}
	return nil
}
