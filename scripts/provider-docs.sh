#!/usr/bin/env bash
# Provider docs (docs/index.md, docs/resources, docs/data-sources, docs/ephemeral-resources, docs/functions, docs/guides) generated
# by tfplugindocs from the provider's schema and provider/examples, offline (docs/testing.md):
# OpenTofu (tofu-next, 1.12: it lists ephemeral resources, which 1.10 does not) dumps the schema of the locally built provider under the hashicorp address
# tfplugindocs looks for, and tfplugindocs renders it without downloading Terraform.
#
#   scripts/provider-docs.sh generate   rewrite the docs
#   scripts/provider-docs.sh check      fail (listing the differences) when they are stale
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/.tools/bin
mode=${1:-}
[[ $mode == generate || $mode == check ]] || { echo "usage: $0 generate|check" >&2; exit 2; }

work=$(mktemp -d)
out=$(mktemp -d "$root/.docs-check.XXXXXX") # tfplugindocs writes below --provider-dir only
trap 'rm -rf "$work" "$out"' EXIT

go build -o "$work/bin/terraform-provider-acquire" ./cmd/terraform-provider-acquire
cat >"$work/tofurc" <<RC
provider_installation {
  dev_overrides { "registry.terraform.io/hashicorp/acquire" = "$work/bin" }
  direct {}
}
RC
mkdir -p "$work/cfg"
cat >"$work/cfg/main.tf" <<'TF'
terraform {
  required_providers {
    acquire = { source = "registry.terraform.io/hashicorp/acquire" }
  }
}
TF
(cd "$work/cfg" && TF_CLI_CONFIG_FILE="$work/tofurc" CHECKPOINT_DISABLE=1 "$tools/tofu-next" providers schema -json) >"$work/schema.json" 2>"$work/tofu.err" ||
  { cat "$work/tofu.err" >&2; exit 1; }

"$tools/tfplugindocs" generate --provider-dir "$root" --provider-name acquire --rendered-provider-name Acquire \
  --providers-schema "$work/schema.json" --examples-dir provider/examples --website-source-dir provider/templates \
  --rendered-website-dir "$(basename "$out")" >"$work/gen.log" 2>&1 || { cat "$work/gen.log" >&2; exit 1; }

validate() { # the layout and front matter of docs/ as the registry reads them
  "$tools/tfplugindocs" validate --provider-dir "$root" --provider-name acquire --providers-schema "$work/schema.json" \
    >"$work/validate.log" 2>&1 || { cat "$work/validate.log" >&2; exit 1; }
}

managed=(index.md data-sources resources ephemeral-resources functions guides)
if [[ $mode == generate ]]; then
  for m in "${managed[@]}"; do rm -rf "docs/$m"; [[ -e $out/$m ]] && cp -R "$out/$m" "docs/$m"; done
  validate
  echo "docs/ regenerated"
  exit 0
fi
stale=0
for m in "${managed[@]}"; do
  if [[ -e $out/$m || -e docs/$m ]] && ! diff -ru "docs/$m" "$out/$m" >"$work/diff" 2>&1; then
    cat "$work/diff" >&2
    stale=1
  fi
done
if ((stale)); then
  echo "provider docs are stale: run 'make docs' and commit docs/" >&2
  exit 1
fi
validate
echo "provider docs are up to date"
