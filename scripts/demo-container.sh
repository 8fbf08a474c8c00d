#!/usr/bin/env bash
# make demo-container: the confidential container of the Enclave
# Attestation Architecture, on loopback, with no TEE hardware (needs root).
# rune runs a WASI module (samples/wasm-greeter) in a wasm enclave whose
# runtime, runelet-wasm, serves it over Rats-TLS as a simulated SGX enclave
# whose MRENCLAVE is the module's SHA-256. The tenant's shelter records that
# measurement, attests the container through inclavared and is greeted;
# then the module is changed by one byte, the container restarted, and
# shelter refuses it with the reason. Everything (container, mounts,
# processes, files) is removed at the end, and on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${INCLAVARE_BIN:-$PWD/bin}
if [ "$(id -u)" != 0 ]; then
	echo "demo-container runs a container: run it as root" >&2
	exit 1
fi
work=$(mktemp -d)
root=$work/rune-root   # rune's state (--root), removed with $work
id=greeter-demo-$$
pids=()
cleanup() {
	"$BIN/rune" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
export SHELTER_DB=$work/shelter.db
# No subprocess plugins in this demo: built-in instances only.
export RATS_TLS_PLUGIN_DIR=$work/no-plugins
export RUNE_WASM_CACHE=$work/wasm-cache

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

# wait_addr LOG KEY: prints the first address logged as KEY=HOST:PORT.
wait_addr() {
	local log=$1 key=$2 a
	for _ in $(seq 300); do
		a=$(grep -o "$key=[0-9.]*:[0-9]*" "$log" 2>/dev/null | head -1 | cut -d= -f2 || true)
		[ -n "$a" ] && { echo "$a"; return 0; }
		sleep 0.05
	done
	echo "did not start:" >&2; cat "$log" >&2; return 1
}

# The bundle: a root filesystem holding only the module (the wasm enclave
# type needs no libc), read-only; no network namespace, so that the
# enclave listens on the host's loopback.
bundle=$work/bundle
mkdir -p "$bundle/rootfs"
cp samples/wasm-greeter/greeter.wasm "$bundle/rootfs/greeter.wasm"
# write_config LISTEN: the OCI configuration, the enclave listening on LISTEN.
write_config() {
	cat >"$bundle/config.json" <<JSON
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["/greeter.wasm"],
    "env": ["PATH=/"],
    "cwd": "/",
    "capabilities": {"bounding": [], "effective": [], "permitted": []},
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "greeter",
  "annotations": {
    "enclave.type": "wasm",
    "enclave.attestation.listen": "$1",
    "enclave.attestation.attester": "sgx_ecdsa_sim",
    "enclave.runtime.loglevel": "info"
  },
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON
}

# start_container LISTEN: rune runs the greeter detached; sets $workload_addr.
run_count=0
start_container() {
	run_count=$((run_count + 1))
	write_config "$1"
	"$BIN/rune" --root "$root" run --detach --bundle "$bundle" "$id" \
		>"$work/container-$run_count.out" 2>"$work/container-$run_count.log"
	workload_addr=$(wait_addr "$work/container-$run_count.log" addr)
}

module=$bundle/rootfs/greeter.wasm
good=$("$BIN/runelet-wasm" measure "$module")

step "The cloud: rune runs the WASI greeter in a wasm enclave (simulated SGX, MRENCLAVE = the module's SHA-256)"
show rune run --detach --bundle bundle $id   "# enclave.type wasm, enclave.attestation.listen tcp://127.0.0.1:0"
start_container "tcp://127.0.0.1:0"
echo "the container's runelet-wasm serves Rats-TLS on $workload_addr"
show rune attest --verify --allow-simulated $id
"$BIN/rune" --root "$root" attest --verify --allow-simulated "$id" | grep -E '^(container|evidence|measurement|verdict)|mrenclave'

# inclavared proves itself to shelter with the simulated TEE too.
"$BIN/inclavared" --listen tcp://127.0.0.1:0 --xfer "tcp://$workload_addr" -a sgx_ecdsa_sim --allow-simulated --freshness nonce \
	>"$work/inclavared.out" 2>"$work/inclavared.log" &
pids+=($!)
inclavared_addr=$(wait_addr "$work/inclavared.log" addr)
echo "inclavared on $inclavared_addr (verifies the container, forwards shelter's traffic)"

step "The tenant records the module's measurement"
show runelet-wasm measure greeter.wasm
echo "$good"
show shelter reference add greeter --evidence-type sgx_ecdsa --measurement mrenclave=${good:0:16}…
"$BIN/shelter" reference add greeter --evidence-type sgx_ecdsa --measurement "mrenclave=$good"

step "shelter attests the container through inclavared, then is greeted by the module"
show shelter remoteattestation --addr tcp://$inclavared_addr --workload greeter --allow-simulated --message tenant
"$BIN/shelter" remoteattestation --addr "tcp://$inclavared_addr" --workload greeter --allow-simulated --message tenant

step "The module changes by one byte (the H of \"Hello\"), and the container restarts"
offset=$(grep -obUa 'Hello, ' "$module" | head -1 | cut -d: -f1)
show "printf J | dd of=greeter.wasm bs=1 seek=$offset conv=notrunc"
printf J | dd of="$module" bs=1 seek="$offset" conv=notrunc status=none
"$BIN/rune" --root "$root" delete --force "$id"
start_container "tcp://$workload_addr"   # the same address: inclavared is unchanged
echo "new measurement $("$BIN/runelet-wasm" measure "$module")"

step "shelter refuses it, with the reason"
show shelter remoteattestation --addr tcp://$inclavared_addr --workload greeter --allow-simulated --message secret
set +e
"$BIN/shelter" remoteattestation --addr "tcp://$inclavared_addr" --workload greeter --allow-simulated --message secret
code=$?
set -e
if [ "$code" -ne 3 ]; then
	echo "unexpected: exit $code, want 3 (contraindicated)" >&2; exit 1
fi
echo "(refused with exit 3, and the message was never sent)"

step "Stopping and deleting everything"
"$BIN/rune" --root "$root" delete --force "$id"
left=$("$BIN/rune" --root "$root" list --quiet)
if [ -n "$left" ] || grep -q "$work" /proc/self/mountinfo; then
	echo "left behind: containers [$left], mounts: $(grep -c "$work" /proc/self/mountinfo)" >&2; exit 1
fi
cleanup
pids=()
trap - EXIT
echo "done: no container, mount or process left"
