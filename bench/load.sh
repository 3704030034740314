#!/usr/bin/env bash
# bench/load.sh — the demo server under real load, auth on vs. off.
#
# Builds cmd/tokengate-demo, runs it on loopback with authentication on and
# off, drives gRPC unary calls with ghz and REST calls with hey (the same
# fixed number of requests each time), and reads the server's own CPU time
# from /proc/PID/stat around each run. Prints CPU per request and
# throughput, and the auth-on/auth-off ratios. Then floods the auth-on
# server with distinct valid tokens (bench/flood) and reports its RSS growth.
#
# Any answer that is not OK (gRPC) or 200 (REST) fails the run. Everything is
# bounded: N requests per run, ROUNDS rounds, a timeout on each tool, and the
# servers are stopped on exit.
#
#   bash bench/load.sh                    # defaults below
#   N=100000 ROUNDS=5 bash bench/load.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-50000}             # requests per tool per run
C=${C:-50}                # concurrent callers
ROUNDS=${ROUNDS:-3}       # on/off pairs, alternated; the median ratio is reported
FLOOD=${FLOOD:-300000}    # distinct tokens in the memory flood (0 to skip)
GHZ_VERSION=v0.120.0
HEY_VERSION=v0.1.4

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

export GOBIN="$work/bin"
echo "installing ghz $GHZ_VERSION and hey $HEY_VERSION, building the demo..." >&2
GOFLAGS= go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
GOFLAGS= go install "github.com/rakyll/hey@$HEY_VERSION"
go build -o "$work/demo" ./cmd/tokengate-demo
go build -o "$work/flood" ./bench/flood
go build -o "$work/create_token" ./cmd/create_token

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
clk=$(getconf CLK_TCK)

# start_demo SECRET: starts the demo on free loopback ports; sets pid, grpc, http.
start_demo() {
	TOKENS_SECRET="$1" "$work/demo" -grpc-addr 127.0.0.1:0 -http-addr 127.0.0.1:0 2>"$work/demo.log" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		if grep -q 'listening' "$work/demo.log"; then break; fi
		sleep 0.1
	done
	grpc=$(sed -n 's/.*grpc=\([^ ]*\).*/\1/p' "$work/demo.log" | head -1)
	http=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' "$work/demo.log" | head -1)
	[ -n "$grpc" ] && [ -n "$http" ] || { cat "$work/demo.log" >&2; exit 1; }
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

run_ghz() { # N -> prints rps; fails unless every answer is OK
	local n=$1 out="$work/ghz.json"
	timeout 300 "$work/bin/ghz" --insecure --proto proto/tokengate/v1/echo.proto --import-paths proto \
		--call tokengate.v1.EchoService.UnaryEcho -d '{"message":"hi"}' \
		-m "{\"authorization\":\"Bearer $token\"}" -n "$n" -c "$C" --connections 4 \
		--format json -o "$out" "$grpc"
	python3 - "$out" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
codes = r.get("statusCodeDistribution", {})
if codes.get("OK", 0) != n or len(codes) != 1:
    sys.exit(f"ghz: not every answer was OK: {codes}")
print(f"{r['rps']:.0f}")
PY
}

run_hey() { # N -> prints rps; fails unless every answer is 200
	local n=$1 out="$work/hey.txt"
	timeout 300 "$work/bin/hey" -n "$n" -c "$C" -m POST -T application/json -d '{"message":"hi"}' \
		-H "Authorization: Bearer $token" "http://$http/v1/echo" >"$out"
	if ! grep -q "\[200\][[:space:]]*$n responses" "$out" || grep -q '^Error distribution' "$out"; then
		sed -n '/Status code distribution/,$p' "$out" >&2
		echo "hey: not every answer was 200" >&2
		exit 1
	fi
	awk '/Requests\/sec/ {printf "%.0f\n", $2}' "$out"
}

# measure MODE: one run of each tool; appends "mode tool cpu_us_per_req rps" to results.
measure() {
	local mode=$1 s=""
	[ "$mode" = on ] && s=$secret
	start_demo "$s"
	token=$(TOKENS_SECRET=$secret "$work/create_token" -u bench -d 120)
	run_ghz 2000 >/dev/null; run_hey 2000 >/dev/null # warm up
	local t0 t1 t2 rps_g rps_h
	t0=$(cpu_ticks "$pid"); rps_g=$(run_ghz "$N")
	t1=$(cpu_ticks "$pid"); rps_h=$(run_hey "$N")
	t2=$(cpu_ticks "$pid")
	kill "$pid"; wait "$pid" 2>/dev/null || true
	awk -v m="$mode" -v a="$t0" -v b="$t1" -v c="$t2" -v n="$N" -v k="$clk" -v g="$rps_g" -v h="$rps_h" 'BEGIN {
		printf "%s grpc %.2f %s\n", m, (b-a)/k/n*1e6, g
		printf "%s rest %.2f %s\n", m, (c-b)/k/n*1e6, h }' >>"$work/results"
}

for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	if [ $((r % 2)) = 1 ]; then measure on; measure off; else measure off; measure on; fi
done

echo
echo "tokengate-demo under load: N=$N requests per run, C=$C callers, $ROUNDS rounds, $(nproc) cores"
python3 - "$work/results" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
print(f"{'face':5} {'auth':4} {'CPU µs/req (median)':>20} {'req/s (median)':>15}")
med = {}
for face in ("grpc", "rest"):
    for mode in ("off", "on"):
        cpu = [float(r[2]) for r in rows if r[0] == mode and r[1] == face]
        rps = [float(r[3]) for r in rows if r[0] == mode and r[1] == face]
        med[face, mode] = cpu
        print(f"{face:5} {mode:4} {st.median(cpu):20.2f} {st.median(rps):15.0f}")
for face in ("grpc", "rest"):
    ratios = [on / off for on, off in zip(med[face, "on"], med[face, "off"])]
    print(f"{face}: CPU per request, auth on / off = {st.median(ratios):.3f} (per round: {', '.join(f'{x:.3f}' for x in ratios)})")
PY

if [ "$FLOOD" -gt 0 ]; then
	start_demo "$secret"
	TOKENS_SECRET=$secret "$work/flood" -addr "$grpc" -n 2000 -c "$C" >/dev/null # warm up
	before=$(rss_kib "$pid")
	TOKENS_SECRET=$secret timeout 600 "$work/flood" -addr "$grpc" -n "$FLOOD" -c "$C"
	after=$(rss_kib "$pid")
	echo "memory: RSS $((before / 1024)) MiB before, $((after / 1024)) MiB after $FLOOD distinct tokens (+$(((after - before) / 1024)) MiB)"
fi
