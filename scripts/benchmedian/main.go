// Command benchmedian reads `go test -bench` output on stdin and prints, for
// each benchmark, the median ns/op of its runs and, for every sub-benchmark
// of a benchmark that has a baseline case, the ratio of its median to the
// baseline's. The baseline of a benchmark is its "runc" case if it has one
// (rune's benchmarks: rune against runc, measured in the same run), else
// its "plain" case (the handshakes: Rats-TLS against crypto/tls). Medians,
// because the machines are noisy.
//
// While every baseline is "plain" the ratio column is headed "vs plain";
// once a benchmark is measured against another baseline it is headed
// "vs base" and every ratio names its baseline ("1.094x plain").
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// baselines are the case names a benchmark's ratios are taken against, in
// order of preference.
var baselines = []string{"runc", "plain"}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

func main() {
	if err := summarize(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchmedian:", err)
		os.Exit(1)
	}
}

// summarize reads benchmark output from r and writes the table to w.
func summarize(r io.Reader, w io.Writer) error {
	runs := map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
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
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the benchmark output: %w", err)
	}
	med := map[string]float64{}
	for _, name := range order {
		med[name] = median(runs[name])
	}
	// base is the baseline case of name's benchmark, "" if none.
	base := func(name string) string {
		i := strings.LastIndex(name, "/")
		if i <= 0 {
			return ""
		}
		for _, b := range baselines {
			if p, ok := med[name[:i]+"/"+b]; ok && p > 0 {
				return b
			}
		}
		return ""
	}
	onlyPlain := true
	for _, name := range order {
		if b := base(name); b != "" && b != "plain" {
			onlyPlain = false
		}
	}
	header, width := "vs plain", 10
	if !onlyPlain {
		header, width = "vs base", 14
	}
	if _, err := fmt.Fprintf(w, "%-60s %14s %6s %*s\n", "benchmark", "median ns/op", "runs", width, header); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	for _, name := range order {
		ratio := ""
		if b := base(name); b != "" {
			ratio = fmt.Sprintf("%.3fx", med[name]/med[name[:strings.LastIndex(name, "/")]+"/"+b])
			if !onlyPlain {
				ratio += " " + b
			}
		}
		if _, err := fmt.Fprintf(w, "%-60s %14.0f %6d %*s\n", name, med[name], len(runs[name]), width, ratio); err != nil {
			return fmt.Errorf("writing the summary: %w", err)
		}
	}
	return nil
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
