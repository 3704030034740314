#!/usr/bin/env bash
# bench/profile.sh — what authentication costs an allowed call, from CPU
# profiles of the demo under load.
#
#   bash bench/profile.sh              # 20 s per face, about 1.5 minutes
#   SECONDS_PER_FACE=10 bash bench/profile.sh
#   KEEP=/tmp/prof bash bench/profile.sh   # keep the profiles (KEEP/grpc.pprof, KEEP/rest.pprof)
#   PROFILES=/tmp/prof bash bench/profile.sh   # only analyse kept profiles (bench/profile_share.py)
#
# The demo runs with auth on and -pprof-addr on loopback, pinned to core 0.
# ghz -c 50 (gRPC UnaryEcho) and then hey -c 50 (REST POST /v1/echo), both
# {"message":"hi"} with one valid token, run on core 1 for
# SECONDS_PER_FACE + 4 s; one second in, /debug/pprof/profile?seconds=
# SECONDS_PER_FACE is fetched. (The tools run for a duration, so the calls in
# flight at the end are cut; that does not matter to a profile.)
#
# What "under tokengate's frames" means here. Each sample is a stack, leaf
# first. Two sets of frames:
#   auth    functions of tokengate's own packages: .../interceptors (with
#           LogDecisions' closure, the tap, the interceptors' AuthFunc),
#           .../interceptors/metrics (the decision hook), .../token,
#           .../gateway, .../wire; go-grpc-middleware's auth
#           interceptor, the wrapper tokengate installs around its AuthFunc;
#           and those packages' closures inlined into the demo's main, which
#           the compiler names after main (see AUTH_RE below).
#   passed  where tokengate hands the call on: the handler
#           (internal/demoservice) and generated code (proto/...: the
#           gRPC method handlers, grpc-gateway's routes), grpc-gateway
#           itself (the mux gateway.Wrap calls), and net/http's request body
#           and response writer as reached through tokengate's body and
#           challenge wrappers (main.(*statusRecorder) is the demo's).
# A sample is auth's if, walking from its leaf towards the root, the first
# frame in either set is an auth frame: the work is tokengate's own, or done
# for it by what it calls (grpc-go's metadata, allocation, hashing,
# Prometheus counters, slog). Work below a pass-through frame is the call's
# own, even when tokengate's frames are above it on the stack: the whole
# REST request runs under gateway.Wrap, the handler under the interceptor.
# Samples with no auth frame at all (grpc-go's transport, net/http, the
# runtime, GC) are not auth's either. The handler's own call to
# interceptors.UserFromContext is auth's (tokengate's frame is innermost):
# it is what tokengate costs a handler to learn its caller. Percentages are of all the process's
# samples. The script also prints pprof's own figure for "any tokengate
# frame on the stack" (-focus), the upper bound before the pass-through rule,
# and where the difference went.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh

SECS=${SECONDS_PER_FACE:-20}
C=${C:-50}

# The second alternative catches tokengate's closures inlined into the
# demo: the compiler names them after the function they were inlined into
# (main.newDemo.(*Gateway).Wrap.func21, main.newDemo.func3.(*Authenticator).
# UnaryServerInterceptor.UnaryServerInterceptor.3 for go-grpc-middleware's
# interceptor closure); no other type in the binary has those names.
AUTH_RE='^github\.com/tokengate/tokengate/(interceptors|token|gateway|wire)(/[a-z]+)?\.|^github\.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth\.|\.\(\*(Authenticator|Gateway)\)\.'
PASS_RE='^github\.com/tokengate/tokengate/(internal/demoservice|proto/)|^github\.com/grpc-ecosystem/grpc-gateway/|^net/http\.\(\*(body|expectContinueReader|response|chunkWriter)\)\.|^main\.\(\*statusRecorder\)\.'

# analyse FACE PROFILE: prints the shares (see the top of this file).
analyse() {
	local face=$1 prof=$2 focus
	go tool pprof -traces "$prof" >"$work/$face.traces" 2>/dev/null
	# pprof's own count of samples with any tokengate frame (the focus
	# regexp matches a frame anywhere on the stack; -nodefraction=0 so that
	# no node is dropped from the total).
	focus=$(go tool pprof -top -nodefraction=0 -nodecount=1000000 -focus="$AUTH_RE" "$prof" 2>/dev/null |
		sed -n 's/.*Showing nodes accounting for [^,]*, \([0-9.]*%\) of .*/\1/p' | head -1)
	python3 bench/profile_share.py "$work/$face.traces" "$face" "$AUTH_RE" "$PASS_RE" "${focus:-?}"
}

if [ -n "${PROFILES:-}" ]; then # only analyse profiles kept before (KEEP=...)
	for face in grpc rest; do analyse "$face" "$PROFILES/$face.pprof"; done
	exit 0
fi

build_all
secret=$(new_secret)
token=$(TOKENS_SECRET=$secret "$work/create_token" -u bench -d 120)
start_demo p "$secret" -pprof-addr 127.0.0.1:0
[ -n "$pprof_p" ] || { cat "$work/demo-p.log" >&2; exit 1; }
echo "demo at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- cmd gateway interceptors token wire || echo ' (with uncommitted changes)')," \
	"tap installed: $(grep -q InTapHandle cmd/tokengate-demo/main.go && echo yes || echo no)" >&2

# profile FACE: load FACE and fetch a profile to $work/FACE.pprof.
profile() {
	local face=$1 lp
	if [ "$face" = grpc ]; then
		timeout $((SECS + 30)) "${load_cpu[@]}" "$work/bin/ghz" --insecure --proto proto/tokengate/v1/echo.proto --import-paths proto \
			--call tokengate.v1.EchoService.UnaryEcho -d '{"message":"hi"}' \
			-m "{\"authorization\":\"Bearer $token\"}" -c "$C" --connections 4 -z "$((SECS + 4))s" \
			--format json -o "$work/ghz.json" "$grpc_p" &
	else
		timeout $((SECS + 30)) "${load_cpu[@]}" "$work/bin/hey" -c "$C" -z "$((SECS + 4))s" -m POST -T application/json \
			-d '{"message":"hi"}' -H "Authorization: Bearer $token" "http://$http_p/v1/echo" >"$work/hey.txt" &
	fi
	lp=$!
	sleep 1
	echo "profiling $face for ${SECS}s..." >&2
	timeout $((SECS + 20)) curl -sS -o "$work/$face.pprof" "http://$pprof_p/debug/pprof/profile?seconds=$SECS"
	wait "$lp" || true
	if [ "$face" = grpc ]; then
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  ghz: %.0f calls/s, answers %s" % (r["rps"], r.get("statusCodeDistribution")))' "$work/ghz.json" >&2
	else
		sed -n 's/^[[:space:]]*Requests\/sec:[[:space:]]*\([0-9.]*\).*/  hey: \1 calls\/s/p; /Status code distribution/,/^$/p' "$work/hey.txt" >&2
	fi
}

echo
echo "What auth costs an allowed call: share of the demo's CPU samples (C=$C, ${SECS}s profile per face${server_cpu:+, demo on core 0, load tool on core 1})"
for face in grpc rest; do
	profile "$face"
	[ -z "${KEEP:-}" ] || { mkdir -p "$KEEP" && cp "$work/$face.pprof" "$KEEP/"; }
	analyse "$face" "$work/$face.pprof"
done
