package main

import (
	"context"
	"flag"
	"fmt"
)

// unlinkedCmd counts the records no erasure can reach (format v2
// obfuscated their number while they kept content) and, with --discard,
// discards their content in one workspace: an operator's decision.
type unlinkedCmd struct {
	ws      string
	discard bool
}

func (c *unlinkedCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace (required with --discard)")
	fs.BoolVar(&c.discard, "discard", false, "discard their content (body, transcript, recording, media); audited")
}

func (c *unlinkedCmd) validate(e *env) error {
	if err := noArgs(e); err != nil {
		return err
	}
	if c.discard && c.ws == "" {
		return usageErr("--discard needs -w WS")
	}
	return nil
}

func (c *unlinkedCmd) run(ctx context.Context, e *env) error {
	mode := readOnly
	if c.discard {
		mode = readWrite
	}
	ops, done, err := e.ops(ctx, mode)
	if err != nil {
		return err
	}
	defer done()
	if c.discard {
		res, err := ops.DiscardUnlinked(ctxRequest(ctx, ""), c.ws)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(res)
		}
		fmt.Fprintf(e.stdout, "discarded the content of %d unlinked records of %s (held: %d, audit seq %d)\n", res.Affected, show(c.ws), res.SkippedCount, res.AuditSeq)
		return nil
	}
	n, err := ops.Unlinked(ctx)
	if err != nil {
		return err
	}
	if c.ws != "" {
		n = map[string]int{c.ws: n[c.ws]}
	}
	if e.json {
		return e.printJSON(n)
	}
	for _, ws := range sortedKeys(n) {
		fmt.Fprintf(e.stdout, "%s: %d records lost their number before format v3 and keep content no erasure can reach\n", show(ws), n[ws])
	}
	return nil
}
