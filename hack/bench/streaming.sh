#!/usr/bin/env bash
# hack/bench/streaming.sh — CRI streaming benchmark (exec, port-forward), containerd and fune side by side in one run.
#
# Like lifecycle.sh: starts the harness's containerd (../shared/harness/start-containerd.sh), runs the driver
# (dist/hack/bench/streaming.js, see streaming.ts) against it, stops it; then the same with fune (node
# dist/src/main.js daemon) on private dirs with hosts.toml mirrors to the harness registry and the harness CNI
# config. Both run in the `criharness` netns, one after the other, never at the same time. Prints one table:
#   - `crictl exec CTR true` wall time (EXECS runs, median / p90),
#   - port-forward download and upload of MIB MiB each through one local TCP connection (MB/s, REPS times each),
#   - port-forward connection rate (CONNS sequential short HTTP connections through the same forward).
#
# Needs: the harness up (netns `criharness` + registry with the images), its containerd stopped, crictl in
# /opt/cri-tools/bin, runc/conmon/catatonit, root. Refuses to run when the harness containerd is already up.
# Knobs: EXECS=30 MIB=256 REPS=3 CONNS=200 PASSES=1 RUNTIMES="containerd fune" OUT (default .tmp/bench-streaming)
#        LOG_LEVEL (fune's), FUNE_NODE_ARGS (extra node flags for fune, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
set -euo pipefail
. "$(dirname "$0")/../harness-config.sh"
cd "$(dirname "$0")/../.."
HARNESS=${HARNESS:-$(cd ../shared/harness && pwd)}
NETNS=/run/netns/criharness
EXECS=${EXECS:-30} MIB=${MIB:-256} REPS=${REPS:-3} CONNS=${CONNS:-200} PASSES=${PASSES:-1}
RUNTIMES=${RUNTIMES:-containerd fune}
CRICTL=${CRICTL:-/opt/cri-tools/bin/crictl}
OUT=${OUT:-$PWD/.tmp/bench-streaming}
FUNE_ROOT=${FUNE_ROOT:-/var/lib/fune-bench-streaming} FUNE_STATE=${FUNE_STATE:-/run/fune-bench-streaming}
CTD_SOCK=/run/containerd-anchor/containerd.sock
CTD_PIDFILE=/run/cri-harness/containerd.pid

die() { echo "streaming.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -e "$NETNS" ] && nsenter --net="$NETNS" -- true || die "harness netns is not up: run $HARNESS/netns.sh up && $HARNESS/start-registry.sh"
nsenter --net="$NETNS" -- curl -fsS -o /dev/null http://127.0.0.1:5000/v2/ || die "the harness registry does not answer on 127.0.0.1:5000 in the netns"
for b in runc conmon catatonit; do command -v "$b" >/dev/null || die "$b is not installed"; done
[ -x "$CRICTL" ] || die "crictl not found at $CRICTL"
ctd_running() { [ -s "$CTD_PIDFILE" ] && [ -d "/proc/$(cat "$CTD_PIDFILE")" ]; }

mkdir -p "$OUT"
log "building (tsc -p tsconfig.json)"
npx --no-install tsc -p tsconfig.json >"$OUT/tsc.log" 2>&1 || log "tsc reported errors (see $OUT/tsc.log); using what it emitted"
[ -f dist/hack/bench/streaming.js ] && [ -f dist/src/main.js ] || die "build output missing"
DRIVER=(nsenter --net="$NETNS" -- node dist/hack/bench/streaming.js run --execs "$EXECS" --mib "$MIB" --reps "$REPS"
  --conns "$CONNS" --crictl "$CRICTL")

ctd_started= fune_pid= work=
cleanup() {
  if [ -n "$fune_pid" ] && [ -d "/proc/$fune_pid" ]; then
    kill -TERM "$fune_pid" 2>/dev/null || true
    for _ in $(seq 100); do [ -d "/proc/$fune_pid" ] || break; sleep 0.1; done
    [ -d "/proc/$fune_pid" ] && kill -KILL "$fune_pid" 2>/dev/null || true
  fi
  [ -n "$ctd_started" ] && "$HARNESS/stop-containerd.sh" >/dev/null 2>&1 || true
  [ -n "$work" ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT

run_one() {
  local rt=$1 json=$2 pid
  rm -f "$json"
  case "$rt" in
  containerd)
    ctd_running && die "the harness containerd is already running (pid $(cat "$CTD_PIDFILE")), started by someone else; stop it with $HARNESS/stop-containerd.sh or set RUNTIMES=fune"
    log "starting containerd ($HARNESS/start-containerd.sh)"
    pid=$("$HARNESS/start-containerd.sh" 2>>"$OUT/containerd-start.log" | tail -n1)
    ctd_started=1
    "${DRIVER[@]}" --label containerd --socket "$CTD_SOCK" --daemon-pid "$pid" --out "$json" || log "containerd run failed (exit $?)"
    log "stopping containerd"
    "$HARNESS/stop-containerd.sh" >/dev/null 2>&1 || true
    ctd_started=
    ;;
  fune)
    ctd_running && die "the harness containerd (pid $(cat "$CTD_PIDFILE")) is running; fune shares its bridge and subnet"
    log "starting fune (root $FUNE_ROOT, state $FUNE_STATE, log $OUT/fune.log)"
    # shellcheck disable=SC2086
    nsenter --net="$NETNS" -- node --max-semi-space-size=1 --v8-pool-size=1 ${FUNE_NODE_ARGS:-} dist/src/main.js daemon \
      --config "$work/config.toml" --root "$FUNE_ROOT" --state "$FUNE_STATE" --log-level "${LOG_LEVEL:-info}" 2>>"$OUT/fune.log" &
    fune_pid=$!
    for _ in $(seq 200); do [ -S "$FUNE_STATE/fune.sock" ] && grep -q 'fune is ready' "$OUT/fune.log" && break; sleep 0.1; done
    [ -d "/proc/$fune_pid" ] || die "fune exited at start-up, see $OUT/fune.log"
    # $! is nsenter, which execs node: the same pid.
    "${DRIVER[@]}" --label fune --socket "$FUNE_STATE/fune.sock" --daemon-pid "$fune_pid" --out "$json" || log "fune run failed (exit $?)"
    log "stopping fune (pid $fune_pid)"
    kill -TERM "$fune_pid"; wait "$fune_pid" 2>/dev/null || true
    fune_pid=
    ;;
  *) die "unknown runtime $rt (containerd | fune)" ;;
  esac
}

work=$(mktemp -d /tmp/fune-bench-streaming.XXXXXX)
harness_fune_config "$work" "$HARNESS"
: >"$OUT/fune.log"
rm -f "$OUT"/*.json

results=()
for pass in $(seq "$PASSES"); do
  for rt in $RUNTIMES; do
    json="$OUT/$rt-$pass.json"
    run_one "$rt" "$json"
    [ -f "$json" ] && results+=("$json")
  done
done
[ ${#results[@]} -gt 0 ] || die "no results"
node dist/hack/bench/streaming.js report "${results[@]}" | tee "$OUT/report.txt"
