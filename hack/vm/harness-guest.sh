#!/usr/bin/env bash
# hack/vm/harness-guest.sh: from the host, brings the shared test harness up inside this checkout's running guest
# (booted with FUNE_VM_SHARES set to the folder that holds the harness, e.g. FUNE_VM_SHARES=/work/shared, so that
# the guest sees it at the same path): the `criharness` network namespace, then the local registry with every
# critest image. When this host's harness has already built its images (/var/lib/harness-registry and
# /var/lib/harness-images, made by its build-images.sh), their storage is copied into the guest through ssh and the
# registry started on it (about 30 s under TCG); otherwise the guest builds them itself (build-images.sh: 7 minutes
# on an idle host, 45 on a loaded one). A measurement aid for critest-guest.sh and bench-guest.sh, not part of
# `npm test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
. hack/vm/lib.sh
HARNESS=${HARNESS:-$(cd ../shared/harness 2>/dev/null && pwd || echo /work/shared/harness)}
vm_pid >/dev/null || vm_die "this checkout's guest is not running (FUNE_VM_SHARES=$(dirname "$HARNESS") hack/vm/boot.sh)"
bash hack/vm/ssh.sh test -x "$HARNESS/netns.sh" ||
  vm_die "the guest does not see $HARNESS: boot it with FUNE_VM_SHARES=$(dirname "$HARNESS")"
bash hack/vm/ssh.sh bash -c "cd $(printf %q "$HARNESS") && ./netns.sh up" >/dev/null
if [ -s /var/lib/harness-images/images.txt ] && [ -d /var/lib/harness-registry ]; then
  vm_log "copying the registry's storage into the guest"
  tar -C /var/lib -cf - harness-registry harness-images |
    bash hack/vm/ssh.sh bash -c "tar -C /var/lib -xf - && cd $(printf %q "$HARNESS") && ./start-registry.sh" >/dev/null
else
  vm_log "no registry storage on this host: building the images in the guest"
  bash hack/vm/ssh.sh bash -c "cd $(printf %q "$HARNESS") && ./start-registry.sh && ./build-images.sh" >/dev/null
fi
n=$(bash hack/vm/ssh.sh bash -c 'wc -l < /var/lib/harness-images/images.txt')
vm_log "harness up in the guest: criharness netns, registry with $n image tags"
