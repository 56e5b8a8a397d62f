#!/usr/bin/env bash
# hack/vm/halt.sh: powers this checkout's guest off and waits for QEMU to exit; if it
# has not after FUNE_VM_HALT_TIMEOUT seconds (60), signals the QEMU PID from the pid file, and only that PID:
# TERM, then KILL. Removes the boot's disk overlay. Nothing to do when the guest is not running.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if ! pid="$(vm_pid)"; then
  rm -f "$VM_PIDFILE" "$VM_PORTFILE" "$VM_OVERLAY"
  exit 0
fi
t0=$(date +%s)
gone() { local i; for ((i = 0; i < $1 * 10; i++)); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done; return 1; }
# --force: processes are killed and file systems unmounted without stopping each unit in order (the guest's disks
# are thrown away; a full ordered shutdown takes a minute under TCG on a busy host). The connection may drop
# before ssh returns; either way, QEMU's exit is what counts.
# A guest QEMU has paused (io-error after a failed disk write, internal-error, ...) cannot power itself off:
# straight to the signals then. (unknown: QEMU did not answer on QMP; try the power-off all the same.)
st="$(vm_status)"
case "$st" in running|unknown) live=1 ;; *) live=0 ;; esac
if [ "$live" = 1 ]; then
  timeout 30 bash -c ". $(printf %q "$VM_HERE/lib.sh"); vm_ssh -- systemctl poweroff --force" >/dev/null 2>&1 || true
fi
if [ "$live" = 0 ] || ! gone "${FUNE_VM_HALT_TIMEOUT:-60}"; then
  [ "$live" = 1 ] || vm_log "QEMU's run state is '$st', not running: no power-off from inside"
  vm_log "the guest did not power off: SIGTERM to QEMU pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  gone 10 || { vm_log "SIGKILL to QEMU pid $pid"; kill -KILL "$pid" 2>/dev/null || true; gone 5 || true; }
fi
rm -f "$VM_PIDFILE" "$VM_PORTFILE" "$VM_OVERLAY" "$VM_QMP" "$VM_RUN/checkout.img"
vm_log "guest stopped in $(( $(date +%s) - t0 ))s"
