package control

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
)

// IngestOptions say how Ingest reads its input.
type IngestOptions struct {
	Region string `json:"region,omitempty"` // region of numbers in national form
	Batch  int    `json:"batch"`            // records per transaction; 0 means 10,000
	Strict bool   `json:"strict,omitempty"` // stop at the first bad line
}

// IngestResult counts what Ingest read, stored and rejected.
type IngestResult struct {
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

// IngestEvent is what Ingest reports as it goes: a rejected line (its
// number and what is wrong, never its content), or the counts after a
// batch was committed.
type IngestEvent struct {
	Line     int           `json:"line,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Progress *IngestResult `json:"progress,omitempty"`
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

// Ingest reads CDRs as JSON Lines from in and stores them in batches of
// o.Batch records, one transaction each: only whole batches are written,
// so an input that breaks off (a client killed mid-stream) leaves the
// batch it was in unwritten. It holds one batch in memory. Bad lines are
// reported through event and skipped (o.Strict: the first one stops
// Ingest before its batch is written). The result counts what was done,
// even with an error.
func (l *Local) Ingest(ctx context.Context, in io.Reader, o IngestOptions, event func(IngestEvent) error) (IngestResult, error) {
	if o.Batch <= 0 {
		o.Batch = 10_000
	}
	var res IngestResult
	lr := &lineReader{br: bufio.NewReaderSize(in, 64<<10)}
	batch := make([]cdrstore.Record, 0, min(o.Batch, 10_000))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// The Redactor's write hook applies earlier erasures to what
		// comes in.
		wr, err := l.s.PutBatchResult(batch)
		if err != nil {
			return err
		}
		res.Stored += wr.Stored
		res.Redacted += wr.Changed
		res.NotStored += wr.Dropped
		res.Expired += wr.Expired
		batch = batch[:0]
		p := res
		if err := event(IngestEvent{Progress: &p}); err != nil {
			return err
		}
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
			r, err = cdrjson.Decode(raw, o.Region)
		}
		if err != nil {
			res.Rejected++
			if err := event(IngestEvent{Line: line, Reason: err.Error()}); err != nil {
				return res, err
			}
			if o.Strict {
				return res, fmt.Errorf("line %d rejected (--strict): nothing of its batch was written", line)
			}
			continue
		}
		batch = append(batch, r)
		if len(batch) == o.Batch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}
