#!/usr/bin/env bash
# hack/bench/stream-floods.sh — memory of fune under streaming peers that do not read (see stream-floods.ts).
#
# Builds fune (tsc -p tsconfig.json), then runs the driver, which starts its own daemon on private dirs with a
# loopback-only CNI network and the busybox test image (as the integration tests do), so it needs neither the
# measurement harness nor containerd: fune only, no ratio. For each flood (WebSocket exec stdin into a process that
# does not read, SPDY TTY stdin likewise, WebSocket port-forward upload to a pod socket nobody reads, SPDY PINGs whose
# replies are never read, TTY output and attach output to a client that does not read) it offers MIB MiB and prints
# the daemon's RSS before, its peak growth during the flood and its growth 3 s after the client closed.
# Targets: at most +64 MiB during, and within 64 MiB of the start after close.
#
# Needs: root, runc, conmon, catatonit, the CNI loopback plugin, `npm ci` done.
# Knobs: MIB=1024, ONLY=name,name (a subset), VERIFY=1 (then let the reader read and check every byte; slower),
#        OUT (default .tmp/bench-floods: report.txt and floods.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
MIB=${MIB:-1024} OUT=${OUT:-$PWD/.tmp/bench-floods}
[ "$(id -u)" = 0 ] || { echo "stream-floods.sh: must run as root" >&2; exit 1; }
mkdir -p "$OUT"
echo "[$(date +%H:%M:%S)] building (tsc -p tsconfig.json)" >&2
npx --no-install tsc -p tsconfig.json >"$OUT/tsc.log" 2>&1 || echo "tsc reported errors (see $OUT/tsc.log); using what it emitted" >&2
args=(--mib "$MIB" --out "$OUT/floods.json")
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
[ -n "${VERIFY:-}" ] && args+=(--verify)
node dist/hack/bench/stream-floods.js "${args[@]}" | tee "$OUT/report.txt"
