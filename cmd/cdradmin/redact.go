package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
)

type redactCmd struct {
	ws, product, typ, idsFrom string
	p                         cdrstore.Product
	d                         cdrstore.Direction
	ids                       []string
}

func (c *redactCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.product, "product", "", "sms, voice, number-insight, verify, verify-sdk or messages")
	fs.StringVar(&c.typ, "type", "outbound", "inbound or outbound")
	fs.StringVar(&c.idsFrom, "ids-from", "", "file with one transaction ID per line")
}

func (c *redactCmd) validate(e *env) error {
	if c.ws == "" || c.product == "" {
		return usageErr("need -w WS and --product P")
	}
	var err error
	if c.p, err = redaction.ParseProduct(c.product); err != nil {
		return err
	}
	if c.d, err = redaction.ParseDirection(c.typ); err != nil {
		return err
	}
	c.ids, err = readIDs(e.args, c.idsFrom)
	return err
}

// readIDs returns the transaction IDs given as arguments and in file
// idsFrom (one a line; blank lines and '#' comments skipped): redact and
// fleet redact.
func readIDs(args []string, idsFrom string) ([]string, error) {
	ids := slices.Clone(args)
	if idsFrom != "" {
		f, err := os.Open(idsFrom)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if id := strings.TrimSpace(sc.Text()); id != "" && !strings.HasPrefix(id, "#") {
				ids = append(ids, id)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 {
		return nil, usageErr("no IDs: give them as arguments or with --ids-from")
	}
	return ids, nil
}

type redactOutcome struct {
	ID       string `json:"id"`
	Status   string `json:"status"` // redacted, unchanged, not_found, premature, not_provisioned, held, error
	Detail   string `json:"detail,omitempty"`
	AuditSeq uint64 `json:"audit_seq,omitempty"`
}

func (c *redactCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readWrite)
	if err != nil {
		return err
	}
	defer done()
	failed := 0
	for _, id := range c.ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := ops.RedactByID(ctxRequest(ctx, ""), c.ws, id, c.p, c.d)
		o := redactOutcome{ID: id, Status: "redacted", AuditSeq: res.AuditSeq}
		switch {
		case err == nil && res.Affected == 0:
			o.Status = "unchanged"
		case err == nil:
		case errors.Is(err, cdrstore.ErrNotFound):
			o.Status, o.Detail = "not_found", err.Error()
		case errors.Is(err, redaction.ErrPrematureRedaction):
			o.Status, o.Detail = "premature", err.Error()
		case errors.Is(err, redaction.ErrNotProvisioned):
			o.Status, o.Detail = "not_provisioned", err.Error()
		case errors.Is(err, redaction.ErrLegalHold):
			o.Status, o.Detail = "held", err.Error()
		default:
			o.Status, o.Detail = "error", err.Error()
		}
		if err != nil {
			failed++
		}
		if e.json {
			e.printJSON(o)
		} else if o.Detail != "" {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", id, o.Status, o.Detail)
		} else {
			fmt.Fprintf(e.stdout, "%s\t%s\n", id, o.Status)
		}
		if errors.Is(err, cdrstore.ErrCorrupt) || errors.Is(err, cdrstore.ErrHalted) {
			return err // the store, not the ID: the next IDs would fail alike
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d IDs not redacted", failed, len(c.ids))
	}
	return nil
}
