#!/usr/bin/env bash
# build-test-images.sh: build fune's busybox test images (from Debian's busybox-static .deb) and push them to a
# registry and/or write them as archives. See hack/build-test-images.ts for the images and flags.
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install tsc -p tsconfig.json >/dev/null || true
exec node dist/hack/build-test-images.js "$@"
