package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
)

type ingestCmd struct {
	region string
	batch  int
	strict bool
}

func (c *ingestCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.region, "region", "", "ISO 3166 region for numbers given in national form (e.g. NG)")
	fs.IntVar(&c.batch, "batch", 10000, "records per transaction")
	fs.BoolVar(&c.strict, "strict", false, "stop at the first bad line; nothing of its batch is written")
}

func (c *ingestCmd) validate(e *env) error {
	if c.batch < 1 {
		return usageErr("--batch must be at least 1")
	}
	if len(e.args) > 1 {
		return usageErr("one input at most")
	}
	return nil
}

// errRejected says ingest stored the good lines but refused some.
var errRejected = errors.New("some lines were rejected")

type ingestResult struct {
	Read     int `json:"read"`
	Stored   int `json:"stored"`
	Rejected int `json:"rejected"`
}

func (c *ingestCmd) run(ctx context.Context, e *env) error {
	in := e.stdin
	if len(e.args) == 1 && e.args[0] != "-" {
		f, err := os.Open(e.args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	s, err := e.openStore(create)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := c.ingest(ctx, s, in, e.stderr)
	if e.json {
		e.printJSON(res)
	} else {
		fmt.Fprintf(e.stdout, "read %d lines: %d stored, %d rejected\n", res.Read, res.Stored, res.Rejected)
	}
	if err != nil {
		return err
	}
	if res.Rejected > 0 {
		return fmt.Errorf("%d of %d lines rejected: %w", res.Rejected, res.Read, errRejected)
	}
	return nil
}

func (c *ingestCmd) ingest(ctx context.Context, s *cdrstore.Store, in io.Reader, report io.Writer) (ingestResult, error) {
	var res ingestResult
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	batch := make([]cdrstore.Record, 0, c.batch)
	prog := newProgress(report)
	defer prog.done()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.PutBatch(batch); err != nil {
			return err
		}
		res.Stored += len(batch)
		batch = batch[:0]
		prog.update("%d stored, %d rejected", res.Stored, res.Rejected)
		return ctx.Err()
	}
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(raw) == 0 {
			continue
		}
		res.Read++
		r, err := cdrjson.Decode(raw, c.region)
		if err != nil {
			res.Rejected++
			fmt.Fprintf(report, "line %d: %v\n", line, err)
			if c.strict {
				return res, fmt.Errorf("line %d rejected (--strict): nothing of its batch was written", line)
			}
			continue
		}
		batch = append(batch, r)
		if len(batch) == c.batch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("line %d: %w", line+1, err)
	}
	return res, flush()
}
