package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
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
	s, err := e.openStore(readOnly)
	if err != nil {
		return err
	}
	defer s.Close()
	n := 0
	var last cdrstore.Record
	err = s.View(func(tx *cdrstore.Tx) error {
		if c.ids != "" {
			for _, id := range strings.Split(c.ids, ",") {
				r, err := tx.Get(c.ws, strings.TrimSpace(id))
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: not found\n", id)
					continue
				}
				n++
				if err := e.printJSON(cdrjson.Encode(&r)); err != nil {
					return err
				}
			}
			return nil
		}
		seq := tx.ByTime(c.ws, c.q)
		if c.n.IsValid() {
			seq = tx.ByNumber(c.ws, c.n, c.q)
		}
		for r, err := range seq {
			if err != nil {
				return err
			}
			n++
			last = r
			if err := e.printJSON(cdrjson.Encode(&r)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c.ids == "" && n == c.limit {
		fmt.Fprintf(e.stderr, "more: --cursor %s\n", last.Cursor())
	}
	return nil
}
