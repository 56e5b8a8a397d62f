#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up (with test packages), generated-code check, typecheck, lint,
# unit tests, then the integration tests against real runc, conmon, CNI plugins and a registry (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh --test
bash hack/verify-proto.sh
npx --no-install tsc -p tsconfig.json --noEmit
npx --no-install eslint .
if [ "$(id -u)" = 0 ]; then
  npx --no-install vitest run --config test/vitest.config.ts
else
  echo "not root: running unit tests only (integration tests need root)" >&2
  npx --no-install vitest run --config test/vitest.config.ts --project unit
fi
