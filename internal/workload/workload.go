// Package workload generates realistic, seeded call detail records for the
// demo, tests and benchmarks: SMS, voice legs with transcripts and
// recordings, messages with media, numbers from many countries, start times
// arriving nearly in order with a few late ones.
package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

// DefaultEnd is the default end of the generated time span.
var DefaultEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Config says what to generate. Zero fields take defaults (WithDefaults).
type Config struct {
	Seed              uint64
	N                 int       // records
	Workspaces        []string  // default {"acme"}
	RecordsPerContact int       // average records per contact; default 100
	HeavyContacts     int       // call-centre contacts; default N/200,000
	HeavyRecords      int       // records of each heavy contact; default 10,000
	Start, End        time.Time // default: the 15 months before DefaultEnd
	LateFraction      float64   // records arriving up to 2 days late; default 0.02
}

// WithDefaults returns c with zero fields filled.
func (c Config) WithDefaults() Config {
	if len(c.Workspaces) == 0 {
		c.Workspaces = []string{"acme"}
	}
	if c.RecordsPerContact == 0 {
		c.RecordsPerContact = 100
	}
	if c.HeavyRecords == 0 {
		c.HeavyRecords = 10_000
	}
	if c.HeavyContacts == 0 {
		c.HeavyContacts = c.N / 200_000
	}
	if c.End.IsZero() {
		c.End = DefaultEnd
	}
	if c.Start.IsZero() {
		c.Start = c.End.AddDate(0, -15, 0)
	}
	if c.LateFraction == 0 {
		c.LateFraction = 0.02
	}
	return c
}

// countries are mobile number prefixes (E.164, without '+') and how many
// random digits follow them; each drawn number is checked with e164.Parse.
var countries = []struct {
	prefix string
	digits int
}{
	{"234803", 7}, {"234806", 7}, {"447911", 6}, {"447700", 6}, {"1415", 7}, {"1646", 7},
	{"49151", 8}, {"336", 8}, {"9198", 8}, {"5511", 9}, {"2782", 7}, {"2547", 8},
	{"8190", 8}, {"614", 8}, {"346", 8}, {"393", 9}, {"525", 9}, {"2332", 8},
}

var (
	smsBodies = []string{
		"Your verification code is %04d. It expires in 10 minutes.",
		"Hi %s, your order #%d has shipped and should arrive tomorrow.",
		"Reminder: your appointment is on Tuesday at %d:30. Reply C to confirm.",
		"%s, your balance is low. Top up now to keep your bundle active (ref %d).",
		"Thanks for calling, %s. Rate our service from 1 to 5 by replying to this message.",
		"STOP",
		"ok see you at %d",
	}
	names       = []string{"Ada", "Chinedu", "Priya", "Lukas", "Amélie", "Kofi", "Yuki", "Mateo", "Zanele", "Wanjiru", "Oliver", "Sofia"}
	transcripts = []string{
		"Hello, thank you for calling, how can I help?",
		"I'd like to check the status of my delivery.",
		"Can you confirm the address on file for me?",
		"My card number ends in %04d.",
		"I'll transfer you to billing now, please hold.",
		"Yes, that's correct. Thank you, goodbye.",
	}
	smsStatus   = []string{"delivered", "delivered", "delivered", "submitted", "failed", "expired"}
	voiceStatus = []string{"completed", "completed", "answered", "busy", "failed", "unanswered"}
)

// Generator produces records. It is not safe for concurrent use.
type Generator struct {
	c          Config
	rng        *rand.Rand
	contacts   []e164.Number // heavy ones first
	weights    []int         // cumulative record weights of contacts
	platform   map[string][]e164.Number
	i          int
	step       time.Duration
	pendingLeg *cdrstore.Record
}

// New returns a generator for c (defaults filled).
func New(c Config) *Generator {
	c = c.WithDefaults()
	g := &Generator{c: c, rng: rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)), platform: map[string][]e164.Number{}}
	if c.N > 0 {
		g.step = c.End.Sub(c.Start) / time.Duration(c.N)
	}
	heavy := min(c.HeavyContacts, c.N/max(c.HeavyRecords, 1))
	light := max(1, (c.N-heavy*c.HeavyRecords)/c.RecordsPerContact)
	seen := map[e164.Number]bool{}
	total := 0
	for len(g.contacts) < heavy+light {
		n := g.number()
		if seen[n] {
			continue
		}
		seen[n] = true
		w := 1
		if len(g.contacts) < heavy {
			w = c.HeavyRecords * light / max(1, c.N-heavy*c.HeavyRecords)
			w = max(w, 1)
		}
		total += w
		g.contacts = append(g.contacts, n)
		g.weights = append(g.weights, total)
	}
	for _, ws := range c.Workspaces {
		for range 4 {
			g.platform[ws] = append(g.platform[ws], g.number())
		}
	}
	return g
}

// number draws a valid number from a random country.
func (g *Generator) number() e164.Number {
	for {
		c := countries[g.rng.IntN(len(countries))]
		var b strings.Builder
		b.WriteString("+")
		b.WriteString(c.prefix)
		for range c.digits {
			b.WriteByte(byte('0' + g.rng.IntN(10)))
		}
		if n, err := e164.Parse(b.String(), ""); err == nil {
			return n
		}
	}
}

// Contacts returns the counterparties, heavy ones first.
func (g *Generator) Contacts() []e164.Number { return g.contacts }

// PlatformNumbers returns the virtual numbers of workspace ws.
func (g *Generator) PlatformNumbers(ws string) []e164.Number { return g.platform[ws] }

// HexID returns 32 lowercase hex characters, like the Redact API's IDs.
func HexID(r *rand.Rand) string {
	return fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
}

func (g *Generator) contact() e164.Number {
	x := g.rng.IntN(g.weights[len(g.weights)-1])
	lo, hi := 0, len(g.weights)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if g.weights[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return g.contacts[lo]
}

func (g *Generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *Generator) body() string {
	t := g.pick(smsBodies)
	switch strings.Count(t, "%") {
	case 0:
		return t
	case 1:
		if strings.Contains(t, "%s") {
			return fmt.Sprintf(t, g.pick(names))
		}
		return fmt.Sprintf(t, g.rng.IntN(10000))
	}
	return fmt.Sprintf(t, g.pick(names), g.rng.IntN(100000))
}

// Next returns the next record in arrival order.
func (g *Generator) Next() cdrstore.Record {
	if g.pendingLeg != nil {
		r := *g.pendingLeg
		g.pendingLeg = nil
		return r
	}
	c := g.c
	g.i++
	at := c.Start.Add(time.Duration(g.i) * g.step).Add(time.Duration(g.rng.Int64N(int64(max(g.step, 1)))))
	if g.rng.Float64() < c.LateFraction {
		at = at.Add(-time.Duration(g.rng.Int64N(int64(48 * time.Hour))))
	}
	if at.Before(c.Start) {
		at = c.Start.Add(time.Duration(g.rng.Int64N(int64(time.Hour))))
	}
	at = at.Truncate(time.Millisecond).UTC()
	ws := c.Workspaces[g.rng.IntN(len(c.Workspaces))]
	r := cdrstore.Record{
		ID:        HexID(g.rng),
		Workspace: ws,
		Direction: cdrstore.Outbound,
		StartedAt: at,
		CreatedAt: at.Add(time.Duration(50+g.rng.IntN(900)) * time.Millisecond),
		Currency:  "EUR",
		Network:   fmt.Sprintf("%03d%02d", 200+g.rng.IntN(500), g.rng.IntN(100)),
	}
	if g.rng.IntN(10) < 3 {
		r.Direction = cdrstore.Inbound
	}
	plat := g.platform[ws][g.rng.IntN(len(g.platform[ws]))]
	who := g.contact()
	if r.Direction == cdrstore.Outbound {
		r.From, r.To = plat, who
	} else {
		r.From, r.To = who, plat
	}
	switch p := g.rng.IntN(100); {
	case p < 55:
		r.Product, r.Body, r.Status = cdrstore.ProductSMS, g.body(), g.pick(smsStatus)
		r.Price = fmt.Sprintf("0.%04d", 30+g.rng.IntN(900))
	case p < 80:
		g.voice(&r)
	case p < 92:
		r.Product, r.Body, r.Status = cdrstore.ProductMessages, g.body(), "read"
		r.Price = fmt.Sprintf("0.%04d", 50+g.rng.IntN(500))
		if g.rng.IntN(4) == 0 {
			r.Media = []cdrstore.Media{{URL: "https://media.example.net/m/" + HexID(g.rng) + ".jpg", ExpiresAt: at.Add(15 * time.Minute)}}
		}
	case p < 97:
		r.Product, r.Status, r.Price = cdrstore.ProductVerify, "SUCCESS", "0.0500"
		r.Direction, r.From, r.To = cdrstore.Outbound, plat, who
	case p < 99:
		r.Product, r.Status, r.Price = cdrstore.ProductNumberInsight, "success", "0.0300"
		r.Direction, r.From, r.To = cdrstore.Outbound, e164.Number{}, who
	default:
		r.Product, r.Status, r.Price = cdrstore.ProductVerifySDK, "completed", "0.0400"
		r.Direction, r.From, r.To = cdrstore.Outbound, plat, who
	}
	if g.rng.IntN(5) == 0 {
		r.ClientRef = fmt.Sprintf("ref-%d", g.rng.IntN(1_000_000))
	}
	switch g.rng.IntN(100) {
	case 0:
		r.ContentRetention = cdrstore.ContentRetain
	case 1:
		r.ContentRetention = cdrstore.ContentDiscard
	case 2:
		r.AddressRetention = cdrstore.AddressObfuscate
	}
	return r
}

func (g *Generator) voice(r *cdrstore.Record) {
	r.Product, r.Status = cdrstore.ProductVoice, g.pick(voiceStatus)
	dur := time.Duration(5+g.rng.IntN(1200)) * time.Second
	r.EndedAt = r.StartedAt.Add(dur)
	r.Price = fmt.Sprintf("0.%04d", int(dur.Seconds())*2+10)
	r.ConversationID = "CON-" + HexID(g.rng)
	for range 1 + g.rng.IntN(6) {
		line := g.pick(transcripts)
		if strings.Contains(line, "%") {
			line = fmt.Sprintf(line, g.rng.IntN(10000))
		}
		r.Transcript = append(r.Transcript, line)
	}
	if g.rng.IntN(10) < 6 {
		r.RecordingURL = "https://media.example.net/rec/" + HexID(g.rng) + ".mp3"
	}
	if g.rng.IntN(10) < 3 && g.i < g.c.N {
		// A second leg of the same call: the platform dials an agent.
		leg := *r
		leg.ID = HexID(g.rng)
		leg.StartedAt = r.StartedAt.Add(time.Duration(2+g.rng.IntN(10)) * time.Second)
		leg.EndedAt = leg.StartedAt.Add(dur / 2)
		leg.CreatedAt = leg.StartedAt.Add(time.Second)
		leg.Direction, leg.From, leg.To = cdrstore.Outbound, r.To, g.agent()
		if r.Direction == cdrstore.Outbound {
			leg.From = r.From
		}
		leg.Transcript, leg.RecordingURL = nil, ""
		g.i++
		g.pendingLeg = &leg
	}
}

// agent returns a number of the platform's agents (a heavy contact when
// there is one).
func (g *Generator) agent() e164.Number { return g.contacts[g.rng.IntN(min(len(g.contacts), 3))] }

// Batch appends n records to dst.
func (g *Generator) Batch(dst []cdrstore.Record, n int) []cdrstore.Record {
	for range n {
		dst = append(dst, g.Next())
	}
	return dst
}

// All returns c.N records.
func (g *Generator) All() []cdrstore.Record { return g.Batch(make([]cdrstore.Record, 0, g.c.N), g.c.N) }
