package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// service holds the store at db as a running service would, with its
// control socket on, until the test ends.
func service(t *testing.T, db string) (*cdrstore.Store, *control.Server) {
	t.Helper()
	s, err := cdrstore.Open(db, &cdrstore.Options{Now: func() time.Time { return fixedNow }})
	require.NoError(t, err)
	srv, err := control.Start(redaction.New(s, nil), nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, srv.Close())
		assert.NoError(t, s.Close())
	})
	return s, srv
}

var (
	hexRun    = regexp.MustCompile(`[0-9a-f]{16,}`)
	fileBytes = regexp.MustCompile(`"file_bytes":\d+|\d+ bytes`)
	peerName  = regexp.MustCompile(`cdradmin uid=\d+ pid=\d+`)
	freePages = regexp.MustCompile(`\d+ (KiB of |)(free pages|zeroed|already zero|left pinned)|\d+ -> |writer hold [0-9.]+[µm]?s`)
)

// comparable takes out of a command's output what differs by design
// between two stores given the same commands: the path, random key
// secrets, the hashes that cover the audit actor (the peer's uid and pid
// through the socket, "cdradmin" locally), and the count of free pages
// and file sizes, which depend on how often bbolt reopened the file, and
// how long scrub held the writer.
func comparable(out, path, as string) string {
	out = regexp.MustCompile(regexp.QuoteMeta(path)).ReplaceAllString(out, as)
	out = freePages.ReplaceAllString(out, "<pages>")
	out = fileBytes.ReplaceAllString(out, "<size>")
	out = peerName.ReplaceAllString(out, "cdradmin")
	return hexRun.ReplaceAllString(out, "<hex>")
}

// Every routed command prints what it prints on a copy of the store run
// locally: same stdout, same stderr, same exit status, step after step
// (the writes too, each on its own store).
func TestCommandsRunInTheServiceHoldingTheStore(t *testing.T) {
	db := fixtureDB(t, 400)
	sms := firstRecord(t, db, "acme", func(r cdrstore.Record) bool {
		return r.Product == cdrstore.ProductSMS && r.Direction == cdrstore.Outbound
	})
	voice := firstRecord(t, db, "acme", func(r cdrstore.Record) bool { return r.Product == cdrstore.ProductVoice })
	cp := filepath.Join(t.TempDir(), "copy.db")
	storetest.CopyFile(t, db, cp)
	s, _ := service(t, db)
	n := sms.To.String()

	steps := [][]string{
		{"stats"},
		{"stats", "--json"},
		{"get", "-w", "acme", sms.ID},
		{"get", "-w", "acme", "no-such-id"},
		{"get", "-w", "acmee", sms.ID},
		{"workspace", "list"},
		{"workspace", "show", "acme", "--json"},
		{"workspace", "show", "nope"},
		{"workspace", "create", "initech"},
		{"workspace", "create", "initech", "--json"},
		{"search", "-w", "acme", "--number", n, "--limit", "3"},
		{"search", "-w", "acme", "--ids", sms.ID + ",nope," + voice.ID},
		{"search", "-w", "globex", "--since", "2025-08-01T00:00:00Z", "--until", "2025-08-03T00:00:00Z"},
		{"export", "-w", "acme", "--number", n},
		{"export", "-w", "acme", "--number", n, "--format", "csv"},
		{"policy", "set", "-w", "acme", "--retention-months", "12", "--auto-redact", "sms:outbound:content:6h"},
		{"policy", "show", "-w", "acme", "--json"},
		{"hold", "add", "-w", "acme", "--id", voice.ID, "--reason", "litigation"},
		{"hold", "list", "-w", "acme", "--json"},
		{"optout", "add", "-w", "acme", n},
		{"optout", "check", "-w", "acme", n, "--json"},
		{"erase", "-w", "acme", "--dry-run", n},
		{"erase", "-w", "acme", "--reason", "NOT A CODE", n},
		{"erase", "-w", "acme", "--request-id", "r-1", n},
		{"erase", "-w", "acme", "--request-id", "r-1", n, "--json"},
		{"redact", "-w", "acme", "--product", "sms", sms.ID, "nope"},
		{"redact", "-w", "acme", "--product", "voice", voice.ID, "--json"},
		{"delete", "-w", "acme", "--id", voice.ID},
		{"delete", "-w", "acme", "--id", sms.ID, "--json"},
		{"delete", "-w", "acme", "--conversation", "no-such-conversation"},
		{"hold", "remove", "-w", "acme", "no-such-hold"},
		{"unlinked"},
		{"unlinked", "-w", "acme", "--discard", "--json"},
		{"autoredact", "--as-of", "2026-10-01T00:00:00Z"},
		{"sweep", "--dry-run", "--json"},
		{"sweep"},
		{"keys", "add", "-w", "acme", "--products", "sms"},
		{"keys", "revoke", "-w", "acme", "0000000000000000"},
		{"keys", "list"},
		{"audit", "verify"},
		{"audit", "list", "-w", "acme", "--json"},
		{"audit", "list", "-w", "acme", "--after", "2", "--limit", "3"},
		{"check"},
		{"check", "--json"},
		{"drain", "--log-only"},
		{"drain", "--log-only", "--json"},
		{"ingest", "--batch", "7"},
		{"ingest", "--strict", "--json"},
		{"stats", "--json"},
		{"backup", "--to", "BACKUP"},
		{"backup", "--to", "BACKUP"},
		{"scrub"},
		{"compact"},
		{"stats"},
	}
	more := fixtureLines(t, 450)[420:]
	input := map[string]string{
		"ingest --batch 7":       strings.Join(more[:20], "\n") + "\n{\"id\": \"bad\"}\n" + strings.Join(more[20:], "\n"),
		"ingest --strict --json": strings.Join(more[:3], "\n") + "\nnot json\n",
	}
	ldir, rdir := t.TempDir(), t.TempDir()
	for _, args := range steps {
		key := strings.Join(args, " ")
		largs := append([]string{"--db", cp, "--local"}, args...)
		rargs := append([]string{"--db", db}, args...)
		if args[0] == "backup" {
			largs[len(largs)-1] = filepath.Join(ldir, "backup.db")
			rargs[len(rargs)-1] = filepath.Join(rdir, "backup.db")
		}
		lcode, lout, lerr := cli(t, input[key], largs...)
		rcode, rout, rerr := cli(t, input[key], rargs...)
		lout, lerr = strings.ReplaceAll(lout, ldir, "DIR"), strings.ReplaceAll(lerr, ldir, "DIR")
		rout, rerr = strings.ReplaceAll(rout, rdir, "DIR"), strings.ReplaceAll(rerr, rdir, "DIR")
		name := fmt.Sprint(args)
		if key == "drain --log-only" {
			assert.Contains(t, rout, "https://", "the erasures queued blobs, and the service handed them over")
		}
		assert.Equal(t, lcode, rcode, "%s: exit status (stderr %q)", name, rerr)
		assert.Equal(t, comparable(lout, cp, db), comparable(rout, db, db), "%s: stdout", name)
		assert.Equal(t, comparable(lerr, cp, db), comparable(rerr, db, db), "%s: stderr", name)
	}

	// The routed backup is a whole store with what the service holds.
	held := 0
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error {
		for _, ws := range tx.Workspaces() {
			n, err := tx.Count(ws)
			held += n
			if err != nil {
				return err
			}
		}
		return nil
	}))
	assert.NotZero(t, held)
	assert.Equal(t, held, storedRecords(t, filepath.Join(rdir, "backup.db")))

	// The writes ran in the service, under the peer's name.
	erasures := 0
	for _, en := range storetest.AuditEntries(t, s, "acme") {
		if en.Action == redaction.ActionDataErasure {
			erasures++
			assert.Equal(t, fmt.Sprintf("cdradmin uid=%d pid=%d", os.Geteuid(), os.Getpid()), en.Actor)
		}
	}
	assert.Equal(t, 1, erasures, "one erasure, under the peer's name (the dry run and the bad reason wrote nothing)")
}

func TestLocalAndRemoteChoose(t *testing.T) {
	db := fixtureDB(t, 20)
	code, _, stderr := cli(t, "", "--db", db, "--remote", "stats")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no service answers", "--remote never opens the file")

	code, _, stderr = cli(t, "", "--db", db, "--local", "--remote", "stats")
	assert.Equal(t, 2, code, stderr)

	service(t, db)
	code, out, stderr := cli(t, "", "--db", db, "--remote", "stats")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "acme")
	code, _, stderr = cli(t, "", "--db", db, "--remote", "serve")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--remote: this command does not run through the control socket")
}
