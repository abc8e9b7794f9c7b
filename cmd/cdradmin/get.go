package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
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
	s, err := e.openStore(readOnly)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.Get(c.ws, e.args[0])
	if err != nil {
		return fmt.Errorf("%s: %w", c.ws, err)
	}
	return e.printJSON(cdrjson.Encode(&r))
}
