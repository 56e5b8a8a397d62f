#!/usr/bin/env bash
# hack/vm/bench-guest.sh DRIVER OUTFILE
#
# Runs inside the test guest: the lifecycle benchmark (hack/bench/lifecycle.sh), containerd 1.6 and fune side by
# side, both with the cgroup DRIVER (systemd or cgroupfs) on the guest's cgroup v2, and writes its table to
# OUTFILE with the conditions. The guest runs under TCG (emulated CPU, about 10x slower JS and 30x slower
# fork/exec than the host): only the ratios mean anything. A measurement, not part of `npm test`.
# With systemd the pods get a kubelet's path of slices as cgroup parent (lifecycle.sh SYSTEMD_SLICES); BUILD=0 skips
# the guest's tsc run (about 15 min under TCG) when dist/ is already built there.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 2 ] || { echo "usage: $0 systemd|cgroupfs OUTFILE" >&2; exit 2; }
driver=$1 out=$(realpath -m "$2")
HARNESS=${HARNESS:-$(cd ../shared/harness 2>/dev/null && pwd || echo /work/shared/harness)}
. hack/vm/guest-lib.sh
work=$(mktemp -d /tmp/bench-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT
ctd_harness_dir "$work/h" "$([ "$driver" = systemd ] && echo true || echo false)"
mkdir -p "$(dirname "$out")"
{
  echo "# lifecycle benchmark in the test guest: $(uname -r), $(nproc) vCPUs under QEMU TCG, cgroup $(stat -fc %T /sys/fs/cgroup), systemd $(systemctl --version | head -1 | cut -d' ' -f2), runc $(runc --version | head -1 | cut -d' ' -f3), containerd $(containerd --version | cut -d' ' -f3)"
  echo "# both runtimes on the $driver cgroup driver; N=${N:-10} PODS=${PODS:-5} PASSES=${PASSES:-1}; host load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (guest)"
  [ "$driver" = systemd ] && echo "# systemd driver: each pod's cgroup parent is a kubelet's path of slices (/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice)"
  echo "# TCG: absolute times are not those of real hardware; compare the fune/containerd ratios only"
  HARNESS="$HARNESS" SYSTEMD_SLICES=$([ "$driver" = systemd ] && echo 1) FUNE_CGROUP_DRIVER=$driver CTD_HARNESS_DIR="$work/h" FUNE_START_WAIT=300 N=${N:-10} PODS=${PODS:-5} PASSES=${PASSES:-1} \
    OUT="$work/out" bash hack/bench/lifecycle.sh
} >"$out" 2>"$out.log"
cat "$out"
