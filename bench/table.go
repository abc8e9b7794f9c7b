package bench

import (
	"fmt"
	"strings"
)

// Table formats results (engine -> metric -> value) with each peer's ratio
// to the first engine: for latencies and size the peer's value over
// cdrvault's, for rates cdrvault's over the peer's... inverted so that a
// ratio above 1 always means cdrvault is better.
func Table(names []string, results map[string]map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s", "metric")
	for _, n := range names {
		fmt.Fprintf(&b, " %16s", n)
	}
	b.WriteString("\n")
	base := results[names[0]]
	for _, m := range Metrics {
		fmt.Fprintf(&b, "%-22s", m)
		for _, n := range names {
			v := results[n][m]
			cell := fmt.Sprintf("%.0f", v)
			if n != names[0] && base[m] > 0 && v > 0 {
				r := v / base[m]
				if higherIsBetter(m) {
					r = base[m] / v
				}
				cell += fmt.Sprintf(" (%.2fx)", r)
			}
			fmt.Fprintf(&b, " %16s", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n(x) = peer ÷ cdrvault for latencies and size, cdrvault ÷ peer for rates: above 1, cdrvault is better\n")
	return b.String()
}
