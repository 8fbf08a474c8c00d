package main

import (
	"strings"
	"testing"
)

// handshakes is `go test -bench` output of a benchmark measured against
// its plain case (-benchmem columns, three runs, an odd and an even count).
const handshakes = `goos: linux
BenchmarkHandshake/plain-2         	     100	   1000000 ns/op	  1024 B/op	      10 allocs/op
BenchmarkHandshake/null-2          	     100	   1100000 ns/op	  1024 B/op	      10 allocs/op
BenchmarkHandshake/plain-2         	     100	   3000000 ns/op	  1024 B/op	      10 allocs/op
BenchmarkHandshake/null-2          	     100	   1300000 ns/op	  1024 B/op	      10 allocs/op
BenchmarkHandshake/plain-2         	     100	   2000000 ns/op	  1024 B/op	      10 allocs/op
BenchmarkFind-2                    	   10000	      4000 ns/op
PASS
`

// runeVsRunc adds rune's benchmarks, measured against their runc case;
// BenchmarkExec/plain is no baseline there, runc is.
const runeVsRunc = `BenchmarkRun/runc-2                          	      10	 200000000 ns/op
BenchmarkRun/rune-2                          	      10	 240000000 ns/op
BenchmarkRun/rune-enclave-skeleton-2         	      10	 400000000 ns/op
BenchmarkRun/runc-2                          	      10	 100000000 ns/op
BenchmarkRun/rune-2                          	      10	 120000000 ns/op
BenchmarkRun/rune-enclave-skeleton-2         	      10	 300000000 ns/op
BenchmarkExec/plain-2                        	      10	  50000000 ns/op
BenchmarkExec/runc-2                         	      10	 100000000 ns/op
`

func run(t *testing.T, in string) []string {
	t.Helper()
	var out strings.Builder
	if err := summarize(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// TestPlainBaseline checks the output for benchmarks measured against
// plain alone, column for column as it has always been.
func TestPlainBaseline(t *testing.T) {
	want := []string{
		"benchmark                                                      median ns/op   runs   vs plain",
		"BenchmarkHandshake/plain                                            2000000      3     1.000x",
		"BenchmarkHandshake/null                                             1200000      2     0.600x",
		"BenchmarkFind                                                          4000      1           ",
	}
	got := run(t, handshakes)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRuncBaseline checks that a benchmark with a runc case is measured
// against it, one with only plain against plain, and that every ratio then
// names its baseline.
func TestRuncBaseline(t *testing.T) {
	want := []string{
		"benchmark                                                      median ns/op   runs        vs base",
		"BenchmarkHandshake/plain                                            2000000      3   1.000x plain",
		"BenchmarkHandshake/null                                             1200000      2   0.600x plain",
		"BenchmarkFind                                                          4000      1               ",
		"BenchmarkRun/runc                                                 150000000      2    1.000x runc",
		"BenchmarkRun/rune                                                 180000000      2    1.200x runc",
		"BenchmarkRun/rune-enclave-skeleton                                350000000      2    2.333x runc",
		"BenchmarkExec/plain                                                50000000      1    0.500x runc",
		"BenchmarkExec/runc                                                100000000      1    1.000x runc",
	}
	got := run(t, handshakes+runeVsRunc)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNoBenchmarks checks that input without benchmark lines gives the
// header alone.
func TestNoBenchmarks(t *testing.T) {
	if got := run(t, "FAIL\tsomething\n"); len(got) != 1 || !strings.HasPrefix(got[0], "benchmark ") {
		t.Errorf("got %q", got)
	}
}
