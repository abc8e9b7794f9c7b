package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
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
	// Records stored redacted: an earlier erasure covered them (they
	// started before it), or they were past an auto-redaction policy's
	// window when written. Records not stored: a deletion covered them,
	// or they started before the last retention sweep's cutoff.
	Redacted  int `json:"redacted,omitempty"`
	NotStored int `json:"not_stored,omitempty"`
	Expired   int `json:"expired,omitempty"`
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
	// The Redactor's write hook applies earlier erasures to what comes in.
	redaction.New(s, nil)
	res, err := c.ingest(ctx, s, in, e.stderr)
	if e.json {
		e.printJSON(res)
	} else {
		fmt.Fprintf(e.stdout, "read %d lines: %d stored, %d rejected\n", res.Read, res.Stored, res.Rejected)
		if res.Redacted+res.NotStored+res.Expired > 0 {
			fmt.Fprintf(e.stdout, "%d stored redacted (an erasure or a policy covered them), %d not stored (deleted), %d not stored (past retention)\n", res.Redacted, res.NotStored, res.Expired)
		}
	}
	if err != nil {
		return err
	}
	if res.Rejected > 0 {
		return fmt.Errorf("%d of %d lines rejected: %w", res.Rejected, res.Read, errRejected)
	}
	return nil
}

// maxLine is the longest line ingest reads, without its line end. A
// longer line is rejected like any bad line.
const maxLine = 8 << 20

// lineReader reads lines of at most maxLine bytes, reading a longer line
// to its end and reporting it instead of returning it.
type lineReader struct {
	br  *bufio.Reader
	buf []byte
}

// next returns the next line without its "\n" or "\r\n", valid until the
// following call; tooLong reports a line over maxLine (then line is nil).
// At the end of the input it returns io.EOF.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	read := 0
	for {
		frag, err := lr.br.ReadSlice('\n')
		read += len(frag)
		if !tooLong {
			lr.buf = append(lr.buf, frag...)
			if len(lr.buf) > maxLine+2 { // room for "\r\n"
				tooLong, lr.buf = true, lr.buf[:0]
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if read == 0 {
				return nil, false, io.EOF
			}
		case err != nil:
			return nil, false, err
		}
		break
	}
	if tooLong {
		return nil, true, nil
	}
	line = bytes.TrimSuffix(lr.buf, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > maxLine {
		return nil, true, nil
	}
	return line, false, nil
}

func (c *ingestCmd) ingest(ctx context.Context, s *cdrstore.Store, in io.Reader, report io.Writer) (ingestResult, error) {
	var res ingestResult
	lr := &lineReader{br: bufio.NewReaderSize(in, 64<<10)}
	batch := make([]cdrstore.Record, 0, c.batch)
	prog := newProgress(report)
	defer prog.done()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		wr, err := s.PutBatchResult(batch)
		if err != nil {
			return err
		}
		res.Stored += wr.Stored
		res.Redacted += wr.Changed
		res.NotStored += wr.Dropped
		res.Expired += wr.Expired
		batch = batch[:0]
		prog.update("%d stored, %d rejected", res.Stored, res.Rejected)
		return ctx.Err()
	}
	for line := 1; ; line++ {
		raw, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("line %d: %w", line, err)
		}
		if len(raw) == 0 && !tooLong {
			continue
		}
		res.Read++
		var r cdrstore.Record
		if tooLong {
			err = fmt.Errorf("longer than %d MiB", maxLine>>20)
		} else {
			r, err = cdrjson.Decode(raw, c.region)
		}
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
	return res, flush()
}
