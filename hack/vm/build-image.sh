#!/usr/bin/env bash
# hack/vm/build-image.sh: builds the VM tier's guest image into $FUNE_VM_CACHE/<key>/ (see lib.sh), unless it is
# there already: a Debian 12 root filesystem made by mmdebstrap from the Debian mirror the host's apt uses (read
# from `apt-get indextargets` when this runs), stored as a raw ext4 image made with `mkfs.ext4 -d` (no loop device),
# the guest's own kernel and initrd beside it, and an ssh key for root.
#
# Builds run one at a time (flock on $FUNE_VM_CACHE/build.lock); a finished image is never changed again, so a
# running guest can use it while another is built. After a build, images of other keys that no running guest holds
# (boot.sh keeps a shared flock on <key>/use.lock) are removed. FUNE_VM_REBUILD=1 builds this key again.
# Knobs: FUNE_VM_CACHE, FUNE_VM_DISK (image size, default 16G, sparse).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || vm_die "build-image.sh needs root (mmdebstrap --mode=root)"
mkdir -p "$VM_CACHE"
exec 8>"$VM_CACHE/build.lock"
flock 8
if vm_image_ready && [ -z "${FUNE_VM_REBUILD:-}" ]; then
  vm_log "image $VM_IMAGE_DIR is ready"
  exit 0
fi
t0=$(date +%s)

# --- host packages: QEMU, mmdebstrap, mkfs.ext4 -d, ssh
missing=()
for p in "${VM_HOST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  vm_log "installing host packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the host's sources for bookworm, -updates and -security (never written down here)
mapfile -t mirrors < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' \
  | awk -v s="$VM_SUITE" '$2 == s || $2 == s "-updates" || $2 == s "-security" { print "deb " $1 " " $2 " " $3 }' | sort -u)
[ "${#mirrors[@]}" -gt 0 ] || vm_die "the host's apt has no $VM_SUITE sources (run apt-get update)"

dir="$VM_IMAGE_DIR"
rm -rf "$dir" && mkdir -p "$dir/debs"
ssh-keygen -q -t ed25519 -N '' -C fune-vm-tier -f "$VM_KEY"
# .debs that test-image builders fetch with `apt-get download` on the host; the guest cannot download
(cd "$dir/debs" && apt-get download -q busybox busybox-static >/dev/null 2>&1) || vm_die "apt-get download busybox busybox-static failed"

mapfile -t pkgs < <(vm_guest_pkgs)
tree="$dir/tree"
# Left out of the tree: documentation and kernel modules no guest of this tier loads (dpkg globs, kept quoted).
excl=('/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*'
      '/lib/modules/*/kernel/drivers/gpu/*' '/lib/modules/*/kernel/drivers/media/*' '/lib/modules/*/kernel/sound/*'
      '/lib/modules/*/kernel/drivers/net/wireless/*' '/lib/modules/*/kernel/drivers/infiniband/*'
      '/lib/modules/*/kernel/drivers/staging/*' '/lib/modules/*/kernel/drivers/bluetooth/*'
      '/lib/modules/*/kernel/net/wireless/*' '/lib/modules/*/kernel/drivers/scsi/*' '/lib/modules/*/kernel/drivers/usb/*')
dpkgopts=('--dpkgopt=path-include=/usr/share/doc/*/copyright')
for e in "${excl[@]}"; do dpkgopts+=("--dpkgopt=path-exclude=$e"); done
vm_log "mmdebstrap $VM_SUITE: ${#pkgs[@]} packages from ${mirrors[*]}"
# The initrd needs only virtio and ext4 to find the root disk (MODULES=list: small and quick to unpack under TCG).
mmdebstrap --mode=root --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" "${dpkgopts[@]}" \
  --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"
    echo MODULES=list > "$1/etc/initramfs-tools/conf.d/fune-vm"
    printf "virtio_pci\nvirtio_blk\next4\n" > "$1/usr/share/initramfs-tools/modules.d/fune-vm"' \
  --customize-hook="bash $(printf %q "$VM_HERE/guest-setup.sh") \"\$1\" $(printf %q "$dir")" \
  "$VM_SUITE" "$tree" "${mirrors[@]}" >"$dir/mmdebstrap.log" 2>&1 || { tail -n 30 "$dir/mmdebstrap.log" >&2; vm_die "mmdebstrap failed"; }

kver="$(basename "$(ls -d "$tree"/lib/modules/* | sort -V | tail -n1)")"
install -m 0644 "$tree/boot/vmlinuz-$kver" "$VM_KERNEL"
install -m 0644 "$tree/boot/initrd.img-$kver" "$VM_INITRD"
truncate -s "${FUNE_VM_DISK:-16G}" "$VM_IMG"
mkfs.ext4 -q -F -L fune-vm -E lazy_itable_init=1,lazy_journal_init=1 -d "$tree" "$VM_IMG"
rm -rf "$tree" "$dir/debs"
{ echo "key $(vm_key)"; echo "kernel $kver"; echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - t0 ))s"; } >"$VM_DONE"
vm_log "built $dir in $(( $(date +%s) - t0 ))s (kernel $kver, $(du -sh --apparent-size "$VM_IMG" | cut -f1) sparse, $(du -sh "$VM_IMG" | cut -f1) used)"

# --- drop images of other keys that no guest uses (boot.sh holds <key>/use.lock shared while its guest runs)
for old in "$VM_CACHE"/*/; do
  old="${old%/}"
  [ "$old" = "$dir" ] && continue
  # The lock is held while the directory goes, so no guest can start on it meanwhile.
  ( exec 7>"$old/use.lock" && flock -n -x 7 && rm -rf "$old" ) && vm_log "removed the unused image $old"
done
exit 0
