#!/usr/bin/env bash
# Lints the tokengate protos and regenerates the code made from them:
#   proto/tokengate/v1/*.pb.go, *_grpc.pb.go, *.pb.gw.go
#   proto/openapi/tokengate.swagger.json
#
# Usage:
#   proto/generate.sh          lint, then regenerate in place
#   proto/generate.sh --check  lint and regenerate into a temporary copy of
#                              the inputs; exit 1 (printing a diff --stat)
#                              if the result differs from proto/ as it is in
#                              the working tree. The working tree is left
#                              untouched, committed or not.
#
# All tools (buf and the protoc plugins) are pinned in tools/go.mod and run
# with `go tool -modfile=tools/go.mod`, which downloads and builds them on
# first use: only Go and the Go module proxy are needed, nothing from the
# buf schema registry.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=false
case "${1-}" in
"") ;;
--check) check=true ;;
-h | --help)
	sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: proto/generate.sh [--check]" >&2
	exit 2
	;;
esac

# remove_generated DIR deletes the generator outputs under DIR/proto, so that
# outputs of a proto that no longer exists do not linger.
remove_generated() {
	find "$1/proto" -type f \( -name '*.pb.go' -o -name '*.pb.gw.go' \
		-o -name '*.swagger.json' \) -delete
}

# generate DIR lints and regenerates in DIR, a copy of the repo root (or the
# root itself). buf.gen.yaml's plugin commands and options use paths relative
# to DIR.
generate() {
	(
		cd "$1"
		go tool -modfile=tools/go.mod buf lint
		remove_generated .
		go tool -modfile=tools/go.mod buf generate
	)
}

if ! $check; then
	generate .
	exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The inputs of generation. go.mod is only there because `go -modfile` needs
# a go.mod to find the module root; it is not read.
mkdir -p "$tmp/regenerated/tools" "$tmp/worktree"
cp buf.yaml buf.gen.yaml go.mod "$tmp/regenerated/"
cp tools/go.mod tools/go.sum "$tmp/regenerated/tools/"
cp -R proto "$tmp/regenerated/proto"
cp -R proto "$tmp/worktree/proto"

generate "$tmp/regenerated"

if diff -r "$tmp/worktree/proto" "$tmp/regenerated/proto" >"$tmp/diff" 2>&1; then
	echo "proto/generate.sh --check: generated code is up to date"
	exit 0
fi

echo "proto/generate.sh --check: generated code is out of date; run proto/generate.sh" >&2
(cd "$tmp" && git diff --no-index --stat worktree/proto regenerated/proto) >&2 || true
head -n 200 "$tmp/diff" >&2
exit 1
