// Command compare runs the same CDR workload on cdrvault and its peer
// engines in one run and prints one table: each engine's figure (median
// latencies, rates, file size) and its ratio to cdrvault's, where a ratio
// above 1 means cdrvault is better.
//
//	cd bench && go run ./cmd/compare -n 1000000
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/bench"
)

func main() {
	n := flag.Int("n", 100_000, "records in the workload")
	only := flag.String("engines", "", "comma-separated engines to run (default all)")
	flag.Parse()
	fmt.Fprintf(os.Stderr, "generating %d records…\n", *n)
	w := bench.NewWorkload(*n)
	var names []string
	results := map[string]map[string]float64{}
	for _, f := range bench.Factories() {
		if *only != "" && !strings.Contains(","+*only+",", ","+f.Name+",") {
			continue
		}
		if *only == "" && f.Name == "bolthold" && *n > 200_000 {
			// bolthold ingests about 1,300 records/s: a million would take
			// over 12 minutes on its own. Name it in -engines to run it.
			fmt.Fprintln(os.Stderr, "skipping bolthold above 200,000 records (name it in -engines to run it)")
			continue
		}
		dir, err := os.MkdirTemp("", "bench-"+f.Name)
		if err != nil {
			fail(err)
		}
		m, err := bench.Run(f, dir, w, func(s string) { fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), s) })
		os.RemoveAll(dir)
		if err != nil {
			fail(fmt.Errorf("%s: %w", f.Name, err))
		}
		names = append(names, f.Name)
		results[f.Name] = m
	}
	fmt.Printf("N = %d records, %s\n\n", *n, time.Now().UTC().Format("2006-01-02"))
	fmt.Print(bench.Table(names, results))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}
