# shellcheck shell=bash
# Shared settings and helpers of fune's VM tier (hack/vm/*.sh). Two places hold state:
#   * the image cache, $FUNE_VM_CACHE (default /var/cache/fune-vm), outside any checkout: one directory per image
#     key (a hash of the scripts that build the image, the package list and the host's node binary), so that a
#     change to any of them builds a new image and a checkout with the old scripts keeps using the old one;
#   * the run directory of one checkout, <checkout>/.tmp/vm (or $FUNE_VM_RUN): the disk overlay of the current
#     boot, QEMU's pid file, the ssh port, the serial console log.
VM_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VM_CHECKOUT="$(cd "$VM_HERE/../.." && pwd)"
VM_SUITE=bookworm                                   # Debian 12, as the host
VM_CACHE="${FUNE_VM_CACHE:-/var/cache/fune-vm}"
VM_RUN="${FUNE_VM_RUN:-$VM_CHECKOUT/.tmp/vm}"
VM_PIDFILE="$VM_RUN/qemu.pid"
VM_PORTFILE="$VM_RUN/ssh.port"
VM_CONSOLE="$VM_RUN/console.log"
VM_OVERLAY="$VM_RUN/overlay.qcow2"
VM_QMP="$VM_RUN/qmp.sock"                          # QEMU's QMP socket: its run state when the guest stops answering
VM_HOST_PKGS=(qemu-system-x86 qemu-utils mmdebstrap e2fsprogs openssh-client)

vm_log() { printf '[vm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
vm_die() { vm_log "ERROR: $*"; exit 1; }

# vm_guest_pkgs: the guest's package list (packages.txt without comments and blank lines).
vm_guest_pkgs() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$VM_HERE/packages.txt" | tr -s ' \t' '\n' | sed '/^$/d'; }

# vm_key: the image key. Everything that goes into the image is hashed: the build scripts, the package list and
# the node binary copied in from the host (a host node upgrade rebuilds the guest).
vm_key() {
  { cat "$VM_HERE/build-image.sh" "$VM_HERE/guest-setup.sh" "$VM_HERE/packages.txt"
    sha256sum "$(readlink -f "$(command -v node)")" | cut -d' ' -f1; } | sha256sum | cut -c1-16
}
VM_IMAGE_DIR="$VM_CACHE/$(vm_key)"
VM_IMG="$VM_IMAGE_DIR/rootfs.img"
VM_KERNEL="$VM_IMAGE_DIR/vmlinuz"
VM_INITRD="$VM_IMAGE_DIR/initrd.img"
VM_KEY="$VM_IMAGE_DIR/id_ed25519"
VM_DONE="$VM_IMAGE_DIR/complete"                    # written last by build-image.sh: the image is whole

vm_image_ready() { [ -s "$VM_DONE" ] && [ -s "$VM_IMG" ] && [ -s "$VM_KERNEL" ] && [ -s "$VM_INITRD" ] && [ -s "$VM_KEY" ]; }

# vm_pid: the PID of this checkout's QEMU, if the pid file names a live QEMU process started on our overlay.
vm_pid() {
  local pid
  [ -s "$VM_PIDFILE" ] || return 1
  pid="$(cat "$VM_PIDFILE")"
  [ -d "/proc/$pid" ] || return 1
  [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = qemu-system-x86_64 ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$VM_OVERLAY" || return 1
  echo "$pid"
}

# vm_ssh [SSH-OPTION...] -- CMD: one ssh into the guest as root, through QEMU's forward on 127.0.0.1 (the only way in).
vm_ssh() {
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  [ -s "$VM_PORTFILE" ] || vm_die "no $VM_PORTFILE: the guest is not running (hack/vm/boot.sh)"
  ssh -F none -i "$VM_KEY" -p "$(cat "$VM_PORTFILE")" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o ConnectTimeout=10 -o ServerAliveInterval=15 -o ServerAliveCountMax=8 \
    "${opts[@]}" root@127.0.0.1 -- "$@"
}

# vm_status: QEMU's run state from its QMP socket (hack/vm/qmp-status.ts, built into dist/): running, io-error,
# paused, ... or "unknown" when QEMU does not answer.
vm_status() { node "$VM_CHECKOUT/dist/hack/vm/qmp-status.js" "$VM_QMP" 2>/dev/null || echo unknown; }

# vm_disk_free: the free space of the file system that holds the boot's overlay (the guest's writes land there).
vm_disk_free() { df -h --output=avail "$VM_RUN" 2>/dev/null | tail -n 1 | tr -d ' '; }

# vm_lost WHAT: what is known when the guest stopped (or never started) answering ssh: QEMU's own run state (QMP
# query-status: "io-error" means a write to the overlay failed, and QEMU has paused the guest; with the host's disk
# full that is the usual cause), the space left for the overlay, and the tail of the serial console (kernel
# messages: OOM, soft lockups, hung tasks, panics). The whole console log is kept as .tmp/vm-logs/console.log.
vm_lost() {
  local st
  st="$(vm_status)"
  vm_log "$1: QEMU pid $(vm_pid || echo '(gone)'), run state '${st:-unknown}', $(vm_disk_free) free beside the overlay"
  [ "$st" = io-error ] && vm_log "QEMU paused the guest after a failed disk write: is the host's disk full? (df -h $VM_RUN)"
  mkdir -p "$VM_CHECKOUT/.tmp/vm-logs" && cp -f "$VM_CONSOLE" "$VM_CHECKOUT/.tmp/vm-logs/console.log" 2>/dev/null || true
  vm_log "the console's last 40 lines (colours and systemd's progress spinner left out):"
  sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r//g' "$VM_CONSOLE" 2>/dev/null | grep -av 'Job .* running (' | tail -n 40 | sed 's/^/  | /' >&2 || true
}
