# shellcheck shell=bash
# Starting and stopping the two runtimes the benchmarks compare, inside the harness network namespace. Sourced by
# hack/bench/lifecycle.sh and streaming.sh, which set HARNESS, NETNS, OUT, FUNE_ROOT, FUNE_STATE and `work` (whose
# config.toml comes from harness_fune_config) and define log/die.
CTD_SOCK=/run/containerd-anchor/containerd.sock
CTD_PIDFILE=/run/cri-harness/containerd.pid
ctd_started= fune_pid= work=

# ctd_running: is the harness containerd up (started by us or by someone else)?
ctd_running() { [ -s "$CTD_PIDFILE" ] && [ -d "/proc/$(cat "$CTD_PIDFILE")" ]; }

# start_containerd: starts the harness containerd and prints its pid. It runs in the caller's $(…), so the caller
# sets ctd_started=1 for bench_cleanup.
start_containerd() {
  log "starting containerd ($HARNESS/start-containerd.sh)"
  # CTD_HARNESS_DIR: a copy of the harness's containerd/ folder with another config (hack/vm: the systemd driver).
  ${CTD_HARNESS_DIR:+env HARNESS_DIR="$CTD_HARNESS_DIR"} "$HARNESS/start-containerd.sh" 2>>"$OUT/containerd-start.log" | tail -n1
}

stop_containerd() {
  log "stopping containerd"
  "$HARNESS/stop-containerd.sh" >/dev/null 2>&1 || true
  ctd_started=
}

# start_fune [NODE_ARGS…]: starts fune on FUNE_ROOT/FUNE_STATE and waits until it is ready; sets fune_pid
# (nsenter execs node, so $! is the daemon's pid).
start_fune() {
  log "starting fune (root $FUNE_ROOT, state $FUNE_STATE, log $OUT/fune.log)"
  nsenter --net="$NETNS" -- node --max-semi-space-size=1 --v8-pool-size=1 "$@" dist/src/main.js daemon \
    --config "$work/config.toml" --root "$FUNE_ROOT" --state "$FUNE_STATE" --log-level "${LOG_LEVEL:-info}" 2>>"$OUT/fune.log" &
  fune_pid=$!
  # FUNE_START_WAIT seconds (20; about a minute under TCG in the test guest).
  for _ in $(seq $((${FUNE_START_WAIT:-20} * 10))); do [ -S "$FUNE_STATE/fune.sock" ] && grep -q 'fune is ready' "$OUT/fune.log" && break; sleep 0.1; done
  [ -d "/proc/$fune_pid" ] || die "fune exited at start-up, see $OUT/fune.log"
}

stop_fune() {
  log "stopping fune (pid $fune_pid)"
  kill -TERM "$fune_pid"; wait "$fune_pid" 2>/dev/null || true
  fune_pid=
}

# bench_cleanup: stops whatever this script started (fune by pid, containerd by the harness's script) and removes
# the work dir; installed as the EXIT trap.
bench_cleanup() {
  if [ -n "$fune_pid" ] && [ -d "/proc/$fune_pid" ]; then
    kill -TERM "$fune_pid" 2>/dev/null || true
    for _ in $(seq 100); do [ -d "/proc/$fune_pid" ] || break; sleep 0.1; done
    [ -d "/proc/$fune_pid" ] && kill -KILL "$fune_pid" 2>/dev/null || true
  fi
  [ -n "$ctd_started" ] && "$HARNESS/stop-containerd.sh" >/dev/null 2>&1 || true
  [ -n "$work" ] && rm -rf "$work"
  return 0
}
