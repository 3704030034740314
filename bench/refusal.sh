#!/usr/bin/env bash
# bench/refusal.sh — what a refused call costs the demo server (issue 15,
# "refuse before reading").
#
#   bash bench/refusal.sh            # all four parts, about 12 minutes
#   bash bench/refusal.sh cpu        # 1. CPU per refused call vs. per accepted call
#   bash bench/refusal.sh window     # 2. gRPC's flow-control floor, and what the windows change
#   bash bench/refusal.sh flood      # 3. valid callers while unauthenticated 1 MiB calls flood in
#   bash bench/refusal.sh floor      # 4. the demo's refusals against the floor any refusal pays (gRPC and REST)
#   bash bench/refusal.sh alone      # 5. part 1's ratio with one demo, each load alone in turn (not in "all")
#   BATCHES=16 bash bench/refusal.sh cpu   # more batches, narrower intervals
#   DEMO_ARGS="-grpc-window 65535 -grpc-conn-window 65535" bash bench/refusal.sh cpu   # the demo with fixed gRPC windows
#
# The set-up is bench/load.sh's (bench/lib.sh): servers pinned to core 0,
# load tools to core 1, a server's CPU read from /proc/PID/task/*/sched
# around each batch, bytes it read from /proc/PID/io (rchar counts socket
# reads). Accepted calls come from ghz and hey as in load.sh ({"message":"hi"},
# 50 callers, ghz on 4 connections); refused calls, and every call of part 2,
# from bench/refuse, which sends a pre-marshalled request (gRPC, raw codec) or
# a pre-built raw HTTP/1.1 request (REST) so that the client stays cheap
# (see its doc comment).
#
# What is checked first and printed: whether the demo installs the gRPC tap
# (grep InTapHandle cmd/tokengate-demo/main.go), and whether its REST face
# refuses a 1 MiB POST /v1/echo without a token before reading the body: curl
# sends "Expect: 100-continue" and waits for the server; Go's server sends
# "100 Continue" only when the handler reads the body, so a server that
# refuses first answers 401 with curl's size_upload 0, and one that reads
# first gets the whole body (size_upload 1048576) and then answers.
#
# 1. cpu: two demos with auth on, started alike. In each batch one receives
#    refused calls (1 MiB body; no token, or a token signed with another
#    secret) from bench/refuse while the other receives accepted calls
#    from ghz or hey, at the same time; the roles swap every batch and the
#    start order alternates, so neither server nor order favours a side.
#    The accepted tool sends a fixed count (every answer must be OK/200, as
#    in load.sh); the refusing side runs until that tool ends (-stop-file)
#    and every answer must be Unauthenticated/401. Per-call CPU is the
#    server's CPU over the calls it answered; the ratio refused/accepted
#    comes with a bootstrap 95 % CI over batches, as in load.sh. REST
#    refused calls are counted from the 401s read; a call whose connection
#    died before any answer is counted as "cut" and still divides the CPU
#    (it was attempted); the count is printed.
# 2. window: bench/windowserver (gRPC only, the demo's auth wiring, no logs
#    or gateway) twice side by side: grpc-go's default windows (64 KiB,
#    grown by BDP estimation) and InitialWindowSize = InitialConnWindowSize
#    = 65535 (static: no BDP; WINDOW and CONN_WINDOW change them). Both get the same load at once, for WDUR
#    seconds per batch: refused 1 MiB calls at 50 callers on 4 connections
#    and at 1 caller on 1 connection, accepted {"message":"hi"} calls, and
#    accepted 1 MiB calls (echoed back); with and without a 2 ms delay on
#    the answers (bench/refuse -delay: loopback answers before a client has
#    sent much, a real link does not). Printed: bytes the server read per
#    call, the windows it advertised (bench/refuse -probe), CPU per call,
#    calls/s, and the static/default CPU ratio.
# 3. flood: one demo. Valid callers (ghz or hey, 50, a fixed count) alone,
#    and again while bench/refuse floods the same server with
#    unauthenticated 1 MiB calls at 50 callers; rounds alternate the order.
#    Printed: valid throughput with flood / without, failed valid calls
#    (must be 0), refused calls/s, and the CPU of the server and of both
#    client processes. Both clients share core 1, so with the flooder at
#    the same priority the valid tool loses half its core whatever the
#    server does; the rounds are run again with the flooder at nice 19,
#    where the valid tool keeps its core and the flooder gets what is left
#    (a lighter flood, but a drop that is the server's).
# 4. floor: the demo and bench/windowserver -refuse-all (a tap that refuses
#    every call without looking at it: what a refusal at the transport
#    costs grpc-go whoever decides it), both with the same windows
#    (grpc-go's defaults, or those DEMO_ARGS gives the demo), under the same
#    refused load at once (1 MiB messages; no token, a forged token; 50
#    callers on 4 connections and 1 on 1; answers delayed 0 and 2 ms), then
#    REST: the demo's gateway against the windowserver's net/http answering
#    401 without reading the body (-http-addr), 50 callers, no token and a
#    forged one. WBATCHES x WDUR s each. Printed: CPU per refused call, KiB
#    read per call, and demo/floor with a bootstrap 95 % CI over batches.
# 5. alone: part 1's ratio measured another way: one demo, and in each batch
#    N_GRPC/N_REST accepted calls and then ALONE_REFUSED refused ones (the
#    other way round every other batch), each load alone on it, so that
#    neither pays for the other's use of the core (in part 1 two servers
#    share core 0, which slows accepted calls more than refusals, whose
#    cost is mostly the kernel's connection work on REST). Printed: CPU per
#    call of each, refused/accepted with a bootstrap 95 % CI over batches.
#
# Everything is on 127.0.0.1, bounded (counts, durations, a timeout on every
# tool) and stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh

PART=${1:-all}
C=${C:-50}                  # concurrent callers of every load tool
SIZE=${SIZE:-1048576}       # refused calls' body: the marshalled message (gRPC) or the JSON (REST)
BATCHES=${BATCHES:-8}       # parts 1, 5: batches per case (roles swap every batch)
FACES=${FACES:-"grpc rest"} # parts 1, 5: the faces measured
N_GRPC=${N_GRPC:-5000}      # parts 1, 5: accepted gRPC calls per batch (ghz gets ~700/s beside the flooder)
N_REST=${N_REST:-6000}      # parts 1, 5: accepted REST calls per batch
WBATCHES=${WBATCHES:-3}     # part 2: batches per load
WDUR=${WDUR:-3}             # part 2: seconds per batch
ROUNDS=${ROUNDS:-3}         # part 3: rounds of (no flood, flood)
FLOOD_NICES=${FLOOD_NICES:-"0 19"} # part 3: the flooder's nice levels, one set of rounds each
FN_GRPC=${FN_GRPC:-15000}   # part 3: valid gRPC calls per run
FN_REST=${FN_REST:-15000}   # part 3: valid REST calls per run
DEMO_ARGS=${DEMO_ARGS:-}    # parts 1, 3, 4, 5: more flags for the demo, e.g. "-grpc-window 65535 -grpc-conn-window 65535"
WINDOW=${WINDOW:-65535}     # part 2: the static server's InitialWindowSize
CONN_WINDOW=${CONN_WINDOW:-65535} # part 2: and its InitialConnWindowSize
ALONE_REFUSED=${ALONE_REFUSED:-4000} # part 5: refused calls per batch
case $PART in all | cpu | window | flood | floor | alone) ;; *)
	echo "usage: bash bench/refusal.sh [all|cpu|window|flood|floor|alone]" >&2
	exit 2
	;;
esac

build_all
secret=$(new_secret)
token=$(TOKENS_SECRET=$secret "$work/create_token" -u bench -d 120)
export TOKENS_SECRET=$secret # bench/refuse -auth valid signs with it

# ghz_n N ADDR OUT: N accepted unary calls; OUT gets "ok failed rps".
ghz_n() {
	local n=$1 addr=$2 out=$3
	timeout 300 "${load_cpu[@]}" "$work/bin/ghz" --insecure --proto proto/tokengate/v1/echo.proto --import-paths proto \
		--call tokengate.v1.EchoService.UnaryEcho -d '{"message":"hi"}' \
		-m "{\"authorization\":\"Bearer $token\"}" -n "$n" -c "$C" --connections 4 \
		--format json -o "$out.json" "$addr"
	python3 - "$out.json" >"$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
ok = codes.get("OK", 0)
print(ok, sum(codes.values()) - ok, f"{r['rps']:.1f}")
PY
}

# hey_n N ADDR OUT: N accepted POST /v1/echo; OUT gets "ok failed rps"
# (failed: any other status, or an error hey counted).
hey_n() {
	local n=$1 addr=$2 out=$3
	timeout 300 "${load_cpu[@]}" "$work/bin/hey" -n "$n" -c "$C" -m POST -T application/json -d '{"message":"hi"}' \
		-H "Authorization: Bearer $token" "http://$addr/v1/echo" >"$out.txt"
	python3 - "$out.txt" "$n" >"$out" <<'PY'
import re, sys
t = open(sys.argv[1]).read(); n = int(sys.argv[2])
ok = sum(int(m) for m in re.findall(r"\[200\]\s+(\d+) responses", t))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(ok, n - ok, f"{rps:.1f}")
PY
}

# accepted FACE N ADDR OUT
accepted() { if [ "$1" = grpc ]; then ghz_n "$2" "$3" "$4"; else hey_n "$2" "$3" "$4"; fi; }

# refuser FACE AUTH ADDR OUT [ARGS...]: bench/refuse until $work/stop exists.
refuser() {
	local face=$1 auth=$2 addr=$3 out=$4
	shift 4
	nice -n "${nice_level:-0}" timeout 300 "${load_cpu[@]}" "$work/refuse" -face "$face" -auth "$auth" -addr "$addr" -size "$SIZE" -c "$C" \
		-d 280s -stop-file "$work/stop" "$@" >"$out"
}

json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, r))' "$@"; }

# ---------------------------------------------------------------- checks
echo
tap=no
if grep -q 'InTapHandle' cmd/tokengate-demo/main.go; then tap=yes; fi
echo "demo at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- cmd gateway interceptors token wire || echo ' with uncommitted changes'); $(nproc) cores"
echo "demo installs the gRPC tap (grpc.InTapHandle in cmd/tokengate-demo/main.go): $tap"
start_demo check "$secret"
{
	printf '{"message":"'
	head -c $((SIZE - 14)) /dev/zero | tr '\0' x
	printf '"}'
} >"$work/body.json"
read -r code upload secs < <(timeout 30 curl -sS -o /dev/null -H 'Expect: 100-continue' --expect100-timeout 10 \
	-H 'Content-Type: application/json' --data-binary @"$work/body.json" \
	-w '%{http_code} %{size_upload} %{time_total}\n' "http://$http_check/v1/echo")
if [ "$code" = 401 ] && [ "$upload" -lt "$SIZE" ]; then
	rest_behaviour="refuses before reading the body"
else
	rest_behaviour="reads the body before refusing"
fi
echo "REST: POST /v1/echo, $SIZE-byte body, no token: HTTP $code after ${secs}s, curl sent $upload body bytes: $rest_behaviour"
stop_pid "$pid_check"

# ---------------------------------------------------------------- 1. cpu
part_cpu() {
	# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
	start_demo a "$secret" $DEMO_ARGS
	# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
	start_demo b "$secret" $DEMO_ARGS
	# Warm up both faces of both servers (connections, caches, the tools).
	for s in a b; do
		g="grpc_$s" h="http_$s"
		ghz_n 3000 "${!g}" "$work/warm"
		hey_n 3000 "${!h}" "$work/warm"
		rm -f "$work/stop"
		(sleep 1 && touch "$work/stop") &
		refuser grpc none "${!g}" "$work/warm.json"
		wait $!
		rm -f "$work/stop"
		(sleep 1 && touch "$work/stop") &
		refuser rest none "${!h}" "$work/warm.json"
		wait $!
	done
	: >"$work/cpu.results"
	for face in $FACES; do
		for auth in none forged; do
			for b in $(seq "$BATCHES"); do
				echo "cpu: $face, refused with auth=$auth, batch $b/$BATCHES" >&2
				cpu_batch "$face" "$auth" "$b"
			done
		done
	done
	stop_pid "$pid_a"
	stop_pid "$pid_b"
	[ -z "${RESULTS:-}" ] || cp "$work/cpu.results" "$RESULTS.cpu"
	echo
	echo "1. CPU per refused call ($SIZE-byte body) vs. per accepted call ({\"message\":\"hi\"}), two demos${DEMO_ARGS:+ ($DEMO_ARGS)} loaded at once, $BATCHES batches per case, C=$C per tool${server_cpu:+, servers on core 0, tools on core 1}"
	echo "   gRPC tap installed: $tap; REST: $rest_behaviour"
	python3 - "$work/cpu.results" <<'PY'
import random, statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
# face auth batch ref_cpu ref_calls ref_cut ref_rchar acc_cpu acc_calls acc_rchar ref_wall acc_wall ref_client_cpu acc_client_cpu
rng = random.Random(1)
print(f"   {'face':4} {'refused':7} {'µs/refused':>10} {'µs/accepted':>11} {'ratio (95% CI)':>22} {'median':>6} {'KiB read/refused':>16} {'B read/accepted':>15} {'refused/s':>9} {'accepted/s':>10} {'cut':>4} {'alone':>6}")
for face in sorted({r[0] for r in rows}, key=["grpc", "rest"].index):
    for auth in ("none", "forged"):
        sel = [r for r in rows if r[0] == face and r[1] == auth]
        if not sel:
            continue
        p = [(int(r[3]), int(r[4]) + int(r[5]), int(r[7]), int(r[8])) for r in sel]
        ratio = lambda ps: (sum(a for a, *_ in ps) / sum(b for _, b, *_ in ps)) / (sum(c for *_, c, _ in ps) / sum(d for *_, d in ps))
        boots = sorted(ratio(rng.choices(p, k=len(p))) for _ in range(5000))
        ref_us = sum(x[0] for x in p) / sum(x[1] for x in p) / 1e3
        acc_us = sum(x[2] for x in p) / sum(x[3] for x in p) / 1e3
        med = st.median((a / b) / (c / d) for a, b, c, d in p)
        kib = sum(int(r[6]) for r in sel) / sum(int(r[4]) + int(r[5]) for r in sel) / 1024
        accb = sum(int(r[9]) for r in sel) / sum(int(r[8]) for r in sel)
        rate = sum(int(r[4]) for r in sel) / sum(float(r[10]) for r in sel)
        arate = sum(int(r[8]) for r in sel) / sum(float(r[11]) for r in sel)
        cut = sum(int(r[5]) for r in sel)
        # Time the refusing side ran while the accepted tool did not.
        alone = st.mean(max(float(r[10]) - float(r[11]), 0) / float(r[10]) for r in sel)
        print(f"   {face:4} {auth:7} {ref_us:10.1f} {acc_us:11.2f} {ratio(p):8.2f} ({boots[124]:.2f}-{boots[4874]:.2f}) {med:6.2f} {kib:16.1f} {accb:15.0f} {rate:9.0f} {arate:10.0f} {cut:4d} {alone:6.1%}")
print("   (ratio: CPU per refused call / CPU per accepted call, the accepted ones on the other server in the same batches;")
print("    alone: share of the refusing run during which the accepted tool was not running; cut: REST calls whose connection")
print("    died with no answer, counted as refused calls in µs/refused)")
PY
}

# cpu_batch FACE AUTH B: one batch; appends a line to cpu.results.
cpu_batch() {
	local face=$1 auth=$2 b=$3 ref acc n addr_ref addr_acc rc0 ac0 rr0 ar0 t0 t1 fl
	ref=a acc=b
	if [ $((b % 2)) = 0 ]; then ref=b acc=a; fi
	n=$N_GRPC
	[ "$face" = rest ] && n=$N_REST
	if [ "$face" = grpc ]; then addr_ref=grpc_$ref addr_acc=grpc_$acc; else addr_ref=http_$ref addr_acc=http_$acc; fi
	local pr=pid_$ref pa=pid_$acc
	rm -f "$work/stop"
	rc0=$(cpu_ns "${!pr}") ac0=$(cpu_ns "${!pa}") rr0=$(rchar "${!pr}") ar0=$(rchar "${!pa}")
	if [ $((b % 4)) -lt 2 ]; then # refusing side first
		with_cpu "$work/ref.cpu" refuser "$face" "$auth" "${!addr_ref}" "$work/ref.json" &
		fl=$!
		t0=$(now_ns)
		with_cpu "$work/acc.cpu" accepted "$face" "$n" "${!addr_acc}" "$work/acc"
		t1=$(now_ns)
	else # accepted side first
		t0=$(now_ns)
		with_cpu "$work/acc.cpu" accepted "$face" "$n" "${!addr_acc}" "$work/acc" &
		local ap=$!
		with_cpu "$work/ref.cpu" refuser "$face" "$auth" "${!addr_ref}" "$work/ref.json" &
		fl=$!
		wait "$ap"
		t1=$(now_ns)
	fi
	touch "$work/stop"
	if ! wait "$fl"; then
		cat "$work/ref.json" >&2
		echo "refused side: not every answer was Unauthenticated/401" >&2
		exit 1
	fi
	local rc1 ac1 rr1 ar1 ok failed
	rc1=$(cpu_ns "${!pr}") ac1=$(cpu_ns "${!pa}") rr1=$(rchar "${!pr}") ar1=$(rchar "${!pa}")
	read -r ok failed _ <"$work/acc"
	if [ "$failed" != 0 ]; then
		echo "accepted side: $failed answers were not OK/200" >&2
		exit 1
	fi
	echo "$face $auth $b $((rc1 - rc0)) $(json "$work/ref.json" 'answered') $(json "$work/ref.json" 'cut') $((rr1 - rr0))" \
		"$((ac1 - ac0)) $ok $((ar1 - ar0)) $(json "$work/ref.json" 'elapsed_s') $(python3 -c "print(($t1 - $t0) / 1e9)")" \
		"$(cat "$work/ref.cpu") $(cat "$work/acc.cpu")" >>"$work/cpu.results"
}

# ---------------------------------------------------------------- 2. window
part_window() {
	start_windowserver dflt "$secret"
	start_windowserver static "$secret" -window "$WINDOW" -conn-window "$CONN_WINDOW"
	: >"$work/win.results"
	# load name: bench/refuse arguments
	local loads=(
		"refused-c50 -auth none -size $SIZE -c 50 -conns 4 -probe"
		"refused-c1 -auth none -size $SIZE -c 1 -conns 1 -probe"
		"accepted-hi -auth valid -size 4 -c 50 -conns 4"
		"accepted-1MiB -auth valid -size $SIZE -c 4 -conns 1"
	)
	for delay in 0s 2ms; do
		for l in "${loads[@]}"; do
			read -r name args <<<"$l"
			for b in $(seq "$WBATCHES"); do
				echo "window: $name, answers delayed $delay, batch $b/$WBATCHES" >&2
				# shellcheck disable=SC2086 # args is a list of flags
				window_batch "$name" "$delay" "$b" $args
			done
		done
	done
	stop_pid "$pid_dflt"
	stop_pid "$pid_static"
	[ -z "${RESULTS:-}" ] || cp "$work/win.results" "$RESULTS.window"
	echo
	echo "2. gRPC flow-control floor: bench/windowserver with grpc-go's default windows (BDP) and with InitialWindowSize $WINDOW and InitialConnWindowSize $CONN_WINDOW (static), side by side, $WBATCHES x ${WDUR}s per load"
	python3 bench/pair_table.py "$work/win.results" dflt static static "static/default CPU per call"
}

# window_batch LOAD DELAY B ARGS...: servers $wa and $wb (default: the two
# window servers), the same load at once for WDUR seconds; appends a line
# per server to $work/$wres (default win.results).
window_batch() {
	local load=$1 delay=$2 b=$3 a=${wa:-dflt} z=${wb:-static} res="$work/${wres:-win.results}"
	local face=${wface:-grpc} at=grpc
	[ "$face" = grpc ] || at=http
	shift 3
	local ca cz ra rz first=$a second=$z
	if [ $((b % 2)) = 0 ]; then first=$z second=$a; fi
	local pa=pid_$a pz=pid_$z
	ca=$(cpu_ns "${!pa}") cz=$(cpu_ns "${!pz}") ra=$(rchar "${!pa}") rz=$(rchar "${!pz}")
	local g1=${at}_$first g2=${at}_$second
	timeout 120 "${load_cpu[@]}" "$work/refuse" -face "$face" -addr "${!g1}" -d "${WDUR}s" -delay "$delay" "$@" >"$work/w-$first.json" &
	local p1=$!
	timeout 120 "${load_cpu[@]}" "$work/refuse" -face "$face" -addr "${!g2}" -d "${WDUR}s" -delay "$delay" "$@" >"$work/w-$second.json" &
	local p2=$!
	wait "$p1" || { cat "$work/w-$first.json" >&2; exit 1; }
	wait "$p2" || { cat "$work/w-$second.json" >&2; exit 1; }
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$load" "$delay" "$b" "$a" $(($(cpu_ns "${!pa}") - ca)) $(($(rchar "${!pa}") - ra)) "$(cat "$work/w-$a.json")" >>"$res"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$load" "$delay" "$b" "$z" $(($(cpu_ns "${!pz}") - cz)) $(($(rchar "${!pz}") - rz)) "$(cat "$work/w-$z.json")" >>"$res"
}

# ---------------------------------------------------------------- 4. floor
# part_floor: the demo (tokengate's tap, decision hooks, logs: everything
# the demo does for a refused call) and bench/windowserver -refuse-all (a
# tap that refuses every call without looking at it: what any refusal at
# the transport costs grpc-go; for REST, net/http answering 401 unread),
# with the same windows, side by side under the same refused load.
part_floor() {
	# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
	start_demo tg "$secret" $DEMO_ARGS
	# The floor gets the demo's windows, if DEMO_ARGS sets them, written
	# "-grpc-window N" and "-grpc-conn-window N" (any other spelling, or the
	# demo's environment variables, would leave the floor on other windows).
	if [ -n "${GRPC_WINDOW_SIZE:-}${GRPC_CONN_WINDOW_SIZE:-}" ]; then
		echo "floor: set the demo's windows in DEMO_ARGS (-grpc-window N -grpc-conn-window N), not in its environment" >&2
		exit 2
	fi
	local floor_args
	# shellcheck disable=SC2046 # unquoted on purpose: no flag, no word
	floor_args=$(echo $(echo " $DEMO_ARGS " | sed -n 's/.* -grpc-window \([0-9]*\) .*/-window \1/p') $(echo " $DEMO_ARGS " | sed -n 's/.* -grpc-conn-window \([0-9]*\) .*/-conn-window \1/p'))
	if [[ "$DEMO_ARGS" == *window* ]] && [ "$(echo "$floor_args" | wc -w)" != "$(echo "$DEMO_ARGS" | grep -o 'window' | wc -l | awk '{print $1 * 2}')" ]; then
		echo "floor: could not read the windows in DEMO_ARGS ($DEMO_ARGS); write them -grpc-window N -grpc-conn-window N" >&2
		exit 2
	fi
	# shellcheck disable=SC2086 # floor_args is a list of flags
	start_windowserver floor "$secret" -refuse-all -http-addr 127.0.0.1:0 $floor_args
	: >"$work/floor.results"
	local loads=(
		"none-c50 -auth none -size $SIZE -c 50 -conns 4"
		"forged-c50 -auth forged -size $SIZE -c 50 -conns 4"
		"none-c1 -auth none -size $SIZE -c 1 -conns 1"
	)
	for delay in 0s 2ms; do
		for l in "${loads[@]}"; do
			read -r name args <<<"$l"
			for b in $(seq "$WBATCHES"); do
				echo "floor: $name, answers delayed $delay, batch $b/$WBATCHES" >&2
				# shellcheck disable=SC2086 # args is a list of flags
				wa=tg wb=floor wres=floor.results window_batch "$name" "$delay" "$b" $args
			done
		done
	done
	# REST: the demo's gateway against net/http answering 401 unread.
	for l in "rest-none-c50 -auth none" "rest-forged-c50 -auth forged"; do
		read -r name args <<<"$l"
		for b in $(seq "$WBATCHES"); do
			echo "floor: $name, batch $b/$WBATCHES" >&2
			# shellcheck disable=SC2086 # args is a list of flags
			wface=rest wa=tg wb=floor wres=floor.results window_batch "$name" 0s "$b" $args -size "$SIZE" -c 50
		done
	done
	stop_pid "$pid_tg"
	stop_pid "$pid_floor"
	[ -z "${RESULTS:-}" ] || cp "$work/floor.results" "$RESULTS.floor"
	echo
	echo "4. Refusal against its floor: the demo${DEMO_ARGS:+ ($DEMO_ARGS)} and bench/windowserver -refuse-all${floor_args:+ ($floor_args)}, side by side, $WBATCHES x ${WDUR}s per load (refused calls, $SIZE-byte messages; rest-*: the demo's gateway against net/http answering 401 without reading, on port http=)"
	python3 bench/pair_table.py "$work/floor.results" tg=demo floor tg "demo/floor CPU per call"
}

# ---------------------------------------------------------------- 3. flood
part_flood() {
	# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
	start_demo f "$secret" $DEMO_ARGS
	ghz_n 3000 "$grpc_f" "$work/warm"
	hey_n 3000 "$http_f" "$work/warm"
	: >"$work/flood.results"
	for face in grpc rest; do
		local n=$FN_GRPC addr=$grpc_f
		if [ "$face" = rest ]; then n=$FN_REST addr=$http_f; fi
		for nice_level in $FLOOD_NICES; do
			for r in $(seq "$ROUNDS"); do
				local order="none flood"
				if [ $((r % 2)) = 0 ]; then order="flood none"; fi
				for mode in $order; do
					echo "flood: $face, flooder nice $nice_level, round $r/$ROUNDS, $mode" >&2
					flood_run "$face" "$mode" "$n" "$addr"
				done
			done
		done
	done
	stop_pid "$pid_f"
	[ -z "${RESULTS:-}" ] || cp "$work/flood.results" "$RESULTS.flood"
	echo
	echo "3. valid callers (C=$C, {\"message\":\"hi\"}) on one demo${DEMO_ARGS:+ ($DEMO_ARGS)}, alone and while $C callers flood it with unauthenticated $SIZE-byte calls, $ROUNDS rounds${server_cpu:+; server on core 0, valid tool and flooder both on core 1}"
	python3 - "$work/flood.results" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
# face/nice mode ok failed rps wall server_cpu_ns tool_cpu_s flood_rate flood_cut flood_core_share
for key in dict.fromkeys(r[0] for r in rows):
    none = [r for r in rows if r[0] == key and r[1] == "none"]
    fl = [r for r in rows if r[0] == key and r[1] == "flood"]
    if not none or not fl:
        continue
    rn, rf = [float(r[4]) for r in none], [float(r[4]) for r in fl]
    ratios = [f / n for n, f in zip(rn, rf)]
    failed = sum(int(r[3]) for r in none + fl)
    srv = lambda rs: sum(int(r[6]) for r in rs) / 1e9 / sum(float(r[5]) for r in rs)
    tool = lambda rs: sum(float(r[7]) for r in rs) / sum(float(r[5]) for r in rs)
    print(f"   {key.replace('/', ', flooder ')}: valid calls/s {st.median(rn):.0f} alone, {st.median(rf):.0f} under flood: "
          f"ratio {st.mean(ratios):.2f} (rounds {', '.join(f'{x:.2f}' for x in ratios)}); failed valid calls {failed}; "
          f"refused calls {st.mean(float(r[8]) for r in fl):.0f}/s ({sum(int(r[9]) for r in fl)} cut)")
    print(f"      CPU, share of a core: server {srv(none):.0%} alone, {srv(fl):.0%} under flood; "
          f"valid tool {tool(none):.0%} alone, {tool(fl):.0%} under flood; flooder {st.mean(float(r[10]) for r in fl):.0%}")
print("   (nice=0: flooder and valid tool share core 1 as equals, so much of the drop is the valid tool losing its core;")
print("    nice=19: the valid tool has core 1 first and the flooder uses what is left, so the drop is nearer the server's own)")
PY
}

# flood_run FACE MODE N ADDR: one run of N valid calls, flooded or not.
flood_run() {
	local face=$1 mode=$2 n=$3 addr=$4 c0 c1 t0 t1 fl="" ok failed rps
	rm -f "$work/stop"
	if [ "$mode" = flood ]; then
		with_cpu "$work/fl.cpu" refuser "$face" none "$addr" "$work/fl.json" &
		fl=$!
		sleep 0.5 # the flood is under way before the valid callers start
	fi
	t0=$(now_ns)
	c0=$(cpu_ns "$pid_f")
	# Failed valid calls are counted, not fatal: they are the result.
	with_cpu "$work/tool.cpu" accepted "$face" "$n" "$addr" "$work/acc" || true
	c1=$(cpu_ns "$pid_f")
	t1=$(now_ns)
	# The flooder's figures are over its whole run (half a second longer):
	# its rate and its share of a core, not counts.
	local frate=0 fcut=0 fcpu=0
	if [ -n "$fl" ]; then
		touch "$work/stop"
		wait "$fl" || { cat "$work/fl.json" >&2; echo "flooder: not every answer was Unauthenticated/401" >&2; exit 1; }
		frate=$(json "$work/fl.json" '(answered + cut) / elapsed_s') fcut=$(json "$work/fl.json" cut)
		fcpu=$(python3 -c "print($(cat "$work/fl.cpu") / $(json "$work/fl.json" elapsed_s))")
	fi
	if [ -s "$work/acc" ]; then read -r ok failed rps <"$work/acc"; else ok=0 failed=$n rps=0; fi
	rm -f "$work/acc"
	echo "$face/nice=$nice_level $mode $ok $failed $rps $(python3 -c "print(($t1 - $t0) / 1e9)") $((c1 - c0)) $(cat "$work/tool.cpu")" \
		"$frate $fcut $fcpu" >>"$work/flood.results"
}

# ---------------------------------------------------------------- 5. alone
part_alone() {
	# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
	start_demo a "$secret" $DEMO_ARGS
	ghz_n 3000 "$grpc_a" "$work/warm"
	hey_n 3000 "$http_a" "$work/warm"
	: >"$work/alone.results"
	for face in $FACES; do
		for auth in none forged; do
			for b in $(seq "$BATCHES"); do
				echo "alone: $face, refused with auth=$auth, batch $b/$BATCHES" >&2
				alone_batch "$face" "$auth" "$b"
			done
		done
	done
	stop_pid "$pid_a"
	[ -z "${RESULTS:-}" ] || cp "$work/alone.results" "$RESULTS.alone"
	echo
	echo "5. CPU per refused call ($SIZE-byte body) vs. per accepted call ({\"message\":\"hi\"}), one demo${DEMO_ARGS:+ ($DEMO_ARGS)}, each load alone in turn, $BATCHES batches per case, C=$C per tool${server_cpu:+, server on core 0, tools on core 1}"
	python3 - "$work/alone.results" <<'PY'
import random, statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
# face auth batch ref_cpu_ns ref_calls acc_cpu_ns acc_calls
rng = random.Random(1)
print(f"   {'face':4} {'refused':7} {'µs/refused':>10} {'µs/accepted':>11} {'ratio (95% CI)':>22} {'median':>6}")
for face in sorted({r[0] for r in rows}, key=["grpc", "rest"].index):
    for auth in ("none", "forged"):
        p = [tuple(int(x) for x in r[3:7]) for r in rows if r[0] == face and r[1] == auth]
        if not p:
            continue
        ratio = lambda ps: (sum(a for a, *_ in ps) / sum(b for _, b, *_ in ps)) / (sum(c for *_, c, _ in ps) / sum(d for *_, d in ps))
        boots = sorted(ratio(rng.choices(p, k=len(p))) for _ in range(5000))
        ref_us = sum(x[0] for x in p) / sum(x[1] for x in p) / 1e3
        acc_us = sum(x[2] for x in p) / sum(x[3] for x in p) / 1e3
        med = st.median((a / b) / (c / d) for a, b, c, d in p)
        print(f"   {face:4} {auth:7} {ref_us:10.1f} {acc_us:11.2f} {ratio(p):8.2f} ({boots[124]:.2f}-{boots[4874]:.2f}) {med:6.2f}")
print("   (ratio: CPU per refused call / CPU per accepted call of the same server, each measured while it was the only load)")
PY
}

# alone_batch FACE AUTH B: the accepted load, then the refused one (the
# other way round in every other batch), each alone on demo a; appends a
# line to alone.results.
alone_batch() {
	local face=$1 auth=$2 b=$3 n addr acc_ns ref_ns ok failed refused
	n=$N_GRPC
	[ "$face" = rest ] && n=$N_REST
	addr=$grpc_a
	[ "$face" = rest ] && addr=$http_a
	alone_accepted() {
		local c0 c1
		c0=$(cpu_ns "$pid_a")
		accepted "$face" "$n" "$addr" "$work/acc"
		c1=$(cpu_ns "$pid_a")
		acc_ns=$((c1 - c0))
		read -r ok failed _ <"$work/acc"
		if [ "$failed" != 0 ]; then
			echo "accepted: $failed answers were not OK/200" >&2
			exit 1
		fi
	}
	alone_refused() {
		local c0 c1
		c0=$(cpu_ns "$pid_a")
		if ! timeout 300 "${load_cpu[@]}" "$work/refuse" -face "$face" -auth "$auth" -addr "$addr" -size "$SIZE" -c "$C" \
			-n "$ALONE_REFUSED" -d 120s >"$work/ref.json"; then
			cat "$work/ref.json" >&2
			echo "refused: not every answer was Unauthenticated/401" >&2
			exit 1
		fi
		c1=$(cpu_ns "$pid_a")
		ref_ns=$((c1 - c0))
		refused=$(json "$work/ref.json" 'answered + cut')
	}
	if [ $((b % 2)) = 1 ]; then
		alone_accepted
		alone_refused
	else
		alone_refused
		alone_accepted
	fi
	echo "$face $auth $b $ref_ns $refused $acc_ns $ok" >>"$work/alone.results"
}

case $PART in
all) part_cpu; part_window; part_floor; part_flood ;;
cpu) part_cpu ;;
window) part_window ;;
flood) part_flood ;;
floor) part_floor ;;
alone) part_alone ;;
esac
