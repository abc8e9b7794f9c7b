package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
)

type searchCmd struct {
	ws, number, region, ids, since, until, cursor string
	limit                                         int
	q                                             cdrstore.Query
	n                                             e164.Number
}

func (c *searchCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.number, "number", "", "E.164 number (from or to)")
	fs.StringVar(&c.region, "region", "", "region for a number in national form")
	fs.StringVar(&c.ids, "ids", "", "comma-separated transaction IDs")
	fs.StringVar(&c.since, "since", "", "RFC 3339 start (inclusive)")
	fs.StringVar(&c.until, "until", "", "RFC 3339 end (exclusive)")
	fs.IntVar(&c.limit, "limit", 100, "at most this many records (at least 1)")
	fs.StringVar(&c.cursor, "cursor", "", "resume after the cursor printed by the previous page")
}

func parseRange(since, until string) (cdrstore.Query, error) {
	var q cdrstore.Query
	for _, p := range []struct {
		s   string
		dst *time.Time
	}{{since, &q.Since}, {until, &q.Until}} {
		if p.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.s)
		if err != nil {
			return q, usageErr("%q is not an RFC 3339 time", p.s)
		}
		*p.dst = t.UTC()
	}
	return q, nil
}

func (c *searchCmd) validate(e *env) error {
	if c.ws == "" {
		return usageErr("need -w WS")
	}
	if c.limit < 1 {
		// 0 would be the store's default limit, and the "more:" line
		// below compares against c.limit.
		return usageErr("--limit must be at least 1")
	}
	modes := 0
	for _, s := range []string{c.number, c.ids} {
		if s != "" {
			modes++
		}
	}
	if modes > 1 || (modes == 0 && (c.since == "" || c.until == "")) {
		return usageErr("give one of --number, --ids, or --since with --until")
	}
	q, err := parseRange(c.since, c.until)
	if err != nil {
		return err
	}
	q.Limit, q.Cursor = c.limit, c.cursor
	c.q = q
	if c.number != "" {
		if c.n, err = e164.Parse(c.number, c.region); err != nil {
			return err
		}
	}
	return nil
}

func (c *searchCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	q := control.Search{Workspace: c.ws, Number: c.n, Query: c.q}
	if c.ids != "" {
		for _, id := range strings.Split(c.ids, ",") {
			q.IDs = append(q.IDs, strings.TrimSpace(id))
		}
	}
	end, err := ops.Search(ctx, q, func(it control.SearchItem) error {
		if it.Record == nil {
			_, err := fmt.Fprintf(e.stderr, "%s: not found\n", it.NotFound)
			return err
		}
		return e.printJSON(it.Record)
	})
	if err != nil {
		return err
	}
	if end.Cursor != "" {
		fmt.Fprintf(e.stderr, "more: --cursor %s\n", end.Cursor)
	}
	return nil
}
