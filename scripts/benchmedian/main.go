// Command benchmedian reads `go test -bench` output on stdin and prints, for
// each benchmark, the median ns/op of its runs and, for every sub-benchmark
// of a benchmark that has a "plain" case, the ratio of its median to plain's.
// Medians, because the machines are noisy.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

func main() {
	runs := map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		if _, ok := runs[m[1]]; !ok {
			order = append(order, m[1])
		}
		runs[m[1]] = append(runs[m[1]], v)
	}
	med := map[string]float64{}
	for _, name := range order {
		med[name] = median(runs[name])
	}
	fmt.Printf("%-60s %14s %6s %10s\n", "benchmark", "median ns/op", "runs", "vs plain")
	for _, name := range order {
		ratio := ""
		if i := strings.LastIndex(name, "/"); i > 0 {
			if p, ok := med[name[:i]+"/plain"]; ok && p > 0 {
				ratio = fmt.Sprintf("%.3fx", med[name]/p)
			}
		}
		fmt.Printf("%-60s %14.0f %6d %10s\n", name, med[name], len(runs[name]), ratio)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
