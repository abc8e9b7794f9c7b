// Command cdradmin runs cdrvault's operations on a store file: ingest,
// search and export CDRs, redact and erase personal data, apply retention
// and auto-redaction policies, scrub, back up, and check the store.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
