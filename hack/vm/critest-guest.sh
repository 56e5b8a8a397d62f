#!/usr/bin/env bash
# hack/vm/critest-guest.sh RUNTIME DRIVER VERSION OUTFILE
#
# Runs inside the test guest (cgroup v2, systemd as PID 1, AppArmor): cri-tools' critest VERSION (v1.26.1, v1.22.0
# for runtime.v1alpha2, or v1.32.0) against RUNTIME (fune from this checkout's dist/, or the guest's Debian
# containerd 1.6 as the reference) with the cgroup DRIVER (systemd or cgroupfs), inside the shared harness's
# criharness network namespace and local registry. OUTFILE gets the harness's per-spec PASS/FAIL/SKIP list.
# A measurement, not part of `npm test`; hack/vm/conformance.sh runs the whole matrix from the host.
#
# Needs in the guest: the harness up (shared/harness: netns.sh up, start-registry.sh, build-images.sh) and
# dist/ built on the host (the checkout is shared into the guest at its own path).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 4 ] || { echo "usage: $0 fune|containerd systemd|cgroupfs v1.26.1|v1.22.0|v1.32.0 OUTFILE" >&2; exit 2; }
runtime=$1 driver=$2 version=$3 out=$(realpath -m "$4")
HARNESS=${HARNESS:-$(cd ../shared/harness 2>/dev/null && pwd || echo /work/shared/harness)}
[ -e /run/netns/criharness ] || { echo "harness netns is not up in the guest: run $HARNESS/netns.sh up, start-registry.sh, build-images.sh" >&2; exit 1; }
case "$driver" in systemd) systemd_cgroup=true ;; cgroupfs) systemd_cgroup=false ;; *) echo "bad driver $driver" >&2; exit 2 ;; esac
case "$version" in
  v1.26.1) runner=(env CRI_TOOLS_BIN=/opt/cri-tools/bin "$HARNESS/run-critest.sh") ;;
  v1.22.0) runner=("$HARNESS/run-critest-v1alpha2.sh") ;;
  v1.32.0) runner=(env CRI_TOOLS_BIN=/opt/cri-tools-v1.32/bin CRITEST_VERSION=v1.32.0 "$HARNESS/run-critest.sh") ;;
  *) echo "bad version $version" >&2; exit 2 ;;
esac
mkdir -p "$(dirname "$out")"
work=$(mktemp -d /tmp/critest-guest.XXXXXX)
. hack/vm/guest-lib.sh

if [ "$runtime" = containerd ]; then
  # The harness's anchor config with the driver asked for (SystemdCgroup in runc's options).
  ctd_harness_dir "$work/h" "$systemd_cgroup"
  HARNESS_DIR="$work/h" "$HARNESS/start-containerd.sh" >/dev/null
  trap '"$HARNESS/stop-containerd.sh" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
  "${runner[@]}" unix:///run/containerd-anchor/containerd.sock "$out"
  exit 0
fi

. hack/harness-config.sh
[ -f dist/src/main.js ] || { echo "dist/ is missing: build on the host first (npx tsc -p tsconfig.json)" >&2; exit 1; }
id=$(basename "$work")
root=/var/lib/$id state=/run/$id
FUNE_CGROUP_DRIVER=$driver harness_fune_config "$work" "$HARNESS"
nsenter --net=/run/netns/criharness -- node --max-semi-space-size=1 --v8-pool-size=1 dist/src/main.js daemon --config "$work/config.toml" \
  --root "$root" --state "$state" --log-level "${LOG_LEVEL:-info}" 2>"$work/fune.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  mkdir -p .tmp/vm-critest && cp "$work/fune.log" ".tmp/vm-critest/$(basename "$out" .txt).fune.log" 2>/dev/null || true
  rm -rf --one-file-system "$root" "$state" "$work" 2>/dev/null || true
}
trap cleanup EXIT
# Start-up under TCG takes about a minute (module loading).
for _ in $(seq 600); do [ -S "$state/fune.sock" ] && grep -q '"fune is ready"' "$work/fune.log" && break; sleep 0.5; done
grep -q '"fune is ready"' "$work/fune.log" || { echo "fune did not become ready; log: $work/fune.log" >&2; tail -5 "$work/fune.log" >&2; exit 1; }
# The harness asks `crictl version` with crictl's 2 s default before critest starts; under TCG the first calls of a
# fresh daemon (grpc-js and the protobuf code warming up) can take longer, so they are made here first.
for _ in 1 2 3; do /opt/cri-tools-v1.32/bin/crictl --timeout 60s --runtime-endpoint "unix://$state/fune.sock" --image-endpoint "unix://$state/fune.sock" version >/dev/null 2>&1 && break; done
"${runner[@]}" "unix://$state/fune.sock" "$out"
