#!/usr/bin/env bash
# hack/vm/available.sh: tells whether this machine can run the VM tier. Exit 0 when it can; otherwise exit 1 with
# the reason on stdout (one line), which hack/test.sh prints when it skips the tier. The guest can boot here when:
#   * we are root (QEMU's 9p passthrough and mmdebstrap --mode=root) on x86_64;
#   * the checkout's path can be shared over 9p (no , = : or space in it);
#   * MemAvailable covers the guest (FUNE_VM_MEM, 4096 MiB) plus 1.5 GiB for QEMU's own use under TCG;
#   * the image is cached for this checkout's scripts, or it can be built: apt-get is there, the host packages
#     (VM_HOST_PKGS in lib.sh) are installed or installable, the Debian mirror the host's apt uses answers (one
#     small file fetched through apt's own downloader, so apt's proxy settings apply) and the cache has 4 GiB free.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
no() { echo "$*"; exit 1; }
[ "$(id -u)" = 0 ] || no "not root"
[ "$(uname -m)" = x86_64 ] || no "not an x86_64 host"
case "$VM_CHECKOUT" in *[,=\ :]*) no "the checkout path $VM_CHECKOUT cannot be shared over 9p (, = : or space)" ;; esac
avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
need=$(( ${FUNE_VM_MEM:-4096} + 1536 ))
[ "$avail" -ge "$need" ] || no "only ${avail} MiB of memory available, the guest needs ${need}"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
if vm_image_ready; then
  for p in qemu-system-x86 qemu-utils openssh-client; do
    installed "$p" || [ -n "$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"')" ] \
      || no "the image is cached but $p is neither installed nor installable"
  done
  exit 0
fi
command -v apt-get >/dev/null && [ -x /usr/lib/apt/apt-helper ] || no "no apt-get: the guest image is built from Debian packages"
for p in "${VM_HOST_PKGS[@]}"; do
  installed "$p" || [ -n "$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"')" ] \
    || no "host package $p is not installable (apt-get update?)"
done
uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 2>/dev/null | awk -v s="$VM_SUITE" '$2 == s { print $1; exit }')
[ -n "$uri" ] || no "the host's apt has no $VM_SUITE source"
probe=$(mktemp)
timeout 30 /usr/lib/apt/apt-helper download-file "${uri}dists/$VM_SUITE/Release.gpg" "$probe" >/dev/null 2>&1
ok=$?; rm -f "$probe"
[ "$ok" = 0 ] || no "the Debian mirror ${uri} does not answer (the first image build needs it)"
mkdir -p "$VM_CACHE" 2>/dev/null || no "cannot create the image cache $VM_CACHE"
free=$(df -Pm "$VM_CACHE" | awk 'NR == 2 { print $4 }')
[ "$free" -ge 4096 ] || no "only ${free} MiB free in $VM_CACHE; building the image needs 4096"
exit 0
