#!/usr/bin/env bash
# make bench: every benchmark, COUNT runs each, medians summarised by
# scripts/benchmedian (ratios are computed from figures of this one run).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-6}
out=bench.txt
go test -run '^$' -bench . -benchmem -count "$count" -timeout 30m ./... | tee "$out"
echo
go run ./scripts/benchmedian < "$out"
