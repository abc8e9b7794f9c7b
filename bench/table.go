package bench

import (
	"fmt"
	"slices"
	"strings"
)

// Baseline is the engine every ratio is taken against: SQLite configured
// as its users would, with bbolt's durability.
const Baseline = "sqlite-full"

// plainRatio says which metrics' ratio is the engine's value over the
// baseline's, where below 1 is smaller: the bytes on disk and in memory.
func plainRatio(m string) bool { return m == MetricSize || m == MetricMemory }

// ratio is engine value v against the baseline's b: for rates v÷b, for
// latencies b÷v (above 1, the engine is faster), for bytes v÷b.
func ratio(m string, v, b float64) float64 {
	if higherIsBetter(m) || plainRatio(m) {
		return v / b
	}
	return b / v
}

// baseline is Baseline if it ran, else the first engine.
func baseline(names []string) string {
	if slices.Contains(names, Baseline) {
		return Baseline
	}
	return names[0]
}

// cell is value v of metric m with its ratio to the baseline's.
func cell(m string, v, base float64, isBase bool) string {
	c := fmt.Sprintf("%.0f", v)
	if !isBase && base > 0 && v > 0 {
		c += fmt.Sprintf(" (%.2fx)", ratio(m, v, base))
	}
	return c
}

// Table formats results (engine -> metric -> value), one row per metric
// and one column per engine, with each engine's ratio to the baseline's.
func Table(names []string, results map[string]map[string]float64, metrics []string) string {
	var b strings.Builder
	base := baseline(names)
	fmt.Fprintf(&b, "%-22s", "metric")
	for _, n := range names {
		fmt.Fprintf(&b, " %18s", n)
	}
	b.WriteString("\n")
	for _, m := range metrics {
		fmt.Fprintf(&b, "%-22s", m)
		for _, n := range names {
			fmt.Fprintf(&b, " %18s", cell(m, results[n][m], results[base][m], n == base))
		}
		b.WriteString("\n")
	}
	b.WriteString(footnote(base))
	return b.String()
}

// BatchTable formats the rates at each transaction size: one row per
// engine, one column per batch size of ingest and sweep.
func BatchTable(names []string, results map[string]map[string]float64, bs Batches) string {
	var b strings.Builder
	base := baseline(names)
	var metrics []string
	fmt.Fprintf(&b, "%-18s", "records/s")
	for _, x := range bs.Ingest {
		metrics = append(metrics, IngestMetric(x))
		fmt.Fprintf(&b, " %17s", fmt.Sprintf("ingest %d/tx", x))
	}
	for _, x := range bs.Sweep {
		metrics = append(metrics, SweepMetric(x))
		fmt.Fprintf(&b, " %17s", fmt.Sprintf("sweep %d/tx", x))
	}
	b.WriteString("\n")
	for _, n := range names {
		fmt.Fprintf(&b, "%-18s", n)
		for _, m := range metrics {
			fmt.Fprintf(&b, " %17s", cell(m, results[n][m], results[base][m], n == base))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func footnote(base string) string {
	return fmt.Sprintf("\n(x) = ratio to %s: engine ÷ %s for rates, %s ÷ engine for latencies (above 1, the engine is faster);\n"+
		"engine ÷ %s for size and memory (above 1, the engine takes more)\n", base, base, base, base)
}
