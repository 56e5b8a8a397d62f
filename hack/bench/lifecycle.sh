#!/usr/bin/env bash
# hack/bench/lifecycle.sh — CRI lifecycle benchmark, containerd and fune side by side in one run.
#
# Starts the harness's containerd (../shared/harness/start-containerd.sh), times N pod+container lifecycles and
# measures memory with PODS pods, stops it again; then does the same with fune (node dist/src/main.js daemon) on
# private dirs with the harness's registry mirrors and CNI config, the way hack/critest.sh runs it. Both run in the
# `criharness` network namespace, one after the other (they share its bridge and subnet). Prints one table.
#
# Needs: the harness up (netns `criharness` + registry with the images: ../shared/harness/up.sh, then its
# stop-containerd.sh), the Debian containerd, runc, conmon, catatonit and containernetworking-plugins packages, and
# a fune build (this script runs `tsc -p tsconfig.json`). Root.
#
# Knobs: N=20 (rounds per runtime and pass), PODS=10, PASSES=1 (alternate the runtimes this many times and pool
#        the samples, against drifting host load; memory is measured in the last pass), EXECS=1 (ExecSync calls
#        per round), STOP_TIMEOUT=10, RUNTIMES="containerd fune", IMAGE, OUT (results dir, default .tmp/bench), HARNESS, LOG_LEVEL (fune's),
#        SYSTEMD_SLICES=1 (each pod gets the cgroup parent a systemd-driver kubelet sends, a path of slices down to
#        kubepods-besteffort-pod<uid>.slice: needed when both runtimes use the systemd cgroup driver), BUILD=0 (use
#        the dist/ there is instead of running tsc; in the TCG guest tsc takes about 15 minutes).
set -euo pipefail
. "$(dirname "$0")/../harness-config.sh"
. "$(dirname "$0")/runtimes.sh"
cd "$(dirname "$0")/../.."
HARNESS=${HARNESS:-$(cd ../shared/harness && pwd)}
NETNS=/run/netns/criharness
N=${N:-20} PODS=${PODS:-10} PASSES=${PASSES:-1} EXECS=${EXECS:-1} STOP_TIMEOUT=${STOP_TIMEOUT:-10}
RUNTIMES=${RUNTIMES:-containerd fune}
IMAGE=${IMAGE:-registry.k8s.io/e2e-test-images/busybox:1.29-2}
OUT=${OUT:-$PWD/.tmp/bench}
FUNE_ROOT=${FUNE_ROOT:-/var/lib/fune-bench} FUNE_STATE=${FUNE_STATE:-/run/fune-bench}

die() { echo "lifecycle.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -e "$NETNS" ] && nsenter --net="$NETNS" -- true || die "harness netns is not up: run $HARNESS/netns.sh up && $HARNESS/start-registry.sh"
nsenter --net="$NETNS" -- curl -fsS -o /dev/null http://127.0.0.1:5000/v2/ || die "the harness registry does not answer on 127.0.0.1:5000 in the netns (run $HARNESS/start-registry.sh)"
for b in runc conmon catatonit; do command -v "$b" >/dev/null || die "$b is not installed"; done

mkdir -p "$OUT"
if [ "${BUILD:-1}" != 0 ]; then
  log "building (tsc -p tsconfig.json)"
  npx --no-install tsc -p tsconfig.json >"$OUT/tsc.log" 2>&1 || log "tsc reported errors (see $OUT/tsc.log); using what it emitted"
fi
[ -f dist/hack/bench/lifecycle.js ] && [ -f dist/src/main.js ] || die "build output missing (dist/hack/bench/lifecycle.js, dist/src/main.js)"
DRIVER=(nsenter --net="$NETNS" -- node dist/hack/bench/lifecycle.js run --rounds "$N" --execs "$EXECS"
  --stop-timeout "$STOP_TIMEOUT" --image "$IMAGE" ${SYSTEMD_SLICES:+--systemd-slices})

trap bench_cleanup EXIT

# run_one RUNTIME JSON PODS: start the runtime, run the driver, stop the runtime.
run_one() {
  local rt=$1 json=$2 pods=$3 pid
  rm -f "$json"
  case "$rt" in
  containerd)
    ctd_running && die "the harness containerd is already running (pid $(cat "$CTD_PIDFILE")), started by someone else; stop it with $HARNESS/stop-containerd.sh or set RUNTIMES=fune"
    pid=$(start_containerd)
    ctd_started=1
    "${DRIVER[@]}" --pods "$pods" --label containerd --socket "$CTD_SOCK" --daemon-pid "$pid" \
      --marker="-address $CTD_SOCK" --out "$json" || log "containerd run failed (exit $?)"
    stop_containerd
    ;;
  fune)
    ctd_running && log "WARNING: the harness containerd (pid $(cat "$CTD_PIDFILE")) is running alongside fune"
    start_fune
    "${DRIVER[@]}" --pods "$pods" --label fune --socket "$FUNE_STATE/fune.sock" --daemon-pid "$fune_pid" \
      --marker "$FUNE_STATE/" --marker "$FUNE_ROOT/" --out "$json" || log "fune run failed (exit $?)"
    stop_fune
    left=$(pgrep -f -- "$FUNE_STATE/" || true)
    [ -z "$left" ] || log "WARNING: processes still refer to $FUNE_STATE after fune stopped: $(echo $left)"
    ;;
  esac
}

for rt in $RUNTIMES; do
  case "$rt" in
  containerd) command -v containerd >/dev/null || die "containerd is not installed (apt-get install containerd)" ;;
  fune) ;;
  *) die "unknown runtime $rt (containerd | fune)" ;;
  esac
done
work=$(mktemp -d /tmp/fune-bench.XXXXXX)
harness_fune_config "$work" "$HARNESS"
: >"$OUT/fune.log"
rm -f "$OUT"/*.json

# Passes alternate the runtimes so that a change in host load hits both; memory is measured in the last pass.
results=()
for pass in $(seq "$PASSES"); do
  pods=0; [ "$pass" = "$PASSES" ] && pods=$PODS
  for rt in $RUNTIMES; do
    [ "$PASSES" = 1 ] && json="$OUT/$rt.json" || json="$OUT/$rt-$pass.json"
    run_one "$rt" "$json" "$pods"
    [ -f "$json" ] && results+=("$json")
  done
done

[ ${#results[@]} -gt 0 ] || die "no results"
node dist/hack/bench/lifecycle.js report "${results[@]}" | tee "$OUT/report.txt"
