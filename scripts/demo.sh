#!/usr/bin/env bash
# make demo: a Rats-TLS server with mutual attestation, a client that verifies
# it, the verified result, then the same through subprocess plugins only.
# No TEE is needed: on this machine the best attester is the null attester,
# so both sides name the null verifier to accept a peer without evidence.
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

step "Instances available here"
"$BIN/rats-tls-client" --list-instances --plugin-dir "$BIN/plugins"

step "Built-in instances: server and client attest each other (-m), verified with the null verifier"
start_server -m -v nullverifier --plugin-dir "$work/none"
echo "\$ rats-tls-client -m -v nullverifier -p $port --json"
"$BIN/rats-tls-client" -m -v nullverifier -p "$port" --plugin-dir "$work/none" --json

step "Every instance as a subprocess plugin (--no-builtin), checked against the plugin manifest"
start_server -m -v nullverifier --no-builtin --plugin-dir "$BIN/plugins"
echo "\$ rats-tls-client -m -v nullverifier --no-builtin --plugin-dir $BIN/plugins -p $port"
"$BIN/rats-tls-client" -m -v nullverifier --no-builtin --plugin-dir "$BIN/plugins" -p "$port"

step "Fail closed: a client that does not name the null verifier refuses an unattested server"
start_server --plugin-dir "$work/none"
echo "\$ rats-tls-client -p $port"
if "$BIN/rats-tls-client" -p "$port" --plugin-dir "$work/none"; then
	echo "unexpected: the unattested server was accepted" >&2; exit 1
fi
echo "(refused, as it must be; the server keeps serving the next client:)"
"$BIN/rats-tls-client" -v nullverifier -p "$port" --plugin-dir "$work/none" >/dev/null && echo "next client: OK"
