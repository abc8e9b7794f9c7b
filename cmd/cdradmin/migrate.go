package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// migrateCmd upgrades a store written by an older cdradmin to the newest
// on-disk format, in one transaction. Every writing command does the
// same as it opens the store; inspection commands, which open it
// read-only, refuse an older format and point here.
type migrateCmd struct{}

func (c *migrateCmd) flags(fs *flag.FlagSet) {}
func (c *migrateCmd) validate(e *env) error  { return noArgs(e) }

func (c *migrateCmd) run(ctx context.Context, e *env) error {
	from := cdrstore.FormatNewest
	ro, err := e.openStore(readOnly)
	var fe *cdrstore.FormatError
	switch {
	case err == nil:
		ro.Close()
	case errors.As(err, &fe) && fe.NeedsMigration():
		from = fe.Found
	default:
		return err
	}
	if from == cdrstore.FormatNewest {
		if e.json {
			return e.printJSON(map[string]any{"path": e.db, "format": from, "migrated": false})
		}
		fmt.Fprintf(e.stdout, "%s is in format %d already\n", e.db, from)
		return nil
	}
	s, err := e.openStore(readWrite)
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]any{"path": e.db, "from": from, "format": cdrstore.FormatNewest, "migrated": true})
	}
	fmt.Fprintf(e.stdout, "migrated %s from format %d to %d\n", e.db, from, cdrstore.FormatNewest)
	return nil
}
