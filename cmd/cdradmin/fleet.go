package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/redaction"
)

// exitPending is the status of a fleet command whose record is still
// pending when --wait ends.
const exitPending = 3

// errPending marks a fleet record still pending at --wait: exit status 3.
var errPending = errors.New("not every store answered yet")

// natsFlags are the connection flags of serve and fleet.
type natsFlags struct {
	url, creds, nkey, ca, cert, key, keysDir string
	replicas                                 int
}

func (n *natsFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&n.url, "nats", "", "NATS server URL(s), comma-separated (user:password@ and tls:// are honoured)")
	fs.StringVar(&n.creds, "nats-creds", "", "NATS credentials file (JWT and nkey seed)")
	fs.StringVar(&n.nkey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&n.ca, "nats-ca", "", "CA certificate file the NATS server's TLS certificate must chain to")
	fs.StringVar(&n.cert, "nats-cert", "", "client TLS certificate file (with --nats-key)")
	fs.StringVar(&n.key, "nats-key", "", "client TLS key file (with --nats-cert)")
	fs.StringVar(&n.keysDir, "fleet-keys", "", "fleet key directory (cdradmin fleet keygen)")
	fs.IntVar(&n.replicas, "nats-replicas", 1, "replicas of the command log and fleet bucket when this process creates them (3 in a cluster)")
}

func (n *natsFlags) config() fleet.Config { return fleet.Config{Replicas: n.replicas} }

func (n *natsFlags) connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	if n.creds != "" {
		opts = append(opts, nats.UserCredentials(n.creds))
	}
	if n.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(n.nkey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	if n.ca != "" {
		opts = append(opts, nats.RootCAs(n.ca))
	}
	if (n.cert != "") != (n.key != "") {
		return nil, usageErr("--nats-cert and --nats-key go together")
	}
	if n.cert != "" {
		opts = append(opts, nats.ClientCert(n.cert, n.key))
	}
	return nats.Connect(n.url, opts...)
}

type fleetCmd struct {
	nf                                                natsFlags
	ws, reason, region, requestID, product, direction string
	id, number, conversation, out, settings           string
	wait, timeout                                     time.Duration
	since, until, format, ids, idsFrom                string
	cmd                                               fleet.Command
	redactIDs                                         []string
}

func (c *fleetCmd) flags(fs *flag.FlagSet) {
	c.nf.flags(fs)
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.reason, "reason", "", "erasure reason code (erase; default gdpr_art17) or hold reason (hold add)")
	fs.StringVar(&c.region, "region", "", "region for a number in national form")
	fs.StringVar(&c.requestID, "request-id", "", "idempotency key every store applies the command under (default: a random one, printed)")
	fs.StringVar(&c.product, "product", "", "product (redact)")
	fs.StringVar(&c.direction, "type", "outbound", "inbound or outbound (redact)")
	fs.StringVar(&c.id, "id", "", "record ID (delete, hold)")
	fs.StringVar(&c.number, "number", "", "number (hold, export)")
	fs.StringVar(&c.conversation, "conversation", "", "conversation ID (delete)")
	fs.StringVar(&c.out, "out", "", "directory to write keys to (keygen)")
	fs.StringVar(&c.settings, "settings", "", "workspace settings as JSON, as 'policy show --json' prints them (policy set)")
	fs.DurationVar(&c.wait, "wait", 0, "wait this long for the fleet record; exit 3 if still pending")
	fs.StringVar(&c.since, "since", "", "export: records started at or after this RFC 3339 time")
	fs.StringVar(&c.until, "until", "", "export: records started before this RFC 3339 time")
	fs.StringVar(&c.format, "format", "json", "export, search: json or csv")
	fs.StringVar(&c.ids, "ids", "", "search: record IDs, comma-separated (at most 10)")
	fs.StringVar(&c.idsFrom, "ids-from", "", "redact: file with one transaction ID per line")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "export, search: how long to wait for each node's next chunk; exit 3 if one did not answer")
}

func (c *fleetCmd) validate(e *env) error {
	if len(e.args) == 0 {
		return usageErr("need a fleet command: keygen, erase, redact, delete, hold, optout, policy, status, nodes, node, demo")
	}
	sub, args := e.args[0], e.args[1:]
	switch sub {
	case "keygen":
		if c.out == "" {
			return usageErr("keygen needs --out DIR")
		}
		return nil
	case "demo":
		return nil
	}
	if c.nf.url == "" || c.nf.keysDir == "" {
		return usageErr("need --nats URL and --fleet-keys DIR")
	}
	num := func(s string) (e164.Number, error) { return e164.Parse(s, c.region) }
	cmd := fleet.Command{RequestID: c.requestID, Workspace: c.ws}
	var err error
	switch sub {
	case "erase":
		if len(args) != 1 {
			return usageErr("erase needs -w WS and one number")
		}
		cmd.Kind, cmd.Reason = fleet.KindEraseContact, c.reason
		if cmd.Reason == "" {
			cmd.Reason = "gdpr_art17"
		}
		cmd.Number, err = num(args[0])
	case "redact":
		if c.redactIDs, err = readIDs(args, c.idsFrom); err != nil {
			return err
		}
		if c.product == "" {
			return usageErr("redact needs -w WS and --product P")
		}
		cmd.Kind, cmd.ID = fleet.KindRedactID, c.redactIDs[0]
		if cmd.Product, err = redaction.ParseProduct(c.product); err != nil {
			return err
		}
		cmd.Direction, err = redaction.ParseDirection(c.direction)
	case "delete":
		cmd.Kind, cmd.ID = fleet.KindDeleteRecord, c.id
		if c.conversation != "" {
			cmd.Kind, cmd.Conversation = fleet.KindDeleteConversation, c.conversation
		}
	case "hold", "optout":
		if len(args) == 0 || (args[0] != "add" && args[0] != "remove") {
			return usageErr("%s needs add or remove", sub)
		}
		add := args[0] == "add"
		raw := c.number
		if sub == "optout" {
			if len(args) != 2 {
				return usageErr("optout %s needs one number", args[0])
			}
			raw = args[1]
			cmd.Kind = map[bool]fleet.Kind{true: fleet.KindOptOutAdd, false: fleet.KindOptOutRemove}[add]
		} else {
			cmd.Kind = map[bool]fleet.Kind{true: fleet.KindHoldPlace, false: fleet.KindHoldRelease}[add]
			cmd.ID, cmd.Reason = c.id, c.reason
		}
		if raw != "" {
			cmd.Number, err = num(raw)
		}
	case "policy":
		if len(args) != 1 || args[0] != "set" || c.settings == "" {
			return usageErr("policy needs set -w WS --settings JSON")
		}
		var s redaction.Settings
		if err := json.Unmarshal([]byte(c.settings), &s); err != nil {
			return usageErr("--settings is not settings JSON: %v", err)
		}
		cmd.Kind, cmd.Settings = fleet.KindSettings, &s
	case "export", "search":
		if c.format != "json" && c.format != "csv" {
			return usageErr("--format must be json or csv")
		}
		cmd.Kind = fleet.KindSearch
		if sub == "export" {
			if c.number == "" {
				return usageErr("export needs -w WS and --number N")
			}
			cmd.Kind = fleet.KindExport
			if cmd.Number, err = num(c.number); err != nil {
				return err
			}
			for _, b := range []struct {
				s string
				t *time.Time
			}{{c.since, &cmd.Since}, {c.until, &cmd.Until}} {
				if b.s == "" {
					continue
				}
				if *b.t, err = time.Parse(time.RFC3339Nano, b.s); err != nil {
					return usageErr("%q is not an RFC 3339 time", b.s)
				}
			}
		} else if cmd.IDs = strings.Split(c.ids, ","); c.ids == "" {
			return usageErr("search needs -w WS and --ids ID,...")
		}
		cmd.ReplyKey = make([]byte, 32) // Export makes the real one
	case "status":
		if len(args) != 1 {
			return usageErr("status needs a request ID")
		}
		return nil
	case "nodes":
		return nil
	case "node":
		if len(args) != 2 || args[0] != "retire" {
			return usageErr("node needs retire ID")
		}
		return nil
	default:
		return usageErr("unknown fleet command %q", sub)
	}
	if err != nil {
		return err
	}
	if cmd.RequestID == "" {
		b := make([]byte, 8)
		rand.Read(b)
		cmd.RequestID = "fleet-" + hex.EncodeToString(b)
	}
	cmd.IssuedAt = e.now().UTC()
	c.cmd = cmd
	return cmd.Validate()
}

func (c *fleetCmd) run(ctx context.Context, e *env) error {
	sub := e.args[0]
	switch sub {
	case "keygen":
		k, err := fleet.Keygen(c.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s (issuer private key: keep with operators), %s and %s (give to nodes); issuer %s, data key %s\n",
			fleet.IssuerKeyFile, fleet.DataKeyFile, fleet.BundleFile, fleet.KeyID(k.Issuers[0]), k.DataKeys[0].ID)
		return nil
	case "demo":
		return fleetDemo(ctx, e)
	}
	keys, err := fleet.LoadKeys(c.nf.keysDir)
	if err != nil {
		return err
	}
	nc, err := c.nf.connect("cdradmin fleet")
	if err != nil {
		return err
	}
	defer nc.Close()
	is, err := fleet.NewIssuer(ctx, nc, keys, &fleet.IssuerOptions{Config: c.nf.config(), Now: e.now})
	if err != nil {
		return err
	}
	switch sub {
	case "nodes":
		nodes, err := is.Nodes(ctx)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(nodes)
		}
		for _, n := range nodes {
			state := "member"
			if n.RetiredAt != nil {
				state = "retired " + n.RetiredAt.Format(time.RFC3339)
			}
			fmt.Fprintf(e.stdout, "%-16s lag %-6d applied %-8d joined %s  %s\n", n.ID, n.Lag, n.Applied, n.JoinedAt.Format(time.RFC3339), state)
		}
		return nil
	case "node":
		if err := is.Retire(ctx, e.args[2]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "node %s retired: fleet records no longer wait for it\n", e.args[2])
		return nil
	case "status":
		return c.printRecords(ctx, e, is, []published{{e.args[1], is.Correlation(e.args[1])}})
	case "export", "search":
		return c.export(ctx, e, is)
	}
	if len(c.redactIDs) > 1 {
		return c.redactEach(ctx, e, is)
	}
	corr, err := is.Publish(ctx, c.cmd)
	if err != nil {
		return err
	}
	return c.printRecords(ctx, e, is, []published{{c.cmd.RequestID, corr}})
}

// redactEach publishes one redaction per ID, each under request ID
// "REQUEST-ID/ID", then prints each fleet record as --wait allows (JSON:
// one line each); any still pending is errPending.
func (c *fleetCmd) redactEach(ctx context.Context, e *env, is *fleet.Issuer) error {
	var pubs []published
	for _, id := range c.redactIDs {
		cmd := c.cmd
		cmd.ID, cmd.RequestID = id, c.cmd.RequestID+"/"+id
		if err := cmd.Validate(); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		corr, err := is.Publish(ctx, cmd)
		if err != nil {
			return err
		}
		pubs = append(pubs, published{cmd.RequestID, corr})
	}
	return c.printRecords(ctx, e, is, pubs)
}

// published is one request put on the log.
type published struct{ requestID, corr string }

// printRecords waits up to --wait for the fleet records of pubs and
// prints each (JSON: one line each); a record still pending is
// errPending (exit 3).
func (c *fleetCmd) printRecords(ctx context.Context, e *env, is *fleet.Issuer, pubs []published) error {
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	var pending []fleet.Record
	for _, p := range pubs {
		rec, err := is.Wait(wctx, p.corr, 100*time.Millisecond)
		if err != nil {
			return err
		}
		rec.RequestID = p.requestID
		if e.json {
			if err := e.printJSON(rec); err != nil {
				return err
			}
		} else {
			writeRecord(e.stdout, rec)
		}
		if !rec.Complete() {
			pending = append(pending, rec)
		}
	}
	switch {
	case len(pending) == 0:
		return nil
	case len(pubs) == 1:
		return fmt.Errorf("%w: %d/%d stores answered", errPending, pending[0].NodesDone, pending[0].NodesExpected)
	default:
		return fmt.Errorf("%w: %d of %d requests pending", errPending, len(pending), len(pubs))
	}
}

func writeRecord(w io.Writer, rec fleet.Record) {
	fmt.Fprintf(w, "request %s (corr %s): %s\n", rec.RequestID, rec.Corr, rec.Summary())
	for _, n := range rec.Nodes {
		line := fmt.Sprintf("  %-16s %-9s %4d records", n.Node, n.Status, n.RecordsAffected)
		if n.AuditSeq > 0 {
			line += fmt.Sprintf("  audit seq %d", n.AuditSeq)
		}
		if n.Receipt != "" {
			line += "  receipt " + n.Receipt
		}
		if n.Reason != "" {
			line += "  (" + n.Reason + ")"
		}
		if n.Retired {
			line += "  [retired]"
		}
		fmt.Fprintln(w, line)
	}
	if rec.Sig != nil {
		fmt.Fprintf(w, "signed by %s at %s\n", rec.Signer, rec.CompletedAt.Format(time.RFC3339))
	}
}

// fleetAgent joins the fleet beside a served store (serve --nats).
func (n *natsFlags) startAgent(ctx context.Context, e *env, node string, rd *redaction.Redactor, logger *slog.Logger) (stop func(), err error) {
	keys, err := fleet.LoadKeys(n.keysDir)
	if err != nil {
		return nil, err
	}
	key, err := fleet.LoadOrCreateNodeKey(e.db + ".fleet-node.key")
	if err != nil {
		return nil, err
	}
	nc, err := n.connect("cdrvault node " + node)
	if err != nil {
		return nil, err
	}
	a, err := fleet.NewAgent(ctx, nc, rd, fleet.AgentOptions{Config: n.config(), Node: node, NodeKey: key, Keys: keys.NodeKeys(), Now: e.now, Logger: logger})
	if err != nil {
		nc.Close()
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(actx); err != nil {
			logger.Error("fleet agent stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done; nc.Close() }, nil
}

// export streams the fleet's answer to a subject access query, merged in
// time order, and says which nodes answered: JSON (one object, written as
// the records arrive) or CSV (the summary goes to stderr).
func (c *fleetCmd) export(ctx context.Context, e *env, is *fleet.Issuer) error {
	q := c.cmd
	q.ReplyKey = nil
	var csvw *csv.Writer
	first := true
	if c.format == "csv" {
		csvw = csv.NewWriter(e.stdout)
		csvw.Write(append([]string{"node"}, exportCSVHeader...))
	} else {
		head, _ := json.Marshal(struct {
			Workspace string `json:"workspace"`
			E164      string `json:"e164,omitempty"`
		}{q.Workspace, numberOrEmpty(q)})
		fmt.Fprintf(e.stdout, "%s,\"records\":[", head[:len(head)-1])
	}
	sum, err := is.Export(ctx, q, c.timeout, func(node string, r cdrjson.Record) error {
		if csvw != nil {
			csvw.Write(append([]string{node}, exportCSVRow(r)...))
			return csvw.Error()
		}
		raw, err := json.Marshal(struct {
			Node string `json:"node"`
			cdrjson.Record
		}{node, r})
		if err != nil {
			return err
		}
		if !first {
			fmt.Fprint(e.stdout, ",")
		}
		first = false
		_, err = fmt.Fprintf(e.stdout, "\n%s", raw)
		return err
	})
	if err != nil {
		return err
	}
	if csvw != nil {
		csvw.Flush()
		if err := csvw.Error(); err != nil {
			return err
		}
		for _, n := range sum.Nodes {
			fmt.Fprintf(e.stderr, "node %s: answered %t, complete %t, %d records\n", n.Node, n.Answered, n.Complete, n.Records)
		}
	} else {
		tail, _ := json.Marshal(sum)
		fmt.Fprintf(e.stdout, "\n],%s\n", tail[1:])
	}
	if len(sum.Missing) > 0 {
		return fmt.Errorf("%w: no complete answer from %s", errPending, strings.Join(sum.Missing, ", "))
	}
	return nil
}

func numberOrEmpty(q fleet.Command) string {
	if q.Number.IsValid() {
		return q.Number.String()
	}
	return ""
}
