package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/redaction"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks errors in the command line: exit status 2.
var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// env is what a subcommand runs with.
type env struct {
	db     string
	dbSet  bool   // --db was given
	socket string // --socket: the control socket; default the store's path + ".ctl"
	local  bool   // --local: open the file, never the socket
	remote bool   // --remote: go through the socket, never open the file
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	json   bool
	now    func() time.Time
	args   []string     // positional arguments after the flags
	logger *slog.Logger // the store's logger; nil: none
}

// subcommand is one verb: its flags, their validation, and its work.
type subcommand interface {
	flags(fs *flag.FlagSet)
	validate(e *env) error
	run(ctx context.Context, e *env) error
}

type verb struct {
	name    string
	usage   string // arguments after the verb
	summary string
	example string
	new     func() subcommand
}

var verbs = []verb{
	{"demo", "[--records N] [--keep]", "make a demo store with realistic CDRs and walk every flow", "cdradmin demo", func() subcommand { return &demoCmd{} }},
	{"ingest", "[--region R] [--batch N] [--strict] [FILE|-]", "read CDRs as JSON Lines; count them in; name bad lines by number", "cdradmin ingest --region NG cdrs.jsonl", func() subcommand { return &ingestCmd{} }},
	{"get", "-w WS ID", "print one record as JSON", "cdradmin get -w acme 209ab3c7536542b91e8b5aef032f6861", func() subcommand { return &getCmd{} }},
	{"search", "-w WS (--number N [--since T] [--until T] | --ids ID,... | --since T --until T) [--limit N] [--cursor C]", "list records as JSON Lines", "cdradmin search -w acme --number +2348031234567 --since 2026-01-01T00:00:00Z", func() subcommand { return &searchCmd{} }},
	{"export", "-w WS --number N [--format json|csv]", "subject access export: every record holding the number, with opt-out and hold status", "cdradmin export -w acme --number +2348031234567 --format csv", func() subcommand { return &exportCmd{} }},
	{"redact", "-w WS --product P [--type inbound|outbound] (ID... | --ids-from FILE)", "redact transactions by ID (the Redact API), reporting per ID", "cdradmin redact -w acme --product sms --ids-from ids.txt", func() subcommand { return &redactCmd{} }},
	{"erase", "-w WS [--reason R] [--dry-run] [--request-id ID] E164", "erase a contact's content across the workspace (right to erasure)", "cdradmin erase -w acme --reason ndpr_right_to_erasure +2348031234567", func() subcommand { return &eraseCmd{} }},
	{"delete", "-w WS (--id ID | --conversation C) [--request-id ID]", "delete a record, or every leg of a conversation (recordings and media to the outbox)", "cdradmin delete -w acme --conversation CON-5d3e1a2b-8c4f-4a6e-9b1d-2f7c3e8a9d10", func() subcommand { return &deleteCmd{} }},
	{"autoredact", "[--as-of T]", "apply every workspace's auto-redaction policies", "cdradmin autoredact --as-of 2026-11-01T00:00:00Z", func() subcommand { return &autoRedactCmd{} }},
	{"sweep", "[--as-of T] [--dry-run] [--batch N]", "delete records past their retention period", "cdradmin sweep --dry-run", func() subcommand { return &sweepCmd{} }},
	{"drain", "--log-only", "hand pending recording and media deletions to a deleter (here: print them)", "cdradmin drain --log-only", func() subcommand { return &drainCmd{} }},
	{"scrub", "", "zero freed pages in place: afterwards no erased byte remains in the file", "cdradmin scrub", func() subcommand { return &scrubCmd{} }},
	{"compact", "", "give free space back: copy the live data to a new file and swap it in (blocks the store meanwhile)", "cdradmin compact", func() subcommand { return &compactCmd{} }},
	{"backup", "--to PATH", "write a consistent copy with no freed-page residue", "cdradmin backup --to /backups/cdrvault-2026-11-22.db", func() subcommand { return &backupCmd{} }},
	{"audit", "verify [-w WS] | list -w WS [--after SEQ] [--limit N] [--reverse]", "verify the audit chains, or list entries (newest first; --reverse: oldest first)", "cdradmin audit list -w acme --limit 20", func() subcommand { return &auditCmd{} }},
	{"optout", "add|remove|check -w WS E164", "record, remove or check an opt-out (kept as a keyed HMAC)", "cdradmin optout add -w acme +2348031234567", func() subcommand { return &optoutCmd{} }},
	{"hold", "add -w WS (--id ID | --number N) --reason R | remove -w WS KEY | list -w WS", "place, release or list legal holds", "cdradmin hold add -w acme --number +2348031234567 --reason litigation-2026-17", func() subcommand { return &holdCmd{} }},
	{"policy", "show -w WS | set -w WS [flags]", "show or change workspace settings (changes are audited)", "cdradmin policy set -w acme --retention-months 13 --auto-redact sms:outbound:content,address:6h", func() subcommand { return &policyCmd{} }},
	{"unlinked", "[-w WS] [--discard]", "count records whose number format v2 obfuscated while they kept content (no erasure reaches them); --discard discards that content", "cdradmin unlinked -w acme --discard", func() subcommand { return &unlinkedCmd{} }},
	{"stats", "", "counts, sizes and audit heads per workspace", "cdradmin stats --json", func() subcommand { return &statsCmd{} }},
	{"check", "", "integrity (indexes, audit chains, outbox) and configuration review", "cdradmin check", func() subcommand { return &checkCmd{} }},
	{"migrate", "", "upgrade a store written by an older cdradmin to this one's on-disk format (one transaction)", "cdradmin migrate", func() subcommand { return &migrateCmd{} }},
	{"workspace", "create WS | list | show WS", "create a workspace explicitly, or list and show them (nothing else creates one but ingest)", "cdradmin workspace create acme", func() subcommand { return &workspaceCmd{} }},
	{"keys", "add -w WS [--products sms,voice] | list [-w WS] | revoke -w WS KEY", "API credentials for serve (the secret is printed once)", "cdradmin keys add -w acme --products sms,voice --json", func() subcommand { return &keysCmd{} }},
	{"fleet", "keygen --out DIR | erase|redact|delete|hold|optout|policy ... --nats URL --fleet-keys DIR [--request-id ID] [--wait DUR] | status REQUEST-ID | nodes | node retire ID | export -w WS --number N | search -w WS --ids ID,... | demo", "apply an erasure, hold, opt-out or policy on every store of a fleet over NATS JetStream and print the fleet record; gather a contact's records from every store", "cdradmin fleet erase -w acme --nats nats://127.0.0.1:4222 --fleet-keys ./fleet-keys --wait 30s +2348031234567", func() subcommand { return &fleetCmd{} }},
	{"serve", "[--addr 127.0.0.1:8080] [--rate 170] [--control=false] [--nats URL --node ID --fleet-keys DIR [--nats-creds FILE]]", "serve the Redact, contact-erasure and subject-access HTTP API, cdradmin's commands on the control socket, and (with --nats) this store's part in a fleet", "cdradmin serve --addr 127.0.0.1:8080", func() subcommand { return &serveCmd{} }},
}

func findVerb(name string) (verb, bool) {
	for _, v := range verbs {
		if v.name == name {
			return v, true
		}
	}
	return verb{}, false
}

func rootUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: cdradmin [--db PATH] [--local | --remote] [--socket PATH] COMMAND [flags]")
	fmt.Fprintln(w, "\nPATH defaults to $CDRVAULT_DB, else ./cdrvault.db. When another process holds the")
	fmt.Fprintln(w, "file (cdradmin serve, or a service embedding the store), commands run in it")
	fmt.Fprintln(w, "through its control socket (PATH.ctl); --local and --remote choose. Commands:")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-11s %s\n", v.name, v.summary)
	}
	fmt.Fprintln(w, "\nRun 'cdradmin COMMAND --help' for a command's flags and an example.")
}

// run is the whole program: it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWithClock(ctx, args, stdin, stdout, stderr, time.Now)
}

// runWithClock is run with an injected clock.
func runWithClock(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) int {
	stdout, stderr = newTermWriter(stdout), newTermWriter(stderr)
	out := &outWriter{w: stdout}
	e := &env{stdin: stdin, stdout: out, stderr: stderr, now: now}
	// Usage is printed here, not by the flag package: once, on stdout for
	// --help and on stderr after a mistake.
	root := flag.NewFlagSet("cdradmin", flag.ContinueOnError)
	root.SetOutput(stderr)
	root.Usage = func() {}
	defaultDB := os.Getenv("CDRVAULT_DB")
	if defaultDB == "" {
		defaultDB = "cdrvault.db"
	}
	e.db = defaultDB
	dbFlag := func(fs *flag.FlagSet) {
		fs.Func("db", "store file (default $CDRVAULT_DB, else ./cdrvault.db); before or after the command", func(v string) error {
			e.db, e.dbSet = v, true
			return nil
		})
		fs.Func("socket", "control socket of the service holding the store (default PATH.ctl)", func(v string) error {
			e.socket = v
			return nil
		})
		fs.BoolFunc("local", "open the store file; never go through a control socket", func(string) error {
			e.local = true
			return nil
		})
		fs.BoolFunc("remote", "go through the control socket; never open the store file", func(string) error {
			e.remote = true
			return nil
		})
	}
	dbFlag(root)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			rootUsage(stdout)
			return exitOK
		}
		rootUsage(stderr)
		return exitUsage
	}
	if root.NArg() == 0 {
		rootUsage(stderr)
		return exitUsage
	}
	name := root.Arg(0)
	if name == "help" {
		rootUsage(stdout)
		return exitOK
	}
	v, ok := findVerb(name)
	if !ok {
		fmt.Fprintf(stderr, "cdradmin: unknown command %q\n", name)
		rootUsage(stderr)
		return exitUsage
	}
	cmd := v.new()
	fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	fs.BoolVar(&e.json, "json", false, "print JSON for scripts instead of text")
	dbFlag(fs)
	cmd.flags(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: cdradmin [--db PATH] %s %s\n\n%s.\n\nExample:\n  %s\n\nFlags:\n", v.name, v.usage, capitalize(v.summary), v.example)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	if err := fs.Parse(interleave(fs, root.Args()[1:])); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		usage(stderr)
		return exitUsage
	}
	e.args = fs.Args()
	if e.local && e.remote {
		fmt.Fprintf(stderr, "cdradmin %s: --local and --remote exclude each other\n", v.name)
		return exitUsage
	}
	if err := cmd.validate(e); err != nil {
		fmt.Fprintf(stderr, "cdradmin %s: %v\n", v.name, err)
		usage(stderr)
		return exitUsage
	}
	if v.name == "fleet" {
		// -w names a workspace on the fleet's stores, not the local file.
	} else if err := e.checkWorkspaceFlag(ctx, fs); err != nil {
		fmt.Fprintf(stderr, "cdradmin %s: %s\n", v.name, oneLine(err))
		return exitFailure
	}
	err := cmd.run(ctx, e)
	if out.err != nil && (err == nil || err == out.err) {
		// Output that did not reach stdout (a full disk, a closed pipe)
		// is a failure: a script must not take it for success.
		err = fmt.Errorf("write output: %w", out.err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cdradmin %s: %s\n", v.name, oneLine(err))
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		if errors.Is(err, errPending) {
			return exitPending
		}
		return exitFailure
	}
	return exitOK
}

// outWriter is stdout, keeping the first write error.
type outWriter struct {
	w   io.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil && o.err == nil {
		o.err = err
	}
	return n, err
}

// interleave lets flags follow positional arguments ("erase +234… -w acme")
// by moving every argument that is not a flag or a flag's value to the end.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(flags, pos...)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// openMode says how a command opens the store.
type openMode int

const (
	// readOnly is for inspection commands: a shared lock with a short
	// timeout, so they fail fast while another process writes.
	readOnly openMode = iota
	// readWrite opens an existing store for writing. A path with no file
	// is an error: a mistyped --db must not become an empty store.
	readWrite
	// create opens the store for writing, creating it when the path has
	// no file. Only ingest and demo create stores.
	create
)

// openStore opens the store file in mode m.
func (e *env) openStore(m openMode) (*cdrstore.Store, error) {
	if e.remote {
		return nil, usageErr("--remote: this command does not run through the control socket; run it with the service stopped")
	}
	opts := &cdrstore.Options{ReadOnly: m == readOnly, LockTimeout: 2 * time.Second, Now: e.now, Logger: e.logger}
	if m == readOnly {
		opts.LockTimeout = time.Second
	}
	fi, err := os.Stat(e.db)
	switch {
	case errors.Is(err, fs.ErrNotExist) && m == create:
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no store at %s (cdradmin ingest creates one)", e.db)
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, &notStoreError{e.db, "is a directory, not a store file"}
	case fi.Size() == 0 && m != create:
		// bbolt would make an empty file a store: only ingest and demo
		// create stores.
		return nil, &notStoreError{e.db, "is an empty file, not a store (cdradmin ingest creates one)"}
	}
	s, err := cdrstore.Open(e.db, opts)
	var fe *cdrstore.FormatError
	switch {
	case m == readOnly && errors.As(err, &fe) && fe.NeedsMigration():
		return nil, fmt.Errorf("%s is in format %d, written by an older cdradmin; run 'cdradmin migrate' once to upgrade it to format %d: %w", e.db, fe.Found, cdrstore.FormatNewest, err)
	case errors.Is(err, cdrstore.ErrLocked):
		holder := "held by another process"
		if h := lockHolder(e.db); h != "" {
			holder += " (" + h + ")"
		}
		return nil, fmt.Errorf("%s is %s: %w", e.db, holder, err)
	case errors.Is(err, bolterrors.ErrInvalid):
		what := "is not a store (not a bbolt file)"
		if looksLikeJSON(e.db) {
			what = "is a JSON file, not a store (cdradmin ingest reads JSON Lines into one)"
		}
		return nil, &notStoreError{e.db, what}
	}
	return s, err
}

// errNotStore marks a --db that names something other than a store file.
var errNotStore = errors.New("not a store")

// notStoreError says what a --db that is not a store is.
type notStoreError struct{ path, what string }

func (e *notStoreError) Error() string        { return e.path + " " + e.what }
func (e *notStoreError) Is(target error) bool { return target == errNotStore }

// looksLikeJSON reports whether the file at path starts, after white
// space, with '{' or '['.
func looksLikeJSON(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := f.Read(head)
	trimmed := strings.TrimLeft(string(head[:n]), " \t\r\n")
	return strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")
}

// ops returns the store's operations and the function that releases them.
// Without --local or --remote, a store file another process holds (probed
// without waiting) is reached through its control socket, and a free one
// (or a held one with no socket answering) is opened in mode m: the file
// wins when it is free. --local never dials;
// --remote never opens the file.
func (e *env) ops(ctx context.Context, m openMode) (control.Ops, func(), error) {
	if e.remote || (!e.local && fileLocked(e.db)) {
		sock := e.socket
		if sock == "" {
			sock = control.SocketPath(e.db)
		}
		c, err := control.Dial(ctx, sock, fileOwner(e.db)...)
		if err == nil {
			return c, func() { c.Close() }, nil
		}
		if e.remote || !errors.Is(err, control.ErrNoService) {
			return nil, nil, err
		}
		// No service: the holder may be another cdradmin about to
		// finish, which the lock timeout waits for.
	}
	s, err := e.openStore(m)
	if err != nil {
		return nil, nil, err
	}
	return control.NewLocal(redaction.New(s, nil)), func() { s.Close() }, nil
}

func (e *env) printJSON(v any) error { return encodeJSON(e.stdout, v) }

// encodeJSON writes v to w as one line of JSON, '<' and '&' as they are.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// parseAsOf reads --as-of (RFC 3339); empty means now.
func (e *env) parseAsOf(s string) (time.Time, error) {
	if s == "" {
		return e.now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usageErr("--as-of %q is not an RFC 3339 time", s)
	}
	// As of a time to come, records would go before their time.
	if now := e.now(); t.After(now) {
		return time.Time{}, usageErr("--as-of %s is in the future (now is %s)", s, now.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

// ctxRequest tags operations with the actor "cdradmin".
func ctxRequest(ctx context.Context, requestID string) context.Context {
	return redaction.WithRequest(ctx, redaction.Request{ID: requestID, Actor: "cdradmin"})
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// progress prints progress to stderr when it is a terminal.
type progress struct {
	w       io.Writer
	enabled bool
	last    time.Time
}

func newProgress(w io.Writer) *progress {
	if tw, ok := w.(*termWriter); ok {
		w = tw.w // progress writes its own escapes, and only counts
	}
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.enabled = true
		}
	}
	return p
}

func (p *progress) update(format string, args ...any) {
	if !p.enabled || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r"+format, args...)
}

func (p *progress) done() {
	if p.enabled {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
