package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/redaction"
)

type eraseCmd struct {
	ws, reason, region, requestID string
	dryRun                        bool
	n                             e164.Number
}

func (c *eraseCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.reason, "reason", "gdpr_art17", "legal reason written to the audit log: a code of lowercase letters, digits, '_', '-' or '.', starting with a letter, at most 64 bytes and six digits (e.g. ndpr_right_to_erasure)")
	fs.StringVar(&c.region, "region", "", "region for a number in national form")
	fs.StringVar(&c.requestID, "request-id", "", "idempotency key: a replay returns the first result")
	fs.BoolVar(&c.dryRun, "dry-run", false, "count the records that would change; write nothing")
}

func (c *eraseCmd) validate(e *env) error {
	if c.ws == "" || len(e.args) != 1 {
		return usageErr("need -w WS and one number")
	}
	if err := redaction.ValidateReason(c.reason); err != nil {
		return err
	}
	var err error
	c.n, err = e164.Parse(e.args[0], c.region)
	return err
}

func (c *eraseCmd) run(ctx context.Context, e *env) error {
	mode := readWrite
	if c.dryRun {
		mode = readOnly // a dry run reads in a read-only transaction
	}
	ops, done, err := e.ops(ctx, mode)
	if err != nil {
		return err
	}
	defer done()
	requestID := c.requestID
	if c.dryRun {
		requestID = ""
	}
	res, err := ops.EraseContact(ctxRequest(ctx, requestID), c.ws, c.n, c.reason, c.dryRun)
	if err != nil {
		return err
	}
	if e.json {
		// The contact endpoint's answer, and whether it was a dry run.
		return e.printJSON(struct {
			httpapi.ContactErasure
			DryRun bool `json:"dry_run,omitempty"`
		}{httpapi.NewContactErasure(res, c.n), c.dryRun})
	}
	verb := "erased content of"
	if c.dryRun {
		verb = "would erase content of"
	}
	fmt.Fprintf(e.stdout, "%s %d records of %s in %s", verb, res.RecordsAffected, c.n.Masked(), c.ws)
	if res.Replayed {
		fmt.Fprint(e.stdout, " (replayed request: nothing applied)")
	}
	fmt.Fprintln(e.stdout)
	printSkipped(e, res.Result)
	if res.AuditSeq > 0 {
		fmt.Fprintf(e.stdout, "audit seq %d, hash %s\n", res.AuditSeq, res.AuditHash)
	}
	return nil
}

// printSkipped lists the records an operation left alone, and why.
func printSkipped(e *env, res redaction.Result) {
	for _, s := range res.Skipped {
		fmt.Fprintf(e.stdout, "skipped %s: %s\n", s.ID, s.Reason)
	}
	if more := res.SkippedCount - len(res.Skipped); more > 0 {
		fmt.Fprintf(e.stdout, "skipped %d more\n", more)
	}
}
