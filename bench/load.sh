#!/usr/bin/env bash
# bench/load.sh — the demo server under real load, auth on vs. off.
#
# Builds cmd/tokengate-demo and runs two of them side by side on loopback,
# one with authentication on and one with it off. Drives gRPC unary calls
# with ghz and REST calls with hey in BATCHES batches, alternating between
# the two servers batch by batch so that both see the same machine, and adds
# up each server's own CPU time (/proc/PID/stat) around its batches. Prints
# CPU per request and throughput, and the auth-on/auth-off ratios. Then
# floods the auth-on server with distinct valid tokens (bench/flood) and
# reports its RSS growth.
#
# Any answer that is not OK (gRPC) or 200 (REST) fails the run. Everything is
# bounded: N requests per run, ROUNDS rounds, a timeout on each tool, and the
# servers are stopped on exit.
#
#   bash bench/load.sh                    # defaults below
#   N=200000 BATCHES=20 bash bench/load.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-100000}            # requests per tool and server, in all
C=${C:-50}                # concurrent callers
BATCHES=${BATCHES:-10}    # N is sent in this many batches, alternating servers
FLOOD=${FLOOD:-300000}    # distinct tokens in the memory flood (0 to skip)
PIN=${PIN:-1}             # 1: servers on core 0, load tool on core 1 (steadier CPU figures)
AA=${AA:-0}               # 1: the "off" server has auth on too: an A/A run shows the noise floor
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
server_cpu=() load_cpu=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	server_cpu=(taskset -c 0) load_cpu=(taskset -c 1)
fi
clk=$(getconf CLK_TCK)

# start_demo NAME SECRET: starts a demo on free loopback ports; sets
# pid_NAME, grpc_NAME and http_NAME.
start_demo() {
	local name=$1 log="$work/demo-$1.log" pid
	TOKENS_SECRET="$2" "${server_cpu[@]}" "$work/demo" -grpc-addr 127.0.0.1:0 -http-addr 127.0.0.1:0 2>"$log" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		if grep -q 'listening' "$log"; then break; fi
		sleep 0.1
	done
	printf -v "pid_$name" %s "$pid"
	printf -v "grpc_$name" %s "$(sed -n 's/.*grpc=\([^ ]*\).*/\1/p' "$log" | head -1)"
	printf -v "http_$name" %s "$(sed -n 's/.*http=\([^ ]*\).*/\1/p' "$log" | head -1)"
	local g="grpc_$name" h="http_$name"
	[ -n "${!g}" ] && [ -n "${!h}" ] || { cat "$log" >&2; exit 1; }
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

run_ghz() { # N ADDR -> prints rps; fails unless every answer is OK
	local n=$1 grpc=$2 out="$work/ghz.json"
	timeout 300 "${load_cpu[@]}" "$work/bin/ghz" --insecure --proto proto/tokengate/v1/echo.proto --import-paths proto \
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

run_hey() { # N ADDR -> prints rps; fails unless every answer is 200
	local n=$1 http=$2 out="$work/hey.txt"
	timeout 300 "${load_cpu[@]}" "$work/bin/hey" -n "$n" -c "$C" -m POST -T application/json -d '{"message":"hi"}' \
		-H "Authorization: Bearer $token" "http://$http/v1/echo" >"$out"
	if ! grep -q "\[200\][[:space:]]*$n responses" "$out" || grep -q '^Error distribution' "$out"; then
		sed -n '/Status code distribution/,$p' "$out" >&2
		echo "hey: not every answer was 200" >&2
		exit 1
	fi
	awk '/Requests\/sec/ {printf "%.0f\n", $2}' "$out"
}

token=$(TOKENS_SECRET=$secret "$work/create_token" -u bench -d 120)
start_demo on "$secret"
if [ "$AA" = 1 ]; then start_demo off "$secret"; else start_demo off ""; fi
for mode in on off; do # warm up
	g="grpc_$mode" h="http_$mode"
	run_ghz 5000 "${!g}" >/dev/null
	run_hey 5000 "${!h}" >/dev/null
done

# batch FACE MODE: one batch of N/BATCHES requests; appends
# "face mode ticks rps" to results.
batch() {
	local face=$1 mode=$2 n=$((N / BATCHES)) p="pid_$2" g="grpc_$2" h="http_$2" t0 t1 rps
	t0=$(cpu_ticks "${!p}")
	if [ "$face" = grpc ]; then rps=$(run_ghz "$n" "${!g}"); else rps=$(run_hey "$n" "${!h}"); fi
	t1=$(cpu_ticks "${!p}")
	echo "$face $mode $((t1 - t0)) $rps" >>"$work/results"
}

for face in grpc rest; do
	for b in $(seq "$BATCHES"); do
		echo "$face batch $b/$BATCHES" >&2
		if [ $((b % 2)) = 1 ]; then batch "$face" on; batch "$face" off; else batch "$face" off; batch "$face" on; fi
	done
done

echo
echo "tokengate-demo under load: $N requests per face and server in $BATCHES alternating batches, C=$C callers, $(nproc) cores${server_cpu:+, servers pinned to core 0 and load tool to core 1}"
python3 - "$work/results" "$N" "$clk" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
n, clk = int(sys.argv[2]), int(sys.argv[3])
print(f"{'face':5} {'auth':4} {'CPU µs/req':>11} {'req/s (median)':>15}")
cpu = {}
for face in ("grpc", "rest"):
    for mode in ("off", "on"):
        sel = [r for r in rows if r[0] == face and r[1] == mode]
        cpu[face, mode] = sum(int(r[2]) for r in sel) / clk / n * 1e6
        print(f"{face:5} {mode:4} {cpu[face, mode]:11.2f} {st.median(float(r[3]) for r in sel):15.0f}")
for face in ("grpc", "rest"):
    print(f"{face}: CPU per request, auth on / off = {cpu[face, 'on'] / cpu[face, 'off']:.3f}")
PY

if [ "$FLOOD" -gt 0 ]; then
	start_demo flood "$secret"
	TOKENS_SECRET=$secret "$work/flood" -addr "$grpc_flood" -n 2000 -c "$C" >/dev/null # warm up
	before=$(rss_kib "$pid_flood")
	TOKENS_SECRET=$secret timeout 600 "${load_cpu[@]}" "$work/flood" -addr "$grpc_flood" -n "$FLOOD" -c "$C"
	after=$(rss_kib "$pid_flood")
	echo "memory: RSS $((before / 1024)) MiB before, $((after / 1024)) MiB after $FLOOD distinct tokens (+$(((after - before) / 1024)) MiB)"
fi
