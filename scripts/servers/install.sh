#!/usr/bin/env bash
# Install a pinned test server binary into .tools/bin (or $ACQUIRE_TOOLS_BIN).
#
#   scripts/servers/install.sh versitygw         # S3 gateway over a directory
#   scripts/servers/install.sh fake-gcs-server   # GCS emulator
#
# Each is built from the Go module proxy with `go install` at a pinned
# version (see TOOLING.md). Skipped when the binary already exists; delete
# it to force a rebuild.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${ACQUIRE_TOOLS_BIN:-$repo/.tools/bin}"
go="${GO:-go}"

usage() {
	echo "usage: $0 versitygw|fake-gcs-server" >&2
	exit 2
}

[[ $# -eq 1 ]] || usage
name="$1"
case "$name" in
versitygw) pkg="github.com/versity/versitygw/cmd/versitygw@v1.8.0" ;;
fake-gcs-server) pkg="github.com/fsouza/fake-gcs-server@v1.56.1" ;;
*) usage ;;
esac

if [[ -x "$bin/$name" ]]; then
	echo "$name: already installed at $bin/$name"
	exit 0
fi

mkdir -p "$bin"
echo "$name: installing $pkg into $bin (a few minutes on 2 cores)"
# Build outside the repo so the main module's go.mod is neither read nor touched.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
GOBIN="$bin" "$go" install "$pkg"
echo "$name: installed $bin/$name"
