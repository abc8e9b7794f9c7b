package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"

	"github.com/cdrvault/cdrvault/cdrstore"
)

type statsCmd struct{}

func (c *statsCmd) flags(fs *flag.FlagSet) {}
func (c *statsCmd) validate(e *env) error  { return noArgs(e) }

type wsStats struct {
	Workspace string `json:"workspace"`
	Records   int    `json:"records"`
	Outbox    int    `json:"outbox_pending"`
	OptOuts   int    `json:"optouts"`
	Holds     int    `json:"holds"`
	AuditSeq  uint64 `json:"audit_seq"`
	AuditHead string `json:"audit_head,omitempty"`
}

type storeStats struct {
	Path       string    `json:"path"`
	FileBytes  int64     `json:"file_bytes"`
	Workspaces []wsStats `json:"workspaces"`
}

func collectStats(s *cdrstore.Store) (storeStats, error) {
	st := storeStats{Path: s.Path()}
	if fi, err := os.Stat(s.Path()); err == nil {
		st.FileBytes = fi.Size()
	}
	err := s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			w, err := workspaceStats(tx, ws)
			if err != nil {
				return err
			}
			st.Workspaces = append(st.Workspaces, w)
		}
		return nil
	})
	return st, err
}

// workspaceStats counts what workspace ws holds.
func workspaceStats(tx *cdrstore.Tx, ws string) (wsStats, error) {
	w := wsStats{Workspace: ws}
	n, err := tx.Count(ws)
	if err != nil {
		return w, err
	}
	w.Records = n
	for _, b := range []struct {
		name cdrstore.Name
		dst  *int
	}{{cdrstore.BucketOutbox, &w.Outbox}, {cdrstore.BucketOptout, &w.OptOuts}, {cdrstore.BucketHolds, &w.Holds}} {
		kv, err := tx.Bucket(ws, b.name)
		if err != nil {
			return w, err
		}
		*b.dst = kv.Len()
	}
	head, ok, err := tx.AuditHead(ws)
	if err != nil {
		return w, err
	}
	if ok {
		w.AuditSeq, w.AuditHead = head.Seq, hex.EncodeToString(head.Hash[:8])
	}
	return w, nil
}

func (c *statsCmd) run(ctx context.Context, e *env) error {
	s, err := e.openStore(readOnly)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := collectStats(s)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(st)
	}
	fmt.Fprintf(e.stdout, "%s: %d bytes, %d workspaces\n", st.Path, st.FileBytes, len(st.Workspaces))
	for _, w := range st.Workspaces {
		fmt.Fprintf(e.stdout, "  %-12s records %-9d outbox %-5d opt-outs %-5d holds %-3d audit seq %d head %s\n",
			show(w.Workspace), w.Records, w.Outbox, w.OptOuts, w.Holds, w.AuditSeq, w.AuditHead)
	}
	return nil
}
