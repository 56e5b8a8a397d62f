#!/usr/bin/env bash
# hack/vm/conformance.sh [RUN...]: from the host, runs critest in the test guest for each RUN, given as
# RUNTIME-DRIVER-VERSION (fune|containerd, systemd|cgroupfs, v1.26.1|v1.22.0|v1.32.0; default: all 18, fune's
# first), one after the other, then the lifecycle benchmark with BENCH_DRIVERS (default "systemd cgroupfs"; "" for
# none). Results go to hack/bench/results/guest/<RUN>.txt (the per-spec list; fune's log in .tmp/vm-critest/) and
# guest/lifecycle-<driver>.txt, and the table of every cell's totals to guest/matrix.md (summary.md beside it is
# written by hand). A measurement, not part of `npm test`.
#
# Needs this checkout's guest running with the harness up in it (FUNE_VM_SHARES=/work/shared hack/vm/boot.sh, then
# hack/vm/harness-guest.sh) and dist/ built here; VM_EXEC (default hack/vm/ssh.sh) is how commands reach the
# guest, in this checkout's directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
VM_EXEC=${VM_EXEC:-hack/vm/ssh.sh}
res=hack/bench/results/guest
mkdir -p "$res"
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
  for rt in fune containerd; do for drv in systemd cgroupfs; do for v in v1.32.0 v1.26.1 v1.22.0; do runs+=("$rt-$drv-$v"); done; done; done
fi
for run in "${runs[@]}"; do
  IFS=- read -r rt drv v <<<"$run"
  echo "[$(date +%H:%M:%S)] critest $v against $rt ($drv driver) in the guest" >&2
  bash "$VM_EXEC" bash hack/vm/critest-guest.sh "$rt" "$drv" "$v" "$res/$run.txt" || echo "  $run failed (exit $?)" >&2
  [ -f "$res/$run.txt" ] && tail -n 1 "$res/$run.txt" >&2
  rm -rf "$res/$run.txt.d"
done
for drv in ${BENCH_DRIVERS-systemd cgroupfs}; do
  echo "[$(date +%H:%M:%S)] lifecycle benchmark in the guest ($drv driver)" >&2
  bash "$VM_EXEC" env BUILD=${BUILD:-0} bash hack/vm/bench-guest.sh "$drv" "$res/lifecycle-$drv.txt" || echo "  lifecycle ($drv) failed" >&2
done
{
  echo "| critest | driver | fune | containerd 1.6 |"
  echo "|---|---|---|---|"
  for v in v1.32.0 v1.26.1 v1.22.0; do
    for drv in systemd cgroupfs; do
      f=$(tail -n 1 "$res/fune-$drv-$v.txt" 2>/dev/null || echo "not run")
      c=$(tail -n 1 "$res/containerd-$drv-$v.txt" 2>/dev/null || echo "not run")
      echo "| $v | $drv | $f | $c |"
    done
  done
} >"$res/matrix.md"
cat "$res/matrix.md"
