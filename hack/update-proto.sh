#!/usr/bin/env bash
# Regenerates the TypeScript types of the CRI protos into src/cri/generated/ (committed, never hand-edited).
# int64 values become strings (nanosecond timestamps exceed 2^53), enums become their names.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/cri/generated}
rm -rf "$out"
for v in v1 v1alpha2; do
  npx --no-install proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs \
    --grpcLib=@grpc/grpc-js --outDir="$out/$v" --inputTemplate='%s' --outputTemplate='%s__Output' --importFileExtension=.js \
    "proto/runtime/$v/api.proto" >/dev/null
done
python3 hack/gen-domain-types.py "$out/v1/runtime/v1" "${2:-src/domain/cri-types.ts}"
