#!/usr/bin/env bash
# Fails when the committed generated types differ from what the protos produce now.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bash hack/update-proto.sh "$tmp/gen" "$tmp/cri-types.ts" "$tmp/json"
if ! diff -r "$tmp/gen" src/cri/generated >/dev/null; then
  echo "src/cri/generated is stale: run 'npm run gen' and commit the result" >&2
  diff -r "$tmp/gen" src/cri/generated | head -20 >&2
  exit 1
fi
if ! diff -q "$tmp/cri-types.ts" src/domain/cri-types.ts >/dev/null; then
  echo "src/domain/cri-types.ts is stale: run 'npm run gen' and commit the result" >&2
  exit 1
fi
for v in v1 v1alpha2; do
  if ! cmp -s "$tmp/json/$v/api.json" "proto/runtime/$v/api.json"; then
    echo "proto/runtime/$v/api.json is stale: run 'npm run gen' and commit the result" >&2
    exit 1
  fi
done
echo "generated types are up to date"
