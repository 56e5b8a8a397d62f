#!/usr/bin/env bash
# hack/vm/boot.sh: boots this checkout's guest in the background from a fresh copy-on-write overlay over the cached
# image (build-image.sh) and returns once it is ready: sshd answers (the boot unit orders it after the shares
# and swap) and `systemctl is-system-running --wait` is done. Prints QEMU's PID (also in .tmp/vm/qemu.pid).
#
# The guest's only NIC is QEMU user networking with restrict=on: it reaches nothing outside the VM, and the one
# way in is the ssh forward on 127.0.0.1. The checkout is at its own path in the guest (a copy on a disk of its own,
# see below), its .tmp/ shared over 9p so that tests write their report there; also shared over 9p, at the same
# paths: the /opt/cri-tools* folders (read-only) and whatever the knobs add.
#
# Knobs: FUNE_VM_MEM (MiB, 4096), FUNE_VM_CPUS (2), FUNE_VM_SWAP (guest swap file, 1G; 0 = none),
#   FUNE_VM_ACCEL (auto | kvm | tcg), FUNE_VM_SHARES / FUNE_VM_RO_SHARES (more read-write / read-only folders,
#   space separated; FUNE_VM_RO_SHARES replaces the /opt/cri-tools* default), FUNE_VM_BOOT_TIMEOUT (s, 600),
#   FUNE_VM_CMDLINE (appended to the kernel command line), FUNE_VM_LIVE=1 (the whole checkout over 9p, see below).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || vm_die "boot.sh needs root (9p passthrough)"
vm_image_ready || vm_die "no image at $VM_IMAGE_DIR: run hack/vm/build-image.sh"
if pid="$(vm_pid)"; then vm_die "this checkout's guest already runs (QEMU pid $pid): hack/vm/halt.sh first"; fi
mkdir -p "$VM_RUN"

# --- accelerator. This host family's /dev/kvm is kvm_pvm, which runs only PVM-built guest kernels; Debian's kernel
#     dies there (MSR and emulation failures), so auto means TCG when kvm_pvm is loaded.
accel="${FUNE_VM_ACCEL:-auto}"
[ "$accel" = auto ] && { if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then accel=kvm; else accel=tcg; fi; }
case "$accel" in
  kvm) acc=(-accel kvm -cpu host) ;;
  tcg) acc=(-accel tcg,thread=multi,tb-size=512 -cpu max) ;;
  *) vm_die "FUNE_VM_ACCEL must be auto, kvm or tcg" ;;
esac

# --- the checkout. By default the guest gets a copy of it on a disk of its own (.tmp/vm/checkout.img, made here
#     with mkfs.ext4 -d in a few seconds), mounted at the checkout's path, with only the host's .tmp/ shared over
#     9p on top of it (reports come back through there). Under TCG every file node loads over 9p costs several
#     slow round trips: imports of node_modules take about twice as long from the share as from a disk. The copy is
#     taken at boot, so host edits made later are not seen: FUNE_VM_LIVE=1 shares the whole checkout over 9p instead.
copy_arg="" copy_drive=()
if [ "${FUNE_VM_LIVE:-0}" != 1 ]; then
  stage="$VM_RUN/stage"
  rm -rf "$stage" "$VM_RUN/checkout.img" && mkdir -p "$stage" "$VM_CHECKOUT/.tmp"
  for e in "$VM_CHECKOUT"/* "$VM_CHECKOUT"/.[!.]*; do
    case "${e##*/}" in .git|.tmp|coverage|'.[!.]*') continue ;; esac
    cp -al "$e" "$stage/" 2>/dev/null || cp -a "$e" "$stage/"   # hard links where the file system allows
  done
  mkdir -p "$stage/.tmp"
  mb=$(( $(du -sm "$stage" | cut -f1) * 3 / 2 + 256 ))
  truncate -s "${mb}M" "$VM_RUN/checkout.img"
  mkfs.ext4 -q -F -L fune-checkout -E lazy_itable_init=1,lazy_journal_init=1 -d "$stage" "$VM_RUN/checkout.img"
  rm -rf "$stage"
  copy_drive=(-drive "file=$VM_RUN/checkout.img,if=virtio,format=raw,cache=unsafe")
  copy_arg=" fune.copy=$VM_CHECKOUT"
fi

# --- 9p shares: fune.9p=TAG=PATH[:ro],... tells the guest's boot unit where to mount each
virtfs=() share_arg="" n=0
share() { # PATH RO(0|1)
  local p ro="" tag=""
  p="$(readlink -f "$1" 2>/dev/null || true)"
  [ -d "$p" ] || { vm_log "share $1: not a directory, skipped"; return 0; }
  case "$p" in *[,=\ :]*) vm_die "cannot share $p: 9p paths here may not hold , = : or a space" ;; esac
  [ "$2" = 1 ] && ro=",readonly=on" tag=":ro"
  virtfs+=(-virtfs "local,path=$p,mount_tag=fs$n,security_model=passthrough,multidevs=remap$ro")
  share_arg+="${share_arg:+,}fs$n=$p$tag"
  n=$((n + 1))
}
if [ -n "$copy_arg" ]; then share "$VM_CHECKOUT/.tmp" 0; else share "$VM_CHECKOUT" 0; fi
for p in ${FUNE_VM_SHARES:-}; do share "$p" 0; done
for p in ${FUNE_VM_RO_SHARES-$(ls -d /opt/cri-tools* 2>/dev/null || true)}; do share "$p" 1; done

# net.ifnames=0: the NIC keeps its kernel name (eth0). Without it udev renames it to enp0s2 while the boot unit
# configures it, and the unit's `ip link set eth0 up` races the rename: seen on a fresh machine (CI), where it lost,
# the NIC stayed down and ssh never answered.
cmdline="root=/dev/vda rw console=ttyS0 panic=-1 mitigations=off net.ifnames=0"
cmdline+=" systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all apparmor=1 security=apparmor"
cmdline+=" fune.swap=${FUNE_VM_SWAP:-1G}$copy_arg fune.9p=$share_arg ${FUNE_VM_CMDLINE:-}"

# --- the image stays in use while QEMU runs: QEMU inherits this shared lock (build-image.sh prunes only unlocked images)
exec 7>"$VM_IMAGE_DIR/use.lock"
flock -s 7

rm -f "$VM_OVERLAY" "$VM_PIDFILE" "$VM_CONSOLE" "$VM_PORTFILE" "$VM_QMP"
qemu-img create -q -f qcow2 -F raw -b "$VM_IMG" "$VM_OVERLAY"
t0=$(date +%s%N)
# A free port from 10022 up; when another guest takes it between the probe and QEMU's bind, try the next one.
port=10021
for _ in $(seq 20); do
  for ((port = port + 1; port < 10200; port++)); do (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break; done
  if qemu-system-x86_64 -name fune-vm-tier -machine pc "${acc[@]}" -smp "${FUNE_VM_CPUS:-2}" -m "${FUNE_VM_MEM:-4096}" \
      -nodefaults -no-user-config -display none -vga none -no-reboot \
      -kernel "$VM_KERNEL" -initrd "$VM_INITRD" -append "$cmdline" \
      -drive "file=$VM_OVERLAY,if=virtio,format=qcow2,cache=unsafe,discard=unmap" "${copy_drive[@]}" \
      -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0 \
      -device virtio-rng-pci "${virtfs[@]}" \
      -serial "file:$VM_CONSOLE" -qmp "unix:$VM_QMP,server=on,wait=off" -pidfile "$VM_PIDFILE" -daemonize 2>"$VM_RUN/qemu.log"; then
    break
  fi
  grep -q 'host forwarding' "$VM_RUN/qemu.log" || vm_die "QEMU did not start: $(cat "$VM_RUN/qemu.log")"
done
exec 7>&-
pid="$(vm_pid)" || vm_die "QEMU did not start: $(cat "$VM_RUN/qemu.log")"
echo "$port" >"$VM_PORTFILE"
vm_log "QEMU pid $pid ($accel, ${FUNE_VM_CPUS:-2} vCPUs, ${FUNE_VM_MEM:-4096} MiB), ssh 127.0.0.1:$port, console $VM_CONSOLE, $(vm_disk_free) free for the overlay"

deadline=$(( $(date +%s) + ${FUNE_VM_BOOT_TIMEOUT:-600} ))
until vm_ssh -- true 2>/dev/null; do
  vm_pid >/dev/null || vm_die "QEMU exited while booting; console: $(tail -n 5 "$VM_CONSOLE" 2>/dev/null)"
  [ "$(date +%s)" -lt "$deadline" ] || { vm_lost "no ssh after ${FUNE_VM_BOOT_TIMEOUT:-600}s"; vm_die "the guest did not boot"; }
  sleep 1
done
t_ssh=$(date +%s%N)
state="$(vm_ssh -- systemctl is-system-running --wait 2>/dev/null || true)"
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
vm_log "guest up: ssh after $(secs "$t0" "$t_ssh")s, systemd '$state' after $(secs "$t0" "$(date +%s%N)")s"
[ "$state" = running ] || vm_log "failed units: $(vm_ssh -- systemctl --failed --no-legend --plain 2>/dev/null | tr '\n' ' ')"
echo "$pid"
