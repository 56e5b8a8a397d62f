#!/usr/bin/env bash
# hack/critest.sh [v1|v1alpha2] [OUTFILE]
#
# Runs cri-tools' critest against fune inside the measurement harness of ../shared/harness:
# the `criharness` network namespace with its local registry (127.0.0.1:5000) and pod bridge.
# fune runs in that namespace with private root/state dirs, a hosts.toml per registry that critest
# names (answered by the local registry over plain HTTP) and the harness's CNI configuration.
#
# Needs: the harness up (netns + registry + images: `../shared/harness/up.sh`, then stop its containerd with
# `stop-containerd.sh`), critest/crictl v1.26.1 in /opt/cri-tools/bin (v1.22.0 in /opt/cri-tools-v1.22/bin for
# v1alpha2), built from cri-tools sources (not part of fune). Knobs are the harness's: FOCUS, SKIP, PARALLEL.
set -euo pipefail
. "$(dirname "$0")/harness-config.sh"
cd "$(dirname "$0")/.."
api=${1:-v1}
out=${2:-$PWD/.tmp/critest-$api.txt}
HARNESS=${HARNESS:-$(cd ../shared/harness && pwd)}
NETNS=/run/netns/criharness
[ -e "$NETNS" ] || { echo "harness netns is not up: run $HARNESS/netns.sh up && $HARNESS/start-registry.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/fune-critest.XXXXXX)
# Private dirs per run, so that several runs (and other daemons) never share state.
id=$(basename "$work")
root=/var/lib/$id state=/run/$id
mkdir -p "$work/certs.d" "$(dirname "$out")"
harness_fune_config "$work" "$HARNESS"

npx --no-install tsc -p tsconfig.json
nsenter --net="$NETNS" -- node --max-semi-space-size=1 --v8-pool-size=1 dist/src/main.js daemon --config "$work/config.toml" --root "$root" --state "$state" \
  --log-level "${LOG_LEVEL:-info}" 2>"$work/fune.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # critest removes its pods; whatever a failed spec left is not ours to keep.
  rm -rf --one-file-system "$root" "$state" 2>/dev/null || true
  echo "fune log: $work/fune.log" >&2
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$state/fune.sock" ] && break; sleep 0.1; done

if [ "$api" = v1alpha2 ]; then
  "$HARNESS/run-critest-v1alpha2.sh" "unix://$state/fune.sock" "$out"
else
  "$HARNESS/run-critest.sh" "unix://$state/fune.sock" "$out"
fi
