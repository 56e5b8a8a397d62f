#!/usr/bin/env bash
# hack/bench/metrics.sh — what fune's metrics cost: daemon CPU per `GET /metrics` scrape and per
# ListPodSandboxMetrics call with PODS pods, and the idle daemon's RSS with [metrics] off and on.
#
# Runs fune alone (node flags as `npm start`) on private dirs under /tmp with its own CNI bridge (BRIDGE, default
# funebench0, on SUBNET, default 10.213.0.0/16) in the host network namespace; the busybox image is built from
# Debian's busybox-static (hack/test-images.ts) and imported through the admin socket. No harness, no registry.
# Removes its pods, the bridge and its dirs at the end. Root.
#
# Knobs: PODS=50, SCRAPES=200, LISTS=100 (ListPodSandboxMetrics/Stats calls), RSS_ROUNDS=3, BRIDGE, SUBNET,
#        DAEMON_NODE_ARGS (extra node flags for the daemon, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "metrics.sh: must run as root" >&2; exit 1; }
npx --no-install tsc -p tsconfig.json
exec node dist/hack/bench/metrics.js
