package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

type auditCmd struct {
	ws      string
	after   uint64
	limit   int
	reverse bool
}

func (c *auditCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace (list: required; verify: default all)")
	fs.Uint64Var(&c.after, "after", 0, "list only entries after this seq")
	fs.IntVar(&c.limit, "limit", 100, "list at most this many entries: the newest (the oldest with --reverse)")
	fs.BoolVar(&c.reverse, "reverse", false, "list the oldest entries first (default: newest first)")
}

func (c *auditCmd) validate(e *env) error {
	if len(e.args) != 1 || (e.args[0] != "verify" && e.args[0] != "list") {
		return usageErr("need verify or list")
	}
	if e.args[0] == "list" && c.ws == "" {
		return usageErr("list needs -w WS")
	}
	if c.limit < 1 {
		return usageErr("--limit must be at least 1")
	}
	return nil
}

type auditLine struct {
	Seq       uint64 `json:"seq"`
	Time      string `json:"time"`
	Action    string `json:"action"`
	Reason    string `json:"reason,omitempty"`
	Actor     string `json:"actor,omitempty"`
	Subject   string `json:"subject_hmac,omitempty"`
	Count     uint64 `json:"count"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Hash      string `json:"hash"`
}

func (c *auditCmd) run(ctx context.Context, e *env) error {
	s, err := e.openStore(readOnly)
	if err != nil {
		return err
	}
	defer s.Close()
	if e.args[0] == "verify" {
		return c.verify(ctx, e, s)
	}
	var lines []auditLine
	err = s.View(func(tx *cdrstore.Tx) error {
		after := c.after
		if !c.reverse {
			// Seqs run 1, 2, … with no gap (audit.Verify checks it): the
			// newest c.limit entries follow the head's seq minus c.limit.
			head, ok, err := tx.AuditHead(c.ws)
			if err != nil || !ok {
				return err
			}
			if head.Seq > uint64(c.limit) {
				after = max(after, head.Seq-uint64(c.limit))
			}
		}
		for en, err := range tx.AuditEntries(c.ws, after) {
			if err != nil {
				return err
			}
			if len(lines) == c.limit {
				break
			}
			lines = append(lines, auditLine{Seq: en.Seq, Time: en.Time.Format(time.RFC3339Nano), Action: en.Action, Reason: en.Reason, Actor: en.Actor,
				Subject: hex.EncodeToString(en.Subject), Count: en.Count, Detail: en.Detail, RequestID: en.RequestID, Hash: hex.EncodeToString(en.Hash[:])})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !c.reverse {
		slices.Reverse(lines)
	}
	for _, l := range lines {
		if e.json {
			e.printJSON(l)
			continue
		}
		fmt.Fprintf(e.stdout, "%6d  %s  %-20s count=%-6d %s %s\n", l.Seq, l.Time, show(l.Action), l.Count, show(l.Reason), show(l.Detail))
	}
	return nil
}

func (c *auditCmd) verify(ctx context.Context, e *env, s *cdrstore.Store) error {
	results, err := verifyAudit(ctx, s, c.ws)
	for _, r := range results {
		if e.json {
			e.printJSON(r)
		} else {
			fmt.Fprintf(e.stdout, "%s: %d entries, chain intact, head %s\n", show(r.Workspace), r.Entries, r.Head)
		}
	}
	return err
}

type chainStatus struct {
	Workspace string `json:"workspace"`
	Entries   uint64 `json:"entries"`
	Head      string `json:"head"`
}

// verifyAudit verifies the chain of ws, or of every workspace.
func verifyAudit(ctx context.Context, s *cdrstore.Store, ws string) ([]chainStatus, error) {
	var out []chainStatus
	err := s.View(func(tx *cdrstore.Tx) error {
		wss := tx.Workspaces()
		if ws != "" {
			wss = []string{ws}
		}
		for _, w := range wss {
			n, head, err := tx.VerifyAudit(ctx, w)
			if err != nil {
				return fmt.Errorf("workspace %s: %w", w, err)
			}
			out = append(out, chainStatus{Workspace: w, Entries: n, Head: hex.EncodeToString(head.Hash[:8])})
		}
		return nil
	})
	return out, err
}
