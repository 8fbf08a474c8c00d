#!/usr/bin/env bash
# make demo: a Rats-TLS server and client attesting each other with the
# simulated SEV-SNP TEE in exporter mode, the verified claims, the same
# through subprocess plugins only, then a refused client and its reason.
# No TEE hardware is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# start_server ARGS...: starts the server on a free port and sets $port.
n=0
start_server() {
	n=$((n + 1))
	local log="$work/server$n.log"
	"$BIN/rats-tls-server" -p 0 "$@" >"$work/server$n.out" 2>"$log" &
	pids+=($!)
	for _ in $(seq 200); do
		port=$(grep -o 'addr=127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
		[ -n "$port" ] && return 0
		sleep 0.05
	done
	echo "server did not start:" >&2; cat "$log" >&2; return 1
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Instances available here (built in, and subprocess plugins from bin/plugins)"
"$BIN/rats-tls-client" --list-instances --plugin-dir "$BIN/plugins"

# Both sides attest with the simulated SEV-SNP TEE: real-format SNP reports
# signed by a test-only AMD key chain, so the whole path runs without SEV
# hardware. A verifier trusts that chain only when told (--allow-simulated).
snp=(-a sev_snp_sim -m --allow-simulated --freshness exporter)

step "Mutual attestation with simulated SEV-SNP, evidence bound to this TLS session (exporter mode)"
start_server "${snp[@]}" --plugin-dir "$work/none"
echo "\$ rats-tls-client ${snp[*]} -p $port"
"$BIN/rats-tls-client" "${snp[@]}" -p "$port" --plugin-dir "$work/none"

step "The same, with every instance a subprocess plugin (--no-builtin), each checked against the manifest"
start_server "${snp[@]}" --no-builtin --plugin-dir "$BIN/plugins"
echo "\$ rats-tls-client ${snp[*]} --no-builtin --plugin-dir $BIN/plugins -p $port --json"
"$BIN/rats-tls-client" "${snp[@]}" --no-builtin --plugin-dir "$BIN/plugins" -p "$port" --json

step "Refused: the same client without --allow-simulated does not trust a simulated TEE"
start_server -a sev_snp_sim --freshness exporter --plugin-dir "$work/none"
echo "\$ rats-tls-client --freshness exporter -p $port"
if "$BIN/rats-tls-client" --freshness exporter -p "$port" --plugin-dir "$work/none"; then
	echo "unexpected: simulated evidence was trusted without --allow-simulated" >&2; exit 1
fi
echo "(refused, as it must be; the server keeps serving the next client:)"
"$BIN/rats-tls-client" --freshness exporter --allow-simulated -p "$port" --plugin-dir "$work/none" >/dev/null && echo "next client: OK"
