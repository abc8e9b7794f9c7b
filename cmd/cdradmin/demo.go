package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/internal/workload"
	"github.com/cdrvault/cdrvault/redaction"
)

type demoCmd struct {
	records int
	keep    bool
}

func (c *demoCmd) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.records, "records", 30000, "records to generate")
	fs.BoolVar(&c.keep, "keep", false, "keep the demo store (a store at --db or $CDRVAULT_DB is always kept, and must not exist yet)")
}

func (c *demoCmd) validate(e *env) error {
	if c.records < 1000 || c.records > 5_000_000 {
		return usageErr("--records must be between 1,000 and 5,000,000")
	}
	return noArgs(e)
}

// demoNow is the demo's clock: the end of the generated history.
var demoNow = workload.DefaultEnd

func (c *demoCmd) run(ctx context.Context, e *env) error {
	path := e.db
	if !e.dbSet && os.Getenv("CDRVAULT_DB") == "" {
		// No store named: build one in a temporary directory. A store the
		// user names is never removed.
		dir, err := os.MkdirTemp("", "cdrvault-demo-")
		if err != nil {
			return err
		}
		path = filepath.Join(dir, "demo.db")
		if !c.keep {
			defer os.RemoveAll(dir)
		}
	} else if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists; the demo builds a new store (remove it or pick another --db)", path)
	}
	out := func(format string, args ...any) { fmt.Fprintf(e.stdout, format+"\n", args...) }
	s, err := cdrstore.Open(path, &cdrstore.Options{Now: func() time.Time { return demoNow }})
	if err != nil {
		return err
	}
	defer s.Close()
	rd := redaction.New(s, nil)
	rctx := ctxRequest(ctx, "")

	// 1. A store with 15 months of history.
	workspaces := []string{"acme", "globex", "initech"}
	g := workload.New(workload.Config{Seed: 2026, N: c.records, Workspaces: workspaces, RecordsPerContact: 60})
	batch := make([]cdrstore.Record, 0, 5000)
	for i := 0; i < c.records; i += cap(batch) {
		batch = g.Batch(batch[:0], min(cap(batch), c.records-i))
		if err := s.PutBatch(batch); err != nil {
			return err
		}
	}
	st, err := control.NewLocal(rd).Stats(ctx)
	if err != nil {
		return err
	}
	out("store      %d records (SMS, voice legs, messages, verify) in %d workspaces, %d contacts in %d countries, 15 months to %s",
		c.records, len(st.Workspaces), len(g.Contacts()), countries(g.Contacts()), demoNow.Format("2006-01-02"))

	// 2. Subject access: everything held about one person.
	subject, recs, err := busiestContact(s, "acme", g.Contacts())
	if err != nil {
		return err
	}
	kinds := map[cdrstore.Product]int{}
	for _, r := range recs {
		kinds[r.Product]++
	}
	out("access     %s has %d records in acme (%d sms, %d voice, %d messages): cdradmin export -w acme --number …",
		subject.Masked(), len(recs), kinds[cdrstore.ProductSMS], kinds[cdrstore.ProductVoice], kinds[cdrstore.ProductMessages])

	// 3. Redact by ID, the Redact API's flow.
	var sms, young cdrstore.Record
	for _, r := range recs {
		if r.Product == cdrstore.ProductSMS && r.Direction == cdrstore.Outbound {
			if sms.ID == "" {
				sms = r
			}
		}
	}
	if sms.ID == "" {
		return errors.New("demo: no outbound SMS for the subject")
	}
	res, err := rd.RedactByID(rctx, "acme", sms.ID, cdrstore.ProductSMS, cdrstore.Outbound)
	if err != nil {
		return err
	}
	after, err := s.Get("acme", sms.ID)
	if err != nil {
		return err
	}
	out("redact     %s (sms, outbound): removed %s; audit seq %d", sms.ID, after.Redacted.Fields, res.AuditSeq)
	_, err = rd.RedactByID(rctx, "acme", sms.ID, cdrstore.ProductSMS, cdrstore.Inbound)
	out("           the same ID as inbound: %v", err)
	young = cdrstore.Record{ID: "demo-just-sent", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
		From: g.PlatformNumbers("acme")[0], To: subject, Body: "Your code is 4711", StartedAt: demoNow.Add(-5 * time.Minute)}
	if err := s.Put(young); err != nil {
		return err
	}
	_, err = rd.RedactByID(rctx, "acme", young.ID, cdrstore.ProductSMS, cdrstore.Outbound)
	out("           a message sent 5 minutes ago: %v", err)

	// 4. Erase a contact: the right to erasure.
	var urls []string
	for _, r := range recs {
		if r.RecordingURL != "" {
			urls = append(urls, r.RecordingURL)
		}
	}
	er, err := rd.EraseContact(rctx, "acme", subject, "ndpr_right_to_erasure")
	if err != nil {
		return err
	}
	wire, _ := json.Marshal(struct {
		Erased          bool   `json:"erased"`
		E164            string `json:"e164"`
		RecordsAffected int    `json:"records_affected"`
	}{er.Erased, subject.Masked(), er.RecordsAffected})
	lingering := residue(path, subject, urls)
	again, err := rd.EraseContact(rctx, "acme", subject, "ndpr_right_to_erasure")
	if err != nil {
		return err
	}
	out("erase      %s; repeated: records_affected %d", wire, again.RecordsAffected)
	out("           %d recordings queued for deletion; %d of their URLs still readable in the file's free pages", len(urls), lingering)

	// 5. Auto-redaction by policy.
	policy := redaction.Settings{AutoRedact: []redaction.AutoRedactPolicy{
		{Product: cdrstore.ProductSMS, Content: true, Address: true, Hold: redaction.Duration(6 * time.Hour)},
		{Product: cdrstore.ProductMessages, Content: true, Hold: redaction.Duration(30 * 24 * time.Hour)},
	}}
	if _, err := rd.SetSettings(rctx, "globex", policy); err != nil {
		return err
	}
	ar, err := rd.AutoRedact(rctx, demoNow, redaction.AutoRedactOptions{})
	if err != nil {
		return err
	}
	out("autoredact globex (sms after 6h, messages after 30 days): %d records, %d contents discarded, %d numbers obfuscated; overrides elsewhere: %d",
		ar.ByWorkspace["globex"], ar.ContentDiscarded, ar.AddressesObfuscated, ar.Records-ar.ByWorkspace["globex"])

	// 6. Retention: 13 calendar months.
	sw, err := rd.Sweep(rctx, demoNow, redaction.SweepOptions{})
	if err != nil {
		return err
	}
	out("sweep      %d records older than %s deleted in %d batches",
		sw.Deleted, redaction.Cutoff(demoNow, redaction.DefaultRetentionMonths).Format("2006-01-02"), sw.Batches)

	// 7. The blobs, then the bytes.
	dr, err := rd.DrainOutbox(ctx, "", redaction.DeleterFunc(func(context.Context, string) error { return nil }))
	if err != nil {
		return err
	}
	sr, err := s.Scrub(ctx)
	if err != nil {
		return err
	}
	afterScrub := residue(path, subject, urls)
	out("scrub      %d recordings and media handed to the deleter; erased recording URLs left in the file: %d (%d KiB of free pages zeroed in place)",
		dr.Deleted, afterScrub, sr.BytesZeroed>>10)

	// 8. Proof.
	chains, err := control.NewLocal(rd).VerifyAudit(ctx, "")
	if err != nil {
		return err
	}
	entries := uint64(0)
	for _, ch := range chains {
		entries += ch.Entries
	}
	if err := s.Check(ctx); err != nil {
		return err
	}
	out("audit      %d entries in %d chains verified; indexes checked against every record", entries, len(chains))
	if c.keep || path == e.db {
		out("kept       %s (try: cdradmin --db %s stats)", path, path)
	}
	return nil
}

func countries(ns []e164.Number) int {
	seen := map[int]bool{}
	for _, n := range ns {
		seen[n.CountryCode()] = true
	}
	return len(seen)
}

// busiestContact returns the contact with the most records in ws among
// the first few, and those records.
func busiestContact(s *cdrstore.Store, ws string, contacts []e164.Number) (e164.Number, []cdrstore.Record, error) {
	var (
		best e164.Number
		recs []cdrstore.Record
	)
	err := s.View(func(tx *cdrstore.Tx) error {
		// The first three contacts are the platform's agents (call-centre
		// numbers on every second leg); a data subject is a person.
		for _, n := range contacts[min(len(contacts), 3):min(len(contacts), 60)] {
			var rs []cdrstore.Record
			for r, err := range tx.ByNumber(ws, n, cdrstore.Query{Limit: 100_000}) {
				if err != nil {
					return err
				}
				rs = append(rs, r)
			}
			if len(rs) > len(recs) {
				best, recs = n, rs
			}
		}
		return nil
	})
	return best, recs, err
}

// residue counts the erased recording URLs still in the file's bytes.
func residue(path string, _ e164.Number, urls []string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n := 0
	for _, u := range urls {
		if bytes.Contains(raw, []byte(u)) {
			n++
		}
	}
	return n
}
