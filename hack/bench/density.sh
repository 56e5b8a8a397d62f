#!/usr/bin/env bash
# hack/bench/density.sh — node density benchmark: 110 and 250 pods, containerd and fune side by side in one run.
#
# For each runtime (the harness's containerd, then fune on private dirs with the harness's registry mirrors and CNI
# config, as lifecycle.sh runs them, in the `criharness` netns one after the other): start PODS pods (one busybox
# `sleep` container each) from CLIENTS concurrent workers, time until all are running, measure memory and RELIST
# seconds of the kubelet's relist with the daemon's CPU per relist at each count, then remove every pod and count
# what is left (fds, helpers, mounts, netns, cgroups). Prints one table and one line per figure, and writes the
# report with the host's load to OUT/report.txt (RESULT=FILE copies it there too, e.g. hack/bench/results/…).
#
# Needs what lifecycle.sh needs (harness up with its containerd stopped, containerd/runc/conmon/catatonit/CNI
# plugins, npm ci). Root. Take the harness lock around it: flock -o /work/harness.lock hack/bench/density.sh
#
# Knobs: PODS=110,250 (increasing counts), CLIENTS=10, RELIST=60 (seconds at each count; 0 skips), STOP_TIMEOUT=10,
#        ROUNDS=1 (runs per runtime, alternated in order; each figure is the median of a runtime's runs),
#        RUNTIMES="containerd fune", IMAGE, OUT (default .tmp/density), RESULT, HARNESS, LOG_LEVEL (fune's),
#        FUNE_NODE_ARGS (more node flags for fune, e.g. --cpu-prof --cpu-prof-dir=DIR), BUILD=0 (run dist/ as it is, to
#        compare two builds).
set -euo pipefail
. "$(dirname "$0")/../harness-config.sh"
. "$(dirname "$0")/runtimes.sh"
cd "$(dirname "$0")/../.."
HARNESS=${HARNESS:-$(cd ../shared/harness 2>/dev/null || cd ../../shared/harness; pwd)}  # from a worktree in ../wt/NAME too
NETNS=/run/netns/criharness
PODS=${PODS:-110,250} CLIENTS=${CLIENTS:-10} RELIST=${RELIST:-60} STOP_TIMEOUT=${STOP_TIMEOUT:-10} ROUNDS=${ROUNDS:-1}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "density.sh: ROUNDS=$ROUNDS is not a positive whole number" >&2; exit 1; }
RUNTIMES=${RUNTIMES:-containerd fune}
IMAGE=${IMAGE:-registry.k8s.io/e2e-test-images/busybox:1.29-2}
OUT=${OUT:-$PWD/.tmp/density}
FUNE_ROOT=${FUNE_ROOT:-/var/lib/fune-bench} FUNE_STATE=${FUNE_STATE:-/run/fune-bench}

die() { echo "density.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -e "$NETNS" ] && nsenter --net="$NETNS" -- true || die "harness netns is not up: run $HARNESS/netns.sh up && $HARNESS/start-registry.sh"
nsenter --net="$NETNS" -- curl -fsS -o /dev/null http://127.0.0.1:5000/v2/ || die "the harness registry does not answer on 127.0.0.1:5000 in the netns (run $HARNESS/start-registry.sh)"
for b in runc conmon catatonit; do command -v "$b" >/dev/null || die "$b is not installed"; done
for rt in $RUNTIMES; do
  case "$rt" in
  containerd) command -v containerd >/dev/null || die "containerd is not installed (apt-get install containerd)" ;;
  fune) ;;
  *) die "unknown runtime $rt (containerd | fune)" ;;
  esac
done

# Host limits for the largest count: each pod costs the daemons a few fds (containerd: a shim connection and its
# fifos; fune: a conmon socket, the exit watch and log pipes), one pid namespace with two processes and a helper,
# and inotify instances (containerd's shims and conmon watch nothing per pod, but leave room for the rest).
max=${PODS##*,}
need_fd=$((max * 8 + 1024)) need_pid=$((max * 6 + 2048))
[ "$(ulimit -n)" -ge "$need_fd" ] || ulimit -n "$need_fd" 2>/dev/null || die "open files limit $(ulimit -n) < $need_fd for $max pods"
[ "$(cat /proc/sys/kernel/pid_max)" -ge "$need_pid" ] || die "kernel.pid_max $(cat /proc/sys/kernel/pid_max) < $need_pid for $max pods"
[ "$(cat /proc/sys/kernel/threads-max)" -ge "$need_pid" ] || die "kernel.threads-max too low for $max pods"
[ "$(cat /proc/sys/fs/file-max)" -ge $((need_fd * 4)) ] || die "fs.file-max $(cat /proc/sys/fs/file-max) too low for $max pods"
[ "$(cat /proc/sys/fs/inotify/max_user_instances)" -ge 128 ] || die "fs.inotify.max_user_instances < 128"
limits="ulimit -n $(ulimit -n), pid_max $(cat /proc/sys/kernel/pid_max), threads-max $(cat /proc/sys/kernel/threads-max), file-max $(cat /proc/sys/fs/file-max), inotify instances $(cat /proc/sys/fs/inotify/max_user_instances) watches $(cat /proc/sys/fs/inotify/max_user_watches)"
log "limits: $limits"

mkdir -p "$OUT"
if [ "${BUILD:-1}" = 0 ]; then
  log "not building (BUILD=0): running dist/ as it is"
else
  log "building (tsc -p tsconfig.json)"
  npx --no-install tsc -p tsconfig.json >"$OUT/tsc.log" 2>&1 || log "tsc reported errors (see $OUT/tsc.log); using what it emitted"
fi
[ -f dist/hack/bench/density.js ] && [ -f dist/src/main.js ] || die "build output missing (dist/hack/bench/density.js, dist/src/main.js)"
DRIVER=(nsenter --net="$NETNS" -- node dist/hack/bench/density.js run --pods "$PODS" --clients "$CLIENTS"
  --relist "$RELIST" --stop-timeout "$STOP_TIMEOUT" --image "$IMAGE")

trap bench_cleanup EXIT
work=$(mktemp -d /tmp/fune-density.XXXXXX)
harness_fune_config "$work" "$HARNESS"
: >"$OUT/fune.log"
rm -f "$OUT"/*.json
loads=()
results=()
# ROUNDS > 1: the runtimes again, in the other order each round (containerd fune, fune containerd, ...), so that
# neither always runs into the host's later load; the report takes each figure's median over a runtime's runs.
order=()
for ((round = 1; round <= ROUNDS; round++)); do
  # shellcheck disable=SC2206
  these=($RUNTIMES)
  if ((round % 2 == 0)); then for ((i = ${#these[@]} - 1; i >= 0; i--)); do order+=("${these[i]}:$round"); done
  else for rt in "${these[@]}"; do order+=("$rt:$round"); done; fi
done
for entry in "${order[@]}"; do
  rt=${entry%%:*} round=${entry##*:}
  json="$OUT/$rt.json"
  [ "$ROUNDS" = 1 ] || json="$OUT/$rt.r$round.json"
  l0=$(cut -d' ' -f1-3 /proc/loadavg) t0=$(date +%s)
  case "$rt" in
  containerd)
    ctd_running && die "the harness containerd is already running (pid $(cat "$CTD_PIDFILE")), started by someone else; stop it with $HARNESS/stop-containerd.sh or set RUNTIMES=fune"
    pid=$(start_containerd)
    ctd_started=1
    "${DRIVER[@]}" --label containerd --socket "$CTD_SOCK" --daemon-pid "$pid" --marker="-address $CTD_SOCK" --out "$json" ||
      log "containerd run reported errors (exit $?)"
    stop_containerd
    ;;
  fune)
    ctd_running && log "WARNING: the harness containerd (pid $(cat "$CTD_PIDFILE")) is running alongside fune"
    # shellcheck disable=SC2086
    start_fune ${FUNE_NODE_ARGS:-}
    "${DRIVER[@]}" --label fune --socket "$FUNE_STATE/fune.sock" --daemon-pid "$fune_pid" \
      --marker "$FUNE_STATE/" --marker "$FUNE_ROOT/" --out "$json" || log "fune run reported errors (exit $?)"
    stop_fune
    left=$(pgrep -f -- "$FUNE_STATE/" || true)
    [ -z "$left" ] || log "WARNING: processes still refer to $FUNE_STATE after fune stopped: $(echo $left)"
    ;;
  esac
  loads+=("$rt$([ "$ROUNDS" = 1 ] || echo " round $round"): $(($(date +%s) - t0)) s, load average $l0 before, $(cut -d' ' -f1-3 /proc/loadavg) after")
  [ -f "$json" ] && results+=("$json")
done
[ ${#results[@]} -gt 0 ] || die "no results"
{
  echo "host: $(nproc) cores, $(uname -r), $limits"
  printf 'phase: %s\n' "${loads[@]}"
  echo "knobs: PODS=$PODS CLIENTS=$CLIENTS RELIST=$RELIST ROUNDS=$ROUNDS STOP_TIMEOUT=$STOP_TIMEOUT IMAGE=$IMAGE commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty')"
  node dist/hack/bench/density.js report "${results[@]}"
} | tee "$OUT/report.txt"
[ -z "${RESULT:-}" ] || cp "$OUT/report.txt" "$RESULT"
