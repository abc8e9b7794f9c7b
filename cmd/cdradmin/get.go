package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/cdrstore"
)

type getCmd struct{ ws string }

func (c *getCmd) flags(fs *flag.FlagSet) { fs.StringVar(&c.ws, "w", "", "workspace") }

func (c *getCmd) validate(e *env) error {
	if c.ws == "" || len(e.args) != 1 {
		return usageErr("need -w WS and one ID")
	}
	return cdrstore.ValidateID(e.args[0])
}

func (c *getCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	r, err := ops.Get(ctx, c.ws, e.args[0])
	if err != nil {
		return fmt.Errorf("%s: %w", c.ws, err)
	}
	return e.printJSON(r)
}
