#!/usr/bin/env bash
# hack/vm/vitest.sh [VITEST-ARGS...]: runs the vitest project `vm` inside this checkout's running guest (boot.sh),
# on the checkout at its own path there, and writes the JSON report to .tmp/vm-vitest.json (through the shared
# .tmp/). hack/vm/test.sh uses it between boot and power-off; by hand, with a guest booted with FUNE_VM_LIVE=1, it
# reruns tests after host edits without a new boot (rebuild dist/ first when src/ changed).
# The tests are told they are in the guest (FUNE_VM_GUEST=1) and given TCG-sized start-up bounds.
# Exit status: vitest's, or 255 when the guest stopped answering (then vm_lost has printed QEMU's run state and
# the console's tail).
set -euo pipefail
cd "$(dirname "$0")/../.."
. hack/vm/lib.sh
vm_pid >/dev/null || vm_die "this checkout's guest is not running (hack/vm/boot.sh)"
rm -f .tmp/vm-vitest.json
status=0
vm_ssh -- "cd $(printf %q "$PWD") && env FUNE_VM_GUEST=1 FUNE_TEST_READY_TIMEOUT_MS=300000 ${FUNE_VM_DRIVERS:+FUNE_VM_DRIVERS=$FUNE_VM_DRIVERS} \
  node node_modules/vitest/vitest.mjs run --config test/vitest.config.ts --project vm \
  --reporter=default --reporter=json --outputFile.json=.tmp/vm-vitest.json $(printf '%q ' "$@")" </dev/null || status=$?
# 255 is ssh's own failure: the connection died (ServerAlive gave up after 2 minutes of silence), so the guest
# stopped answering, not a test. Say what is known (hack/vm/test.sh may boot a new guest and try once more).
if [ "$status" = 255 ]; then vm_lost "the guest stopped answering ssh during the tests"; fi
exit "$status"
