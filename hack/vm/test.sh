#!/usr/bin/env bash
# hack/vm/test.sh [VITEST-ARGS...]: the VM tier, `npm run test:vm`. Builds fune on the host (hack/setup.sh --test;
# skipped with FUNE_VM_SETUP=0, as hack/test.sh does after its own set-up), builds the guest image if this
# checkout's scripts have none cached (build-image.sh), boots the guest once (boot.sh), runs the vitest project
# `vm` (test/vm/**/*.test.ts) inside it (vitest.sh), and powers the guest off whatever happened
# (halt.sh, from an EXIT trap). The guest runs the host's node on the host's dist/ and node_modules.
#
# Results come back through the shared checkout: the JSON report .tmp/vm-vitest.json, and the timings line
# .tmp/vm-timings.txt, and the shared daemons' logs in .tmp/vm-logs/. Extra arguments go to vitest (a file
# filter, -t NAME, ...).
# A guest that stops answering mid-run (vitest.sh's 255) is booted again and the tier rerun, once
# (FUNE_VM_RETRIES). Exit status: vitest's (1 when a test failed), or that of the step that failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. hack/vm/lib.sh
[ "${FUNE_VM_SETUP:-1}" = 0 ] || bash hack/setup.sh --test
mkdir -p .tmp
rm -rf .tmp/vm-vitest.json .tmp/vm-timings.txt .tmp/vm-logs
now() { date +%s; }
t0=$(now)
bash hack/vm/build-image.sh
t1=$(now)
trap 'bash hack/vm/halt.sh || true' EXIT
trap 'exit 130' INT TERM
bash hack/vm/boot.sh >/dev/null
t2=$(now)
status=0
bash hack/vm/vitest.sh "$@" || status=$?
# The guest stopped answering (vitest.sh exits 255 and has printed what QEMU and the console said): that is the
# emulated machine, not a test, and no test result came back. Boot a new guest and run the tier once more
# (FUNE_VM_RETRIES, 1); a test that fails, fails at once. The retry is printed, and in the timings line.
retried=""
for ((try = 1; status == 255 && try <= ${FUNE_VM_RETRIES:-1}; try++)); do
  vm_log "no test result came back from the lost guest: booting a new one for try $((try + 1))"
  bash hack/vm/halt.sh || true
  bash hack/vm/boot.sh >/dev/null
  status=0
  bash hack/vm/vitest.sh "$@" || status=$?
  retried=", after $try lost guest(s)"
done
t3=$(now)
bash hack/vm/halt.sh
trap - EXIT
t4=$(now)
line="vm tier: image $((t1 - t0))s, boot $((t2 - t1))s, tests $((t3 - t2))s, power-off $((t4 - t3))s, total $((t4 - t0))s$retried"
echo "$line" | tee .tmp/vm-timings.txt >&2
exit "$status"
