#!/usr/bin/env bash
# hack/bench/pull.sh — cold image pull benchmark, fune and containerd side by side in one run.
#
# Starts, all on private dirs and loopback only (host network namespace):
#   - Debian's docker-registry on 127.0.0.1:<free port>, and pushes `fune-bench/multilayer:latest` to it
#     (busybox from Debian's busybox-static + LAYERS layers of pseudo-random data, about MB megabytes, gzip);
#   - Debian's containerd with its own config, root, state and socket, and a hosts.toml for the registry;
#   - fune (node dist/src/main.js daemon) with its own root, state and the same hosts.toml.
# Then times N cold CRI PullImage calls per runtime (node dist/hack/bench/pull.js run; the image, its blobs and
# its layers/snapshots are removed and checked gone before each pull) and prints median/min/max side by side.
#
# Needs: root, the Debian packages containerd and docker-registry, a fune build (this script runs tsc).
# Knobs: N=5 (rounds), LAYERS=6, MB=80, RUNTIMES="fune containerd", OUT (default .tmp/bench-pull), LOG_LEVEL (fune's),
#        FUNE_NODE_ARGS (node flags for fune added to the shipped ones, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-5} LAYERS=${LAYERS:-6} MB=${MB:-80}
RUNTIMES=${RUNTIMES:-fune containerd}
OUT=${OUT:-$PWD/.tmp/bench-pull}
FUNE_ROOT=/var/lib/fune-pullbench FUNE_STATE=/run/fune-pullbench
CTD_ROOT=/var/lib/fune-pullbench-containerd CTD_STATE=/run/fune-pullbench-containerd
CTD_SOCK=$CTD_STATE/containerd.sock

die() { echo "pull.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[ "$(id -u)" = 0 ] || die "must run as root"
for b in containerd ctr docker-registry; do command -v "$b" >/dev/null || die "$b is not installed"; done

mkdir -p "$OUT"
log "building (tsc -p tsconfig.json)"
npx --no-install tsc -p tsconfig.json >"$OUT/tsc.log" 2>&1 || log "tsc reported errors (see $OUT/tsc.log); using what it emitted"
[ -f dist/hack/bench/pull.js ] && [ -f dist/src/main.js ] || die "build output missing"

work=$(mktemp -d /tmp/fune-pullbench.XXXXXX)
reg_pid= ctd_pid= fune_pid=
stop() { # pid: TERM, wait up to 10 s, then KILL
  local p=$1
  [ -n "$p" ] && [ -d "/proc/$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do [ -d "/proc/$p" ] || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
  stop "$fune_pid"; stop "$ctd_pid"; stop "$reg_pid"
  # containerd leaves its snapshots mounted nowhere (no containers), so plain removal is safe.
  rm -rf "$work" "$FUNE_ROOT" "$FUNE_STATE" "$CTD_ROOT" "$CTD_STATE"
}
trap cleanup EXIT
rm -rf "$FUNE_ROOT" "$FUNE_STATE" "$CTD_ROOT" "$CTD_STATE"

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
REG=127.0.0.1:$port
cat >"$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $REG
YAML
docker-registry serve "$work/registry.yml" 2>"$OUT/registry.log" &
reg_pid=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "http://$REG/v2/" || die "registry did not start (see $OUT/registry.log)"
log "registry on $REG (pid $reg_pid); building and pushing the image"
node dist/hack/bench/pull.js push --registry "$REG" --layers "$LAYERS" --mb "$MB" >&2

mkdir -p "$work/certs.d/$REG" "$work/net.d"
printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$REG" "$REG" >"$work/certs.d/$REG/hosts.toml"

args=()
case " $RUNTIMES " in *" containerd "*)
  cat >"$work/containerd.toml" <<TOML
version = 2
root = "$CTD_ROOT"
state = "$CTD_STATE"
[grpc]
  address = "$CTD_SOCK"
[ttrpc]
  address = "$CTD_SOCK.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTD_ROOT/opt"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_tcp_service = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "$work/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$work/certs.d"
TOML
  containerd --config "$work/containerd.toml" >"$OUT/containerd.log" 2>&1 </dev/null &
  ctd_pid=$!
  for _ in $(seq 200); do [ -S "$CTD_SOCK" ] && ctr --address "$CTD_SOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
  [ -d "/proc/$ctd_pid" ] || die "containerd exited at start-up (see $OUT/containerd.log)"
  log "containerd $(containerd --version | awk '{print $3}') up (pid $ctd_pid, root $CTD_ROOT)"
  args+=(--ctd-socket "$CTD_SOCK" --ctd-root "$CTD_ROOT" --ctd-pid "$ctd_pid")
  ;;
esac
case " $RUNTIMES " in *" fune "*)
  cat >"$work/fune.toml" <<TOML
[registry]
config_path = "$work/certs.d"
[cni]
conf_dir = "$work/net.d"
TOML
  # The node flags of the shipped start (package.json, the binary's shebang), plus FUNE_NODE_ARGS.
  # shellcheck disable=SC2086 # FUNE_NODE_ARGS is a list of node flags, e.g. "--cpu-prof --cpu-prof-dir=DIR"
  node --max-semi-space-size=1 --v8-pool-size=1 ${FUNE_NODE_ARGS:-} dist/src/main.js daemon --config "$work/fune.toml" --root "$FUNE_ROOT" --state "$FUNE_STATE" \
    --log-level "${LOG_LEVEL:-info}" 2>"$OUT/fune.log" &
  fune_pid=$!
  for _ in $(seq 200); do [ -S "$FUNE_STATE/fune.sock" ] && grep -q 'fune is ready' "$OUT/fune.log" && break; sleep 0.1; done
  [ -d "/proc/$fune_pid" ] || die "fune exited at start-up (see $OUT/fune.log)"
  log "fune up (pid $fune_pid, root $FUNE_ROOT)"
  args+=(--fune-socket "$FUNE_STATE/fune.sock" --fune-root "$FUNE_ROOT" --fune-pid "$fune_pid")
  ;;
esac

node dist/hack/bench/pull.js run --registry "$REG" --rounds "$N" --runtimes "$RUNTIMES" --out "$OUT/result.json" "${args[@]}" \
  2> >(tee "$OUT/rounds.log" >&2) | tee "$OUT/report.txt"
