package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/redaction"
)

type keysCmd struct {
	ws, products string
	ps           []cdrstore.Product
}

func (c *keysCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ws, "w", "", "workspace")
	fs.StringVar(&c.products, "products", "", "products the key may redact, comma-separated (default all); erasing a contact needs every product the workspace is provisioned for")
}

func (c *keysCmd) validate(e *env) error {
	if len(e.args) == 0 {
		return usageErr("need add, list or revoke")
	}
	switch e.args[0] {
	case "add":
		if c.ws == "" {
			return usageErr("add needs -w WS")
		}
		if c.products != "" {
			for _, p := range strings.Split(c.products, ",") {
				prod, err := redaction.ParseProduct(p)
				if err != nil {
					return err
				}
				c.ps = append(c.ps, prod)
			}
		}
	case "revoke":
		if c.ws == "" || len(e.args) != 2 {
			return usageErr("revoke needs -w WS and a key")
		}
	case "list":
	default:
		return usageErr("need add, list or revoke")
	}
	return nil
}

func (c *keysCmd) run(ctx context.Context, e *env) error {
	mode := readWrite
	if e.args[0] == "list" {
		mode = readOnly
	}
	ops, done, err := e.ops(ctx, mode)
	if err != nil {
		return err
	}
	defer done()
	ctx = ctxRequest(ctx, "")
	switch e.args[0] {
	case "add":
		k, err := ops.AddKey(ctx, c.ws, c.ps)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(k)
		}
		fmt.Fprintf(e.stdout, "key    %s\nsecret %s\ntoken  %s\n(the secret is shown once; Basic auth is key:secret, Bearer auth is the token)\n", k.Key, k.Secret, k.Token)
		return nil
	case "revoke":
		if err := ops.RevokeKey(ctx, c.ws, e.args[1]); err != nil {
			return err
		}
		if e.json {
			return e.printJSON(struct {
				Key       string `json:"key"`
				Workspace string `json:"workspace"`
				Revoked   bool   `json:"revoked"`
			}{e.args[1], c.ws, true})
		}
		fmt.Fprintf(e.stdout, "revoked %s\n", e.args[1])
		return nil
	}
	keys, err := ops.ListKeys(ctx, c.ws)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(keys)
	}
	for _, k := range keys {
		state := "active"
		if k.Revoked {
			state = "revoked"
		}
		var ps []string
		for _, p := range k.Products {
			ps = append(ps, string(p))
		}
		fmt.Fprintf(e.stdout, "%s  %-10s %-8s %s\n", k.KeyID, show(k.Workspace), state, strings.Join(ps, ","))
	}
	return nil
}
