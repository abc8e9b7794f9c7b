package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"strings"

	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
)

type exportCmd struct {
	ws, number, region, format string
	n                          e164.Number
}

func (c *exportCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.number, "number", "", "the data subject's number")
	fs.StringVar(&c.region, "region", "", "region for a number in national form")
	fs.StringVar(&c.format, "format", "json", "json or csv")
}

func (c *exportCmd) validate(e *env) error {
	if c.ws == "" || c.number == "" {
		return usageErr("need -w WS and --number N")
	}
	if c.format != "json" && c.format != "csv" {
		return usageErr("--format must be json or csv")
	}
	var err error
	c.n, err = e164.Parse(c.number, c.region)
	return err
}

func (c *exportCmd) run(ctx context.Context, e *env) error {
	ops, done, err := e.ops(ctx, readOnly)
	if err != nil {
		return err
	}
	defer done()
	prog := newProgress(e.stderr)
	defer prog.done()
	w := exportWriter{e: e, csv: c.format == "csv"}
	n := 0
	err = ops.Export(ctx, c.ws, c.n, w.head, func(r cdrjson.Record) error {
		n++
		prog.update("%d records", n)
		return w.record(&r)
	})
	if err != nil {
		return err
	}
	return w.end()
}

// exportWriter writes a subject access export as it streams in: one JSON
// object (the head's fields, then "records") or CSV (a head line, a
// header, one line per record).
type exportWriter struct {
	e     *env
	csv   bool
	cw    *csv.Writer
	bw    *bufio.Writer
	first bool
}

func (w *exportWriter) head(s control.Subject) error {
	if w.csv {
		w.cw = csv.NewWriter(w.e.stdout)
		w.cw.Write([]string{"# workspace", s.Workspace, "e164", s.E164, "opted_out", boolText(s.OptedOut), "legal_holds", strings.Join(s.Held, "; ")})
		return w.cw.Write(exportCSVHeader)
	}
	var head bytes.Buffer
	if err := encodeJSON(&head, s); err != nil {
		return err
	}
	w.bw = bufio.NewWriter(w.e.stdout)
	w.bw.Write(bytes.TrimSuffix(head.Bytes(), []byte("}\n")))
	_, err := w.bw.WriteString(`,"records":[`)
	w.first = true
	return err
}

func (w *exportWriter) record(r *cdrjson.Record) error {
	if w.csv {
		return w.cw.Write(exportCSVRow(*r))
	}
	if !w.first {
		w.bw.WriteByte(',')
	}
	w.first = false
	var line bytes.Buffer
	if err := encodeJSON(&line, r); err != nil {
		return err
	}
	_, err := w.bw.Write(bytes.TrimSuffix(line.Bytes(), []byte("\n")))
	return err
}

func (w *exportWriter) end() error {
	if w.csv {
		w.cw.Flush()
		return w.cw.Error()
	}
	w.bw.WriteString("]}\n")
	return w.bw.Flush()
}

// exportCSVHeader and exportCSVRow are the CSV form of an exported record
// (export, fleet export).
var exportCSVHeader = []string{"id", "product", "direction", "from", "to", "started_at", "ended_at", "status", "price", "currency", "body", "transcript", "recording_url", "conversation_id", "redacted"}

func exportCSVRow(r cdrjson.Record) []string {
	rec := ""
	if r.RecordingURL != nil {
		rec = *r.RecordingURL
	}
	return []string{r.ID, r.Product, r.Direction, r.From, r.To, r.StartedAt, r.EndedAt, r.Status, r.Price, r.Currency, r.Body, strings.Join(r.Transcript, " / "), rec, r.ConversationID, strings.Join(r.Redacted, "|")}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
