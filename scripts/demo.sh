#!/usr/bin/env bash
# make demo: the Enclave Attestation Architecture on loopback, with no TEE
# hardware. A confidential workload (the Rats-TLS sample server with the
# simulated SEV-SNP TEE) runs behind inclavared; the tenant's shelter
# records the workload's expected launch measurement, attests the workload
# through inclavared, and talks to it only after the verdict; then a
# workload with another measurement is refused with the reason. Every
# process is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
export SHELTER_DB=$work/shelter.db
# No subprocess plugins in this demo: built-in instances only.
export RATS_TLS_PLUGIN_DIR=$work/no-plugins

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

# wait_addr LOG PATTERN: prints the first address logged after PATTERN.
wait_addr() {
	local log=$1 key=$2 a
	for _ in $(seq 300); do
		a=$(grep -o "$key=[0-9.]*:[0-9]*" "$log" | head -1 | cut -d= -f2 || true)
		[ -n "$a" ] && { echo "$a"; return 0; }
		sleep 0.05
	done
	echo "did not start:" >&2; cat "$log" >&2; return 1
}

# workload NAME DIGEST: a confidential workload whose simulated SEV-SNP
# launch measurement is DIGEST; sets $workload_addr.
workload() {
	RATS_TLS_SEV_SNP_SIM_LAUNCH_DIGEST=$2 "$BIN/rats-tls-server" -a sev_snp_sim -p 0 \
		>"$work/$1.out" 2>"$work/$1.log" &
	pids+=($!)
	workload_addr=$(wait_addr "$work/$1.log" addr)
}

# inclavared_for NAME XFER: inclavared in front of the workload at XFER;
# sets $inclavared_addr.
inclavared_for() {
	# inclavared proves itself to shelter with the simulated TEE too.
	"$BIN/inclavared" --listen tcp://127.0.0.1:0 --xfer "tcp://$2" -a sev_snp_sim --allow-simulated --freshness nonce \
		>"$work/inclavared-$1.out" 2>"$work/inclavared-$1.log" &
	pids+=($!)
	inclavared_addr=$(wait_addr "$work/inclavared-$1.log" addr)
}

good=$(printf 'a1%.0s' $(seq 48))  # the launch measurement the tenant built
evil=$(printf 'e7%.0s' $(seq 48))  # someone else's

step "The cloud: a confidential workload (simulated SEV-SNP) and inclavared in front of it"
workload web "$good"
inclavared_for web "$workload_addr"
echo "workload  on $workload_addr  (rats-tls-server -a sev_snp_sim, launch measurement ${good:0:16}…)"
echo "inclavared on $inclavared_addr (verifies the workload, forwards shelter's traffic)"

step "The tenant records the workload's expected launch measurement"
show shelter reference add web --evidence-type sev_snp --measurement measurement=${good:0:16}…
"$BIN/shelter" reference add web --evidence-type sev_snp --measurement "measurement=$good"
show shelter reference list
"$BIN/shelter" reference list

step "shelter attests the workload through inclavared, then talks to it"
show shelter remoteattestation --addr tcp://$inclavared_addr --workload web --allow-simulated --message "hello from the tenant"
"$BIN/shelter" remoteattestation --addr "tcp://$inclavared_addr" --workload web --allow-simulated \
	--message "hello from the tenant"

step "Another workload, launched with a different measurement, is refused"
workload other "$evil"
inclavared_for other "$workload_addr"
show shelter remoteattestation --addr tcp://$inclavared_addr --workload web --allow-simulated --message "secret"
set +e
"$BIN/shelter" remoteattestation --addr "tcp://$inclavared_addr" --workload web --allow-simulated --message "secret"
code=$?
set -e
if [ "$code" -ne 3 ]; then
	echo "unexpected: exit $code, want 3 (contraindicated)" >&2; exit 1
fi
echo "(refused with exit 3, and the message was never sent)"

step "Stopping every process"
cleanup
pids=()
trap - EXIT
echo "done"
