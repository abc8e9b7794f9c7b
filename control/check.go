package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/internal/termtext"
	"github.com/cdrvault/cdrvault/redaction"
)

// Finding is one result of the configuration review.
type Finding struct {
	Workspace string `json:"workspace,omitempty"`
	Issue     string `json:"issue"`
	Action    string `json:"action"`
}

// Report is what Check found: the integrity check and the configuration
// review, each finding with what to do.
type Report struct {
	Integrity string    `json:"integrity"` // "ok" or the problems
	Findings  []Finding `json:"findings"`
}

// erasingActions leave freed pages with erased bytes behind.
var erasingActions = map[string]bool{
	redaction.ActionRedactTransaction: true, redaction.ActionDataErasure: true, redaction.ActionAutoRedact: true,
	redaction.ActionRetentionSweep: true, redaction.ActionRecordDelete: true,
}

// Check runs the integrity check (cdrstore.Store.Check) and the
// configuration review. A failed integrity check is in the report, not
// the error. Workspace names in findings are quoted as termtext.Show does.
func (l *Local) Check(ctx context.Context) (Report, error) {
	s, now := l.s, l.s.Now()
	rep := Report{Integrity: "ok", Findings: []Finding{}}
	if err := s.Check(ctx); err != nil {
		if ctx.Err() != nil {
			return rep, err
		}
		rep.Integrity = oneLine(err)
	}
	if s.SubjectKeyInFile() {
		rep.Findings = append(rep.Findings, Finding{
			Issue: "the HMAC key that pseudonymises numbers in the audit log, opt-out list, tombstones and subject index is kept inside the store file; " +
				"a record whose number was obfuscated while its content is kept sits next to the number's HMAC, and the masked number leaves 10^4 candidates to try",
			Action: "anyone with the file (or a backup) can test candidate numbers, and recovers an obfuscated number in 10^4 tries; create stores with Options.SubjectKey from a secret manager",
		})
	}
	rd := l.rd
	scrubbed, err := s.ScrubbedAt()
	if err != nil {
		return rep, err
	}
	erasures := 0
	err = s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			if err := cdrstore.ValidateNewWorkspace(ws); err != nil {
				var ve *cdrstore.ValidationError
				errors.As(err, &ve)
				rep.Findings = append(rep.Findings, Finding{Workspace: ws,
					Issue:  fmt.Sprintf("the workspace name %s would be refused today (%s): an operator can take it for another", termtext.Show(ws), ve.Reason),
					Action: "its records stay readable and erasable under this name; move them to a workspace with a plain name (ingest them there, then erase and sweep this one)"})
			}
			settings, err := redaction.LoadSettings(tx, ws)
			if err != nil {
				rep.Integrity = oneLine(err)
				continue
			}
			for _, p := range cdrstore.Products() {
				if m := settings.RetentionMonths(p); m > 13 {
					rep.Findings = append(rep.Findings, Finding{Workspace: ws,
						Issue:  fmt.Sprintf("%s records are kept %d months, longer than 13", p, m),
						Action: fmt.Sprintf("confirm the legal basis, or: cdradmin policy set -w %s --retention %s=13", termtext.Show(ws), p)})
				}
			}
			if len(settings.AutoRedact) == 0 {
				rep.Findings = append(rep.Findings, Finding{Workspace: ws,
					Issue:  "no auto-redaction policy: message bodies and numbers are kept until the retention sweep",
					Action: fmt.Sprintf("consider: cdradmin policy set -w %s --auto-redact sms:any:content,address:6h", termtext.Show(ws))})
			}
			for en, err := range tx.AuditEntries(ws, 0) {
				if err != nil {
					rep.Integrity = oneLine(err)
					break
				}
				if erasingActions[en.Action] && en.Count > 0 && en.Time.After(scrubbed) {
					erasures++
				}
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if erasures > 0 {
		free, err := s.FreeBytes()
		if err != nil {
			return rep, err
		}
		if free > 0 {
			rep.Findings = append(rep.Findings, Finding{
				Issue:  fmt.Sprintf("about %d KiB of free pages after %d erasing operations: erased bytes may still be in the file (last scrub: %s)", free>>10, erasures, scrubText(scrubbed)),
				Action: "run cdradmin scrub (and take new backups; old ones still hold the data)",
			})
		}
	}
	overdue, err := rd.Overdue(ctx, now)
	if err != nil {
		if ctx.Err() != nil {
			return rep, err
		}
		rep.Integrity = oneLine(err)
	}
	var wss []string
	s.View(func(tx *cdrstore.Tx) error { wss = tx.Workspaces(); return nil })
	unlinked, err := rd.Unlinked(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return rep, err
		}
		rep.Integrity = oneLine(err)
	}
	plain, err := rd.PlaintextRequestIDs(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return rep, err
		}
		rep.Integrity = oneLine(err)
	}
	for _, ws := range wss {
		if n := unlinked[ws]; n > 0 {
			rep.Findings = append(rep.Findings, Finding{Workspace: ws,
				Issue:  fmt.Sprintf("%d records lost their counterparty's number before format v3 and keep content that no erasure can reach", n),
				Action: fmt.Sprintf("decide whether to keep it; to discard it: cdradmin unlinked -w %s --discard", termtext.Show(ws))})
		}
		if n := plain[ws]; n > 0 {
			rep.Findings = append(rep.Findings, Finding{Workspace: ws,
				Issue:  fmt.Sprintf("%d audit entries written before format v3 hold a request ID as the caller chose it (it may hold a phone number)", n),
				Action: "the entries keep their bytes so the hash chain and receipts stay verifiable; keep the file and its backups as personal data until they expire"})
		}
		if n := overdue[ws]; n > 0 {
			rep.Findings = append(rep.Findings, Finding{Workspace: ws,
				Issue:  fmt.Sprintf("%d records are past an auto-redaction window (or a record's own override, or their media's expiry) and still hold what it removes", n),
				Action: "run cdradmin autoredact (schedule it at least as often as the shortest hold)"})
		}
	}
	for _, ws := range wss {
		items, err := rd.Outbox(ws, 1)
		if err != nil {
			rep.Integrity = oneLine(err)
			continue
		}
		if len(items) > 0 && now.Sub(items[0].Since) > 24*time.Hour {
			rep.Findings = append(rep.Findings, Finding{Workspace: ws,
				Issue:  fmt.Sprintf("recordings or media removed from records on %s are still waiting in the outbox", items[0].Since.Format("2006-01-02")),
				Action: "run the deleter (redaction.DrainOutbox) so the blobs are deleted where they live"})
		}
	}
	return rep, nil
}

func scrubText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
