#!/usr/bin/env bash
# Regenerates the TypeScript types of the CRI protos into src/cri/generated/ (committed, never hand-edited).
# int64 values become strings (nanosecond timestamps exceed 2^53), enums become their names. Also writes the
# protobufjs JSON descriptor of each api.proto next to it (proto/runtime/<v>/api.json, or into $3), which the daemon
# loads instead of parsing the .proto file (src/cri/protos.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/cri/generated}
json=${3:-proto/runtime}
rm -rf "$out"
for v in v1 v1alpha2; do
  npx --no-install proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs \
    --grpcLib=@grpc/grpc-js --outDir="$out/$v" --inputTemplate='%s' --outputTemplate='%s__Output' --importFileExtension=.js \
    "proto/runtime/$v/api.proto" >/dev/null
  mkdir -p "$json/$v"
  node -e 'const pb = require("protobufjs"); const root = new pb.Root().loadSync(process.argv[1], { keepCase: true });
    process.stdout.write(JSON.stringify(root.toJSON()) + "\n");' "proto/runtime/$v/api.proto" >"$json/$v/api.json"
done
python3 hack/gen-domain-types.py "$out/v1/runtime/v1" "${2:-src/domain/cri-types.ts}"
