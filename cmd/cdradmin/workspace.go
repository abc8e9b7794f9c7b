package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// workspaceCmd creates, lists and shows workspaces. A workspace comes to
// exist only by ingest or by "workspace create": every other command on a
// name that does not exist fails, so a typo never configures a workspace
// nobody reads.
type workspaceCmd struct{}

func (c *workspaceCmd) flags(fs *flag.FlagSet) {}

func (c *workspaceCmd) validate(e *env) error {
	if len(e.args) == 0 {
		return usageErr("need create, list or show")
	}
	switch e.args[0] {
	case "create", "show":
		if len(e.args) != 2 {
			return usageErr("%s needs one workspace name", e.args[0])
		}
	case "list":
		if len(e.args) != 1 {
			return usageErr("list takes no argument")
		}
	default:
		return usageErr("need create, list or show")
	}
	return nil
}

func (c *workspaceCmd) run(ctx context.Context, e *env) error {
	if e.args[0] == "create" {
		return c.create(ctx, e, e.args[1])
	}
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	name := ""
	if e.args[0] == "show" {
		name = e.args[1]
	}
	ws, err := ops.Workspaces(ctx, name)
	if errors.Is(err, cdrstore.ErrNotFound) {
		return noWorkspace(name)
	}
	if err != nil {
		return err
	}
	if e.args[0] == "show" {
		if e.json {
			return e.printJSON(ws[0])
		}
		w := ws[0]
		fmt.Fprintf(e.stdout, "workspace %s\n  records   %d\n  outbox    %d\n  opt-outs  %d\n  holds     %d\n  audit seq %d head %s\n",
			show(w.Workspace), w.Records, w.Outbox, w.OptOuts, w.Holds, w.AuditSeq, w.AuditHead)
		return nil
	}
	if e.json {
		return e.printJSON(ws)
	}
	for _, w := range ws {
		fmt.Fprintf(e.stdout, "%s\t%d records\n", show(w.Workspace), w.Records)
	}
	return nil
}

// create makes workspace ws, and the store when there is none (as ingest
// does). Creating one that exists says so and changes nothing.
func (c *workspaceCmd) create(ctx context.Context, e *env, ws string) error {
	ops, done, err := e.ops(ctx, create)
	if err != nil {
		return err
	}
	defer done()
	created, err := ops.CreateWorkspace(ctx, ws)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]any{"workspace": ws, "created": created})
	}
	if created {
		fmt.Fprintf(e.stdout, "created workspace %s\n", show(ws))
	} else {
		fmt.Fprintf(e.stdout, "workspace %s exists already\n", show(ws))
	}
	return nil
}

func noWorkspace(ws string) error {
	return fmt.Errorf("%w (cdradmin workspace list shows them; ingest or 'workspace create' makes one)", &cdrstore.NoWorkspaceError{Workspace: ws})
}

// checkWorkspaceFlag refuses, before a command runs, a -w that names no
// workspace: reading one would show nothing where the operator expects
// data, and configuring one would protect nothing. The library refuses
// writes to an unknown workspace too; this check gives every command the
// same error. A store that cannot be opened read-only (missing, held,
// in an older format) is left to the command, which reports it.
func (e *env) checkWorkspaceFlag(ctx context.Context, fs *flag.FlagSet) error {
	f := fs.Lookup("w")
	if f == nil || f.Value.String() == "" {
		return nil
	}
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return nil
	}
	defer done()
	if _, err := ops.Workspaces(ctx, f.Value.String()); errors.Is(err, cdrstore.ErrNotFound) {
		return noWorkspace(f.Value.String())
	}
	return nil
}
