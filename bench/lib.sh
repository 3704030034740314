# bench/lib.sh — shared by bench/refusal.sh and bench/profile.sh (sourced,
# not run). The same set-up as bench/load.sh: the tools it installs, demo
# processes on free loopback ports, servers pinned to core 0 and load tools
# to core 1, and a server's CPU time read from /proc/PID/task/*/sched.
#
# The caller sets -euo pipefail and cd's to the repository root first.

GHZ_VERSION=v0.120.0
HEY_VERSION=v0.1.4
PIN=${PIN:-1} # 1: servers on core 0, load tools on core 1

work=$(mktemp -d)
pids=()
cleanup() {
	# Only what this script started, by process id. A bench/refuse run
	# still going stops by itself once $work is gone (-stop-file), and ghz
	# and hey end on their counts or timeouts against the stopped servers.
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_cpu=() load_cpu=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	server_cpu=(taskset -c 0) load_cpu=(taskset -c 1)
fi
clk=$(getconf CLK_TCK)

# build_all: ghz and hey pinned as in load.sh, the demo and bench's tools.
build_all() {
	export GOBIN="$work/bin"
	echo "installing ghz $GHZ_VERSION and hey $HEY_VERSION, building the demo and bench tools..." >&2
	GOFLAGS= timeout 600 go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
	GOFLAGS= timeout 300 go install "github.com/rakyll/hey@$HEY_VERSION"
	timeout 300 go build -o "$work/demo" ./cmd/tokengate-demo
	timeout 300 go build -o "$work/refuse" ./bench/refuse
	timeout 300 go build -o "$work/windowserver" ./bench/windowserver
	timeout 300 go build -o "$work/create_token" ./cmd/create_token
}

new_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# wait_log LOG PATTERN: waits up to 10 s for PATTERN in LOG.
wait_log() {
	for _ in $(seq 100); do
		if grep -q "$2" "$1"; then return 0; fi
		sleep 0.1
	done
	cat "$1" >&2
	echo "timed out waiting for '$2' in $1" >&2
	return 1
}

# start_demo NAME SECRET [ARGS...]: a demo on free loopback ports; sets
# pid_NAME, grpc_NAME, http_NAME (and pprof_NAME with -pprof-addr).
start_demo() {
	local name=$1 secret=$2 log="$work/demo-$1.log" pid
	shift 2
	TOKENS_SECRET="$secret" "${server_cpu[@]}" "$work/demo" -grpc-addr 127.0.0.1:0 -http-addr 127.0.0.1:0 "$@" 2>"$log" &
	pid=$!
	pids+=("$pid")
	wait_log "$log" 'listening'
	printf -v "pid_$name" %s "$pid"
	printf -v "grpc_$name" %s "$(sed -n 's/.*listening.* grpc=\([^ ]*\).*/\1/p' "$log" | head -1)"
	printf -v "http_$name" %s "$(sed -n 's/.*listening.* http=\([^ ]*\).*/\1/p' "$log" | head -1)"
	printf -v "pprof_$name" %s "$(sed -n 's/.*serving pprof.* addr=\([^ ]*\).*/\1/p' "$log" | head -1)"
	local g="grpc_$name" h="http_$name"
	[ -n "${!g}" ] && [ -n "${!h}" ] || { cat "$log" >&2; exit 1; }
}

# start_windowserver NAME SECRET [ARGS...]: sets pid_NAME, grpc_NAME and
# http_NAME (empty unless it serves HTTP: -refuse-all -http-addr).
start_windowserver() {
	local name=$1 secret=$2 log="$work/ws-$1.log" pid
	shift 2
	TOKENS_SECRET="$secret" "${server_cpu[@]}" "$work/windowserver" -max-life 20m "$@" 2>"$log" &
	pid=$!
	pids+=("$pid")
	wait_log "$log" 'listening'
	printf -v "pid_$name" %s "$pid"
	printf -v "grpc_$name" %s "$(sed -n 's/.*grpc=\([^ ]*\).*/\1/p' "$log" | head -1)"
	printf -v "http_$name" %s "$(sed -n 's/.* http=\([^ ]*\).*/\1/p' "$log" | head -1)"
}

# stop_pid PID: stops one server this script started.
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# cpu_ns PID: CPU time in ns, summed over the live threads (as load.sh;
# /proc/PID/stat's 10 ms ticks are too coarse for a batch of seconds).
cpu_ns() {
	local ns
	ns=$(cat /proc/"$1"/task/*/sched 2>/dev/null | awk '/^se.sum_exec_runtime/ {s += $3} END {if (s > 0) printf "%.0f", s * 1e6}')
	if [ -n "$ns" ]; then echo "$ns"; else awk -v clk="$clk" '{printf "%.0f", ($14 + $15) / clk * 1e9}' "/proc/$1/stat"; fi
}

# rchar PID: bytes the process has read with read(2) and friends, sockets
# included (/proc/PID/io).
rchar() { awk '/^rchar/ {print $2}' "/proc/$1/io"; }

now_ns() { date +%s%N; }

# with_cpu OUT CMD...: runs CMD, and writes to OUT the CPU seconds it and
# its children used (this subshell's cutime+cstime once they are reaped).
with_cpu() {
	local out=$1
	shift
	(
		rc=0
		"$@" || rc=$?
		awk -v clk="$clk" '{printf "%.3f\n", ($16 + $17) / clk}' /proc/$BASHPID/stat >"$out"
		exit "$rc"
	)
}
