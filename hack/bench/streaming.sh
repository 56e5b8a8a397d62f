#!/usr/bin/env bash
# hack/bench/streaming.sh — CRI streaming benchmark (exec, port-forward), containerd and fune side by side in one run.
#
# Like lifecycle.sh: starts the harness's containerd (../shared/harness/start-containerd.sh), runs the driver
# (dist/hack/bench/streaming.js, see streaming.ts) against it, stops it; then the same with fune (node
# dist/src/main.js daemon) on private dirs with hosts.toml mirrors to the harness registry and the harness CNI
# config. Both run in the `criharness` netns. Prints one table:
#   - `crictl exec CTR true` wall time (EXECS runs per pass, median / p90), measured with both runtimes up at once on
#     host-network pods, one exec each in alternation (`streaming.js exec`), so that load from elsewhere on the host
#     falls on both alike,
#   - port-forward download and upload of MIB MiB each through one local TCP connection (MB/s, REPS times each),
#   - port-forward connection rate (CONNS sequential short HTTP connections through the same forward).
#
# Needs: the harness up (netns `criharness` + registry with the images), its containerd stopped, crictl in
# /opt/cri-tools/bin, runc/conmon/catatonit, root. Refuses to run when the harness containerd is already up.
# Knobs: EXECS=30 MIB=256 REPS=3 CONNS=200 PASSES=1 RUNTIMES="containerd fune" OUT (default .tmp/bench-streaming)
#        LOG_LEVEL (fune's), FUNE_NODE_ARGS (extra node flags for fune, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
set -euo pipefail
. "$(dirname "$0")/../harness-config.sh"
. "$(dirname "$0")/runtimes.sh"
cd "$(dirname "$0")/../.."
HARNESS=${HARNESS:-$(cd ../shared/harness && pwd)}
NETNS=/run/netns/criharness
EXECS=${EXECS:-30} MIB=${MIB:-256} REPS=${REPS:-3} CONNS=${CONNS:-200} PASSES=${PASSES:-1}
RUNTIMES=${RUNTIMES:-containerd fune}
CRICTL=${CRICTL:-/opt/cri-tools/bin/crictl}
OUT=${OUT:-$PWD/.tmp/bench-streaming}
FUNE_ROOT=${FUNE_ROOT:-/var/lib/fune-bench-streaming} FUNE_STATE=${FUNE_STATE:-/run/fune-bench-streaming}

die() { echo "streaming.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -e "$NETNS" ] && nsenter --net="$NETNS" -- true || die "harness netns is not up: run $HARNESS/netns.sh up && $HARNESS/start-registry.sh"
nsenter --net="$NETNS" -- curl -fsS -o /dev/null http://127.0.0.1:5000/v2/ || die "the harness registry does not answer on 127.0.0.1:5000 in the netns"
for b in runc conmon catatonit; do command -v "$b" >/dev/null || die "$b is not installed"; done
[ -x "$CRICTL" ] || die "crictl not found at $CRICTL"

mkdir -p "$OUT"
log "building (tsc -p tsconfig.json)"
npx --no-install tsc -p tsconfig.json >"$OUT/tsc.log" 2>&1 || log "tsc reported errors (see $OUT/tsc.log); using what it emitted"
[ -f dist/hack/bench/streaming.js ] && [ -f dist/src/main.js ] || die "build output missing"
# Port-forward runs one runtime at a time (their pods share the harness bridge); exec is measured by exec_phase.
DRIVER=(nsenter --net="$NETNS" -- node dist/hack/bench/streaming.js run --execs 0 --mib "$MIB" --reps "$REPS"
  --conns "$CONNS" --crictl "$CRICTL")

trap bench_cleanup EXIT

run_one() {
  local rt=$1 json=$2 pid
  rm -f "$json"
  case "$rt" in
  containerd)
    ctd_running && die "the harness containerd is already running (pid $(cat "$CTD_PIDFILE")), started by someone else; stop it with $HARNESS/stop-containerd.sh or set RUNTIMES=fune"
    pid=$(start_containerd)
    ctd_started=1
    "${DRIVER[@]}" --label containerd --socket "$CTD_SOCK" --daemon-pid "$pid" --out "$json" || log "containerd run failed (exit $?)"
    stop_containerd
    ;;
  fune)
    ctd_running && die "the harness containerd (pid $(cat "$CTD_PIDFILE")) is running; fune shares its bridge and subnet"
    # shellcheck disable=SC2086
    start_fune ${FUNE_NODE_ARGS:-}
    "${DRIVER[@]}" --label fune --socket "$FUNE_STATE/fune.sock" --daemon-pid "$fune_pid" --out "$json" || log "fune run failed (exit $?)"
    stop_fune
    ;;
  *) die "unknown runtime $rt (containerd | fune)" ;;
  esac
}

# exec_phase PASS: every runtime of RUNTIMES up at once, EXECS alternating `crictl exec` rounds on host-network pods.
exec_phase() {
  local pass=$1 rt targets=() pid
  for rt in $RUNTIMES; do
    case "$rt" in
    containerd)
      ctd_running && die "the harness containerd is already running (pid $(cat "$CTD_PIDFILE")), started by someone else"
      pid=$(start_containerd)
      ctd_started=1
      targets+=(--target "containerd=$CTD_SOCK=$pid")
      ;;
    fune)
      # shellcheck disable=SC2086
      start_fune ${FUNE_NODE_ARGS:-}
      targets+=(--target "fune=$FUNE_STATE/fune.sock=$fune_pid")
      ;;
    *) die "unknown runtime $rt (containerd | fune)" ;;
    esac
  done
  mkdir -p "$OUT/exec-$pass"
  nsenter --net="$NETNS" -- node dist/hack/bench/streaming.js exec "${targets[@]}" --execs "$EXECS" --crictl "$CRICTL" \
    --out-dir "$OUT/exec-$pass" || log "interleaved exec run failed (exit $?)"
  [ -n "$ctd_started" ] && stop_containerd
  [ -n "$fune_pid" ] && stop_fune
  for rt in $RUNTIMES; do [ -f "$OUT/exec-$pass/$rt-exec.json" ] && results+=("$OUT/exec-$pass/$rt-exec.json"); done
  return 0
}

work=$(mktemp -d /tmp/fune-bench-streaming.XXXXXX)
harness_fune_config "$work" "$HARNESS"
: >"$OUT/fune.log"
rm -f "$OUT"/*.json

results=()
for pass in $(seq "$PASSES"); do
  rm -rf "$OUT/exec-$pass"
  [ "$EXECS" -gt 0 ] && exec_phase "$pass"
  for rt in $RUNTIMES; do
    json="$OUT/$rt-$pass.json"
    run_one "$rt" "$json"
    [ -f "$json" ] && results+=("$json")
  done
done
[ ${#results[@]} -gt 0 ] || die "no results"
node dist/hack/bench/streaming.js report "${results[@]}" | tee "$OUT/report.txt"
