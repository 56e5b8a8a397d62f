#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up (with test packages), generated-code check, typecheck, lint,
# unit tests, then the integration tests against real runc, conmon, CNI plugins and a registry (as root), then the
# VM tier (hack/vm/test.sh) when this machine can boot its guest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh --test
bash hack/verify-proto.sh
npx --no-install tsc -p tsconfig.json --noEmit
npx --no-install eslint .
projects=(--project unit --project integration)
if [ "$(id -u)" != 0 ]; then
  echo "not root: running unit tests only (integration tests need root)" >&2
  projects=(--project unit)
fi
mkdir -p .tmp
status=0
rm -f .tmp/vitest.json .tmp/vm-vitest.json .tmp/vm-timings.txt
npx --no-install vitest run --config test/vitest.config.ts "${projects[@]}" \
  --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json || status=$?

# The VM tier (hack/vm/test.sh): the tests that need cgroup v2, systemd or AppArmor, in a QEMU guest. FUNE_VM=1
# requires it, FUNE_VM=0 skips it; otherwise it runs whenever hack/vm/available.sh says the guest can boot here.
vm_note=""
if [ "${FUNE_VM:-}" = 0 ]; then
  vm_note="skipped (FUNE_VM=0)"
elif reason=$(bash hack/vm/available.sh); then
  FUNE_VM_SETUP=0 bash hack/vm/test.sh || status=1
elif [ "${FUNE_VM:-}" = 1 ]; then
  echo "FUNE_VM=1, but the VM tier cannot run here: $reason" >&2
  vm_note="not run: $reason"
  status=1
else
  vm_note="skipped: $reason"
fi

# One plain closing line per tier with the counts, whatever the runners printed above them.
count() { # REPORT LABEL
  node -e 'const [file, label] = process.argv.slice(1);
    const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
    console.log(`${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);' "$1" "$2" 2>/dev/null \
    || echo "$2: no report ($1 missing: the run failed before its tests ended, see above)"
}
count .tmp/vitest.json tests
if [ -n "$vm_note" ]; then echo "vm tests: $vm_note"; else count .tmp/vm-vitest.json "vm tests"; cat .tmp/vm-timings.txt 2>/dev/null || true; fi
exit "$status"
