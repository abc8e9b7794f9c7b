package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type policyCmd struct {
	ws, products, premature, retention, mediaExpiry string
	months                                          *int // nil: not given
	autoRedact                                      listFlag
	clearAuto                                       bool
}

func (c *policyCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.products, "products", "", "provisioned products, comma-separated, or 'all'")
	fs.StringVar(&c.premature, "premature", "", "premature-redaction window, e.g. 1h")
	fs.Func("retention-months", "retention in calendar months for every product (1 to 1200)", func(v string) error {
		m, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		c.months = &m
		return nil
	})
	fs.StringVar(&c.retention, "retention", "", "per-product retention, e.g. voice=24,sms=6")
	fs.StringVar(&c.mediaExpiry, "media-expiry", "", "remove media this long after the record started, e.g. 720h (0 to disable)")
	fs.Var(&c.autoRedact, "auto-redact", "policy PRODUCT:DIRECTION|any:content,address:HOLD (repeatable), e.g. sms:outbound:content,address:6h")
	fs.BoolVar(&c.clearAuto, "clear-auto-redact", false, "remove every auto-redaction policy")
}

func (c *policyCmd) validate(e *env) error {
	if c.ws == "" || len(e.args) != 1 || (e.args[0] != "show" && e.args[0] != "set") {
		return usageErr("need show or set, and -w WS")
	}
	if e.args[0] == "set" {
		// Every flag value must parse (a product named sms2 is bad usage,
		// exit 2); whether the result is a valid policy is SetSettings'
		// to say.
		var scratch redaction.Settings
		return c.apply(&scratch)
	}
	return nil
}

func (c *policyCmd) apply(s *redaction.Settings) error {
	if c.products != "" {
		s.Products = nil
		if c.products != "all" {
			for _, p := range strings.Split(c.products, ",") {
				prod, err := redaction.ParseProduct(p)
				if err != nil {
					return err
				}
				s.Products = append(s.Products, prod)
			}
		}
	}
	if c.premature != "" {
		d, err := time.ParseDuration(c.premature)
		if err != nil {
			return usageErr("--premature: %v", err)
		}
		if d <= 0 {
			// A zero window stands for the default in Settings, so
			// "0s" would quietly mean 1h.
			return usageErr("--premature must be more than 0 (the default is %s)", redaction.DefaultPrematureWindow)
		}
		s.PrematureWindow = redaction.Duration(d)
	}
	if c.months != nil {
		if *c.months < 1 || *c.months > 1200 {
			return usageErr("--retention-months must be 1 to 1200")
		}
		s.Retention.Months = *c.months
	}
	if c.retention != "" {
		for _, kv := range strings.Split(c.retention, ",") {
			name, val, ok := strings.Cut(kv, "=")
			m, err := strconv.Atoi(val)
			if !ok || err != nil {
				return usageErr("--retention wants PRODUCT=MONTHS, got %q", kv)
			}
			p, err := redaction.ParseProduct(name)
			if err != nil {
				return err
			}
			if s.Retention.ByProduct == nil {
				s.Retention.ByProduct = map[cdrstore.Product]int{}
			}
			s.Retention.ByProduct[p] = m
		}
	}
	if c.mediaExpiry != "" {
		d, err := time.ParseDuration(c.mediaExpiry)
		if err != nil {
			return usageErr("--media-expiry: %v", err)
		}
		s.MediaExpiry = redaction.Duration(d)
	}
	if c.clearAuto {
		s.AutoRedact = nil
	}
	for _, spec := range c.autoRedact {
		parts := strings.Split(spec, ":")
		if len(parts) != 4 {
			return usageErr("--auto-redact wants PRODUCT:DIRECTION:WHAT:HOLD, got %q", spec)
		}
		p, err := redaction.ParseProduct(parts[0])
		if err != nil {
			return err
		}
		var d cdrstore.Direction
		if parts[1] != "any" {
			if d, err = redaction.ParseDirection(parts[1]); err != nil {
				return err
			}
		}
		hold, err := time.ParseDuration(parts[3])
		if err != nil {
			return usageErr("--auto-redact hold: %v", err)
		}
		pol := redaction.AutoRedactPolicy{Product: p, Direction: d, Hold: redaction.Duration(hold)}
		for _, w := range strings.Split(parts[2], ",") {
			switch w {
			case "content":
				pol.Content = true
			case "address":
				pol.Address = true
			default:
				return usageErr("--auto-redact: %q is neither content nor address", w)
			}
		}
		s.AutoRedact = append(s.AutoRedact, pol)
	}
	return nil
}

func (c *policyCmd) run(ctx context.Context, e *env) error {
	mode := readWrite
	if e.args[0] == "show" {
		mode = readOnly
	}
	ops, done, err := e.ops(ctx, mode)
	if err != nil {
		return err
	}
	defer done()
	settings, err := ops.Settings(ctx, c.ws)
	if err != nil {
		return err
	}
	if e.args[0] == "show" {
		return printSettings(e, settings)
	}
	if err := c.apply(&settings); err != nil {
		return err
	}
	res, err := ops.SetSettings(ctxRequest(ctx, ""), c.ws, settings)
	if err != nil {
		return err
	}
	if !e.json {
		if res.AuditSeq == 0 {
			fmt.Fprintln(e.stdout, "no change")
		} else {
			fmt.Fprintf(e.stdout, "settings of %s changed (audit seq %d)\n", c.ws, res.AuditSeq)
		}
	}
	return printSettings(e, settings)
}

func printSettings(e *env, s redaction.Settings) error {
	if e.json {
		return e.printJSON(s)
	}
	products := "all"
	if len(s.Products) > 0 {
		var ps []string
		for _, p := range s.Products {
			ps = append(ps, string(p))
		}
		products = strings.Join(ps, ",")
	}
	fmt.Fprintf(e.stdout, "provisioned products: %s\npremature window: %s\n", products, s.Premature())
	fmt.Fprintln(e.stdout, "retention (months):")
	for _, p := range cdrstore.Products() {
		fmt.Fprintf(e.stdout, "  %-15s %d\n", p, s.RetentionMonths(p))
	}
	if len(s.AutoRedact) == 0 {
		fmt.Fprintln(e.stdout, "auto-redaction: none")
	}
	for _, a := range s.AutoRedact {
		raw, _ := json.Marshal(a)
		fmt.Fprintf(e.stdout, "auto-redaction: %s\n", raw)
	}
	if s.MediaExpiry > 0 {
		fmt.Fprintf(e.stdout, "media expiry: %s\n", time.Duration(s.MediaExpiry))
	}
	return nil
}
