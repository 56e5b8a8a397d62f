#!/usr/bin/env bash
# Builds fune's native addons native/spawn (posix_spawn behind ProcessRunner, see src/sys/fast-spawn.ts) and
# native/netns (port-forward connects from a thread in the pod's netns, see src/sys/netns-connect.ts) and
# native/seqpacket (conmon's attach socket, whose reading pauses while the client is full, see src/sys/seqpacket.ts),
# native/idmap (idmapped mounts, src/sys/idmap.ts) and native/mount (mount(2)/umount2(2) without mount(8), src/sys/mount.ts)
# with the node-gyp that npm bundles, against the Node headers installed beside node (nothing is downloaded). Does nothing
# when the built addon is newer than its sources. A failed build is not fatal: fune then starts programs with
# child_process.spawn, port-forward dials through helper processes, and attach reads conmon's socket through
# node-unix-socket, without pausing (and the addons' tests fail, so CI notices).
set -uo pipefail
cd "$(dirname "$0")/.."
# native/netns and native/seqpacket: this script again, on those folders.
[ -z "${FUNE_ADDON:-}" ] && for a in netns seqpacket idmap mount; do FUNE_ADDON=$a bash hack/build-native.sh; done
dir=native/${FUNE_ADDON:-spawn}
out=$dir/build/Release/fune_${FUNE_ADDON:-spawn}.node
what="the posix_spawn addon" fallback="child_process.spawn is used"
[ "$dir" = native/netns ] && what="the setns addon" fallback="port-forward uses helper processes"
[ "$dir" = native/seqpacket ] && what="the attach socket addon" fallback="attach output is not paused for slow clients"
[ "$dir" = native/idmap ] && what="the idmapped mount addon" fallback="user namespaces (POD mode) are not offered"
[ "$dir" = native/mount ] && what="the mount addon" fallback="mounts are made with mount(8) and umount(8)"
if [ -f "$out" ] && [ -z "$(find "$dir" -maxdepth 1 -newer "$out" \( -name '*.c' -o -name binding.gyp \))" ]; then
  exit 0
fi
gyp=${npm_config_node_gyp:-}
if [ ! -f "$gyp" ] && command -v npm >/dev/null 2>&1; then
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
fi
if [ ! -f "$gyp" ]; then
  echo "fune set-up: node-gyp not found; $what is not built ($fallback)" >&2
  exit 0
fi
args=(rebuild --directory="$dir")
prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
[ -f "$prefix/include/node/node_api.h" ] && args+=(--nodedir="$prefix")
echo "fune set-up: building $what" >&2
if ! log="$(node "$gyp" "${args[@]}" 2>&1)"; then
  echo "$log" | tail -20 >&2
  echo "fune set-up: $what did not build ($fallback)" >&2
fi
exit 0
