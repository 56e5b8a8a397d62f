#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up (with test packages), generated-code check, typecheck, lint,
# unit tests, then the integration tests against real runc, conmon, CNI plugins and a registry (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh --test
bash hack/verify-proto.sh
npx --no-install tsc -p tsconfig.json --noEmit
npx --no-install eslint .
projects=()
if [ "$(id -u)" != 0 ]; then
  echo "not root: running unit tests only (integration tests need root)" >&2
  projects=(--project unit)
fi
mkdir -p .tmp
status=0
npx --no-install vitest run --config test/vitest.config.ts "${projects[@]}" \
  --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json || status=$?
# One plain closing line with the counts, whatever the runner printed above it.
node -e 'const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);' || true
exit "$status"
