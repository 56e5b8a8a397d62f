#!/usr/bin/env bash
# Idempotent host set-up for fune, used by both `npm start` and `npm test`:
#   1. installs the Debian/Ubuntu packages fune needs at run time (and, with --test, those its tests need),
#      skipping what is already present;
#   2. installs npm dependencies when node_modules is missing or older than the lockfile;
#   3. builds the native posix_spawn addon (hack/build-native.sh) and the TypeScript sources into dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# Run-time packages: the OCI runtime, the container monitor, the infra process, CNI plugins, and the tools
# fune calls for networking and mounts.
RUNTIME_PKGS=(runc conmon catatonit containernetworking-plugins iptables iproute2 util-linux mount procps attr)
# node-pty (TTY exec) has no prebuilt binary for Linux: npm builds it with node-gyp, which needs these.
RUNTIME_PKGS+=(g++ make python3)
# Test-only packages: a real registry, htpasswd for its auth, busybox to build test images from, zstd/tar for
# crafted layers, jq for the scripts, Prometheus (and its promtool) to scrape and lint the metrics endpoint.
TEST_PKGS=(docker-registry apache2-utils busybox-static zstd tar jq curl prometheus criu)

missing=()
check() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || missing+=("$1"); }

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  for p in "${RUNTIME_PKGS[@]}"; do check "$p"; done
  if [ "$want_test" = 1 ]; then for p in "${TEST_PKGS[@]}"; do check "$p"; done; fi
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "fune set-up: missing packages (${missing[*]}); run as root to install them" >&2
      exit 1
    fi
    echo "fune set-up: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "fune set-up: this is not a Debian or Ubuntu system (no apt-get); install these yourself:" >&2
  echo "  ${RUNTIME_PKGS[*]}" >&2
  [ "$want_test" = 1 ] && echo "  and for the tests: ${TEST_PKGS[*]}" >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "fune set-up: installing npm dependencies" >&2
  # npm 11 leaves the optional per-platform packages of node-unix-socket out of the lockfile and then refuses
  # `npm ci`; `npm install` still installs exactly the locked versions.
  npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund >/dev/null
fi

# The posix_spawn addon behind ProcessRunner (optional: without it programs start through child_process).
bash hack/build-native.sh

echo "fune set-up: building" >&2
npx --no-install tsc -p tsconfig.json

# The default pod network (hack/cni/10-fune.conflist), installed only where `[cni] conf_dir` holds no configuration.
if [ "$(id -u)" = 0 ]; then
  node dist/hack/cni/install-default.js ${FUNE_CONFIG:+--config "$FUNE_CONFIG"}
fi
