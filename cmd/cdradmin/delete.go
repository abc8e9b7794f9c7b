package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/httpapi"
)

type deleteCmd struct {
	ws, id, conv, requestID string
}

func (c *deleteCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.id, "id", "", "delete this record (a voice leg, say)")
	fs.StringVar(&c.conv, "conversation", "", "delete every leg of this conversation")
	fs.StringVar(&c.requestID, "request-id", "", "idempotency key: a replay returns the first result")
}

func (c *deleteCmd) validate(e *env) error {
	if c.ws == "" || (c.id == "") == (c.conv == "") {
		return usageErr("need -w WS and one of --id or --conversation")
	}
	if c.id != "" {
		if err := cdrstore.ValidateID(c.id); err != nil {
			return usageErr("--id: %v", err)
		}
	} else if len(c.conv) > cdrstore.MaxConversationLen {
		return usageErr("--conversation is longer than %d bytes", cdrstore.MaxConversationLen)
	}
	return noArgs(e)
}

func (c *deleteCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readWrite)
	if err != nil {
		return err
	}
	defer done()
	res, err := ops.Delete(ctxRequest(ctx, c.requestID), c.ws, c.id, c.conv)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(httpapi.NewDeletion(res, c.id, c.conv)) // the endpoints' answer
	}
	what := "record " + c.id
	if c.conv != "" {
		what = "conversation " + c.conv
	}
	fmt.Fprintf(e.stdout, "deleted %d records (%s) in %s", res.Affected, what, c.ws)
	if res.Replayed {
		fmt.Fprint(e.stdout, " (replayed request: nothing applied)")
	}
	fmt.Fprintln(e.stdout)
	printSkipped(e, res)
	if res.AuditSeq > 0 {
		fmt.Fprintf(e.stdout, "audit seq %d, hash %s\n", res.AuditSeq, res.AuditHash)
	}
	return nil
}
