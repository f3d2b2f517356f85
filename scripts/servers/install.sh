#!/usr/bin/env bash
# Install a pinned test server binary into .tools/bin (or $ACQUIRE_TOOLS_BIN).
#
#   scripts/servers/install.sh versitygw         # S3 gateway over a directory
#   scripts/servers/install.sh fake-gcs-server   # GCS emulator
#   scripts/servers/install.sh azurite-blob      # Azure Blob emulator (Azurite)
#   scripts/servers/install.sh aws-lambda-rie    # Lambda runtime interface emulator
#
# The Go servers are built from the Go module proxy with `go install` at a
# pinned version (see docs/testing.md). Azurite is installed with `npm ci` from the
# committed scripts/servers/azurite/package-lock.json into .tools/azurite (or
# $ACQUIRE_TOOLS_BIN/../azurite), with a launcher at $bin/azurite-blob.
# Skipped when the binary already exists; delete it to force a rebuild.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${ACQUIRE_TOOLS_BIN:-$repo/.tools/bin}"
go="${GO:-go}"

usage() {
	echo "usage: $0 versitygw|fake-gcs-server|azurite-blob|aws-lambda-rie" >&2
	exit 2
}

[[ $# -eq 1 ]] || usage
name="$1"
case "$name" in
versitygw) pkg="github.com/versity/versitygw/cmd/versitygw@v1.8.0" ;;
fake-gcs-server) pkg="github.com/fsouza/fake-gcs-server@v1.56.1" ;;
azurite | azurite-blob) name="azurite-blob" pkg="" ;;
aws-lambda-rie) pkg="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d" ;;
*) usage ;;
esac

if [[ -x "$bin/$name" ]]; then
	echo "$name: already installed at $bin/$name"
	exit 0
fi

mkdir -p "$bin"

if [[ "$name" == azurite-blob ]]; then
	# Azurite is a Node program: install the locked versions with npm ci
	# (never a floating `npm install`), then add a launcher that
	# servertest.Binary finds like the Go servers.
	command -v npm >/dev/null || {
		echo "azurite-blob: npm not found (Node 20+ is needed)" >&2
		exit 1
	}
	dest="$(cd "$bin/.." && pwd)/azurite"
	rm -rf "$dest"
	mkdir -p "$dest"
	cp "$repo/scripts/servers/azurite/package.json" "$repo/scripts/servers/azurite/package-lock.json" "$dest/"
	echo "azurite-blob: npm ci into $dest (about a minute cold)"
	(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
	launcher="$bin/azurite-blob"
	printf '#!/bin/sh\nexec "%s/node_modules/.bin/azurite-blob" "$@"\n' "$dest" >"$launcher.tmp"
	chmod +x "$launcher.tmp"
	mv "$launcher.tmp" "$launcher"
	echo "azurite-blob: installed $launcher"
	exit 0
fi

echo "$name: installing $pkg into $bin (a few minutes on 2 cores)"
# Build outside the repo so the main module's go.mod is neither read nor touched.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
GOBIN="$bin" "$go" install "$pkg"
echo "$name: installed $bin/$name"
