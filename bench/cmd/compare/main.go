// Command compare runs the same CDR workload on cdrvault and its peer
// engines and prints, for each workload (records per contact), one table
// of every metric and one of the rates at each transaction size, with each
// engine's ratio to sqlite-full (SQLite configured as its users would).
//
//	cd bench && go run ./cmd/compare -n 1000000
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdrvault/cdrvault/bench"
)

func main() {
	n := flag.Int("n", 100_000, "records in the workload")
	only := flag.String("engines", "", "comma-separated engines to run, in this order (default all)")
	perContact := flag.String("per-contact", fmt.Sprintf("%d,%d", bench.DefaultRecordsPerContact, bench.SparseRecordsPerContact),
		"comma-separated average records per contact, one workload each")
	ingest := flag.String("ingest", ints(bench.DefaultBatches.Ingest), "comma-separated records per transaction of the bulk loads")
	sweep := flag.String("sweep", ints(bench.DefaultBatches.Sweep), "comma-separated deletions per transaction of the sweeps")
	cacheMiB := flag.Int64("sqlite-cache", bench.SQLiteCacheBytes>>20, "SQLite's page cache in MiB (PRAGMA cache_size); above ~3.5 million records its file outgrows its 2 GiB map, and equal memory needs a cache as large as the rest")
	flag.Parse()
	if *cacheMiB <= 0 {
		fail(fmt.Errorf("-sqlite-cache: %d is not a positive number of MiB", *cacheMiB))
	}
	bench.SQLiteCacheBytes = *cacheMiB << 20
	var bs bench.Batches
	var densities []int
	var err error
	if bs.Ingest, err = parseInts(*ingest); err != nil {
		fail(fmt.Errorf("-ingest: %w", err))
	}
	if bs.Sweep, err = parseInts(*sweep); err != nil {
		fail(fmt.Errorf("-sweep: %w", err))
	}
	if densities, err = parseInts(*perContact); err != nil {
		fail(fmt.Errorf("-per-contact: %w", err))
	}
	for _, d := range densities {
		fmt.Fprintf(os.Stderr, "generating %d records, ~%d per contact…\n", *n, d)
		w := bench.NewWorkload(*n, d)
		var names []string
		results := map[string]map[string]float64{}
		for _, f := range factories(*only) {
			if *only == "" && f.Name == "bolthold" && *n > 200_000 {
				// bolthold ingests about 1,300 records/s: a million would take
				// over 12 minutes per load. Name it in -engines to run it.
				fmt.Fprintln(os.Stderr, "skipping bolthold above 200,000 records (name it in -engines to run it)")
				continue
			}
			root, err := os.MkdirTemp("", "bench-"+f.Name)
			if err != nil {
				fail(err)
			}
			m, err := bench.Run(f, root, w, bs, func(s string) { fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), s) })
			os.RemoveAll(root)
			if err != nil {
				fail(fmt.Errorf("%s: %w", f.Name, err))
			}
			names = append(names, f.Name)
			results[f.Name] = m
		}
		fmt.Printf("N = %d records, ~%d records per contact, %s\n\n", *n, d, time.Now().UTC().Format("2006-01-02"))
		fmt.Print(bench.Table(names, results, bench.Metrics(bs)))
		fmt.Println()
		fmt.Print(bench.BatchTable(names, results, bs))
		fmt.Println()
	}
}

// factories are the engines named in only, in its order (so that a rerun
// can swap which engine runs first), or every engine.
func factories(only string) []bench.Factory {
	all := bench.Factories()
	if only == "" {
		return all
	}
	var fs []bench.Factory
	for _, name := range strings.Split(only, ",") {
		i := slices.IndexFunc(all, func(f bench.Factory) bool { return f.Name == strings.TrimSpace(name) })
		if i < 0 {
			fail(fmt.Errorf("-engines: no engine %q", name))
		}
		fs = append(fs, all[i])
	}
	return fs
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) ([]int, error) {
	var xs []int
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || x <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		xs = append(xs, x)
	}
	return xs, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}
