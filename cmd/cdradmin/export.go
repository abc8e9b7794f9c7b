package main

import (
	"context"
	"encoding/csv"
	"flag"
	"strings"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
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

// subjectExport is the JSON form of a subject access export.
type subjectExport struct {
	Workspace string           `json:"workspace"`
	E164      string           `json:"e164"`
	OptedOut  bool             `json:"opted_out"`
	OptOutAt  string           `json:"opted_out_since,omitempty"`
	Held      []string         `json:"legal_holds,omitempty"`
	Records   []cdrjson.Record `json:"records"`
}

func (c *exportCmd) run(ctx context.Context, e *env) error {
	s, err := e.openStore(readOnly)
	if err != nil {
		return err
	}
	defer s.Close()
	rd := redaction.New(s, nil)
	out := subjectExport{Workspace: c.ws, E164: c.n.String(), Records: []cdrjson.Record{}}
	ok, since, err := rd.IsOptedOut(c.ws, c.n)
	if err != nil {
		return err
	}
	out.OptedOut = ok
	if ok {
		out.OptOutAt = since.Format("2006-01-02T15:04:05Z07:00")
	}
	holds, err := rd.Holds(c.ws)
	if err != nil {
		return err
	}
	numberKey := redaction.HoldKeyForNumber(s, c.n)
	prog := newProgress(e.stderr)
	defer prog.done()
	err = s.View(func(tx *cdrstore.Tx) error {
		q := cdrstore.Query{Limit: 10_000}
		for {
			n := 0
			for r, err := range tx.ByNumber(c.ws, c.n, q) {
				if err != nil {
					return err
				}
				n++
				q.Cursor = r.Cursor()
				out.Records = append(out.Records, cdrjson.Encode(&r))
				prog.update("%d records", len(out.Records))
			}
			if n < q.Limit {
				return nil
			}
		}
	})
	if err != nil {
		return err
	}
	for _, h := range holds {
		if h.Key == numberKey {
			out.Held = append(out.Held, "number: "+h.Reason)
			continue
		}
		for _, r := range out.Records {
			if h.Key == redaction.HoldKeyForID(r.ID) {
				out.Held = append(out.Held, "record "+r.ID+": "+h.Reason)
			}
		}
	}
	if c.format == "json" {
		return e.printJSON(out)
	}
	w := csv.NewWriter(e.stdout)
	w.Write([]string{"# workspace", c.ws, "e164", out.E164, "opted_out", boolText(out.OptedOut), "legal_holds", strings.Join(out.Held, "; ")})
	w.Write(exportCSVHeader)
	for _, r := range out.Records {
		w.Write(exportCSVRow(r))
	}
	w.Flush()
	return w.Error()
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
