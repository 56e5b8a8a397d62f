#!/usr/bin/env bash
# hack/vm/guest-setup.sh ROOT IMAGE_DIR: the mmdebstrap customize hook of build-image.sh. Turns the Debian tree at
# ROOT into the VM tier's guest: names and fstab, the boot unit that sets the NIC address, mounts the 9p shares
# and turns swap on, sshd for root with the image's key, a non-root user for rootless tiers, the host's node,
# the .debs the test-image builders would download, and the services a test guest needs (and none it does not).
set -euo pipefail
R="$1" D="$2"
[ -d "$R/etc" ] && [ -s "$D/id_ed25519.pub" ] || { echo "usage: $0 ROOT IMAGE_DIR" >&2; exit 2; }

echo fune-vm > "$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tfune-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
echo '# no name server: the guest reaches nothing outside the VM' > "$R/etc/resolv.conf"
echo '/dev/vda / ext4 rw,relatime,errors=remount-ro 0 0' > "$R/etc/fstab"   # a fresh overlay each boot: no fsck
chroot "$R" systemd-machine-id-setup >/dev/null

# --- boot unit, ordered before sshd: once ssh answers, the NIC, the shares and swap are in place
install -D -m 0755 /dev/stdin "$R/usr/local/sbin/fune-vm-setup" <<'SH'
#!/bin/sh
# fune-vm-setup: the NIC gets slirp's guest address and no route (QEMU's restrict=on lets only the ssh forward
# through); fune.copy=PATH mounts the second disk (a copy of the checkout) at PATH; fune.9p=TAG=PATH[:ro],... on
# the kernel command line are mounted at PATH; fune.swap=SIZE (0 = none) is a swap file made on the first boot
# of an overlay.
set -eu
modprobe -a virtio_net 9pnet_virtio 9p 2>/dev/null || true
nic=""
for _ in $(seq 100); do
  for d in /sys/class/net/*; do
    [ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = virtio_net ] && nic="${d##*/}"
  done
  [ -n "$nic" ] && break
  sleep 0.1
done
[ -z "$nic" ] || { ip link set "$nic" up; ip addr replace 10.0.2.15/24 dev "$nic"; }
swap=1G
# fune.copy=PATH: the second disk holds a copy of the checkout, mounted at PATH before the shares (which may go
# inside it, as the host's PATH/.tmp does).
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    fune.copy=*) mkdir -p "${arg#fune.copy=}" && mount -o noatime /dev/vdb "${arg#fune.copy=}" ;;
  esac
done
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    fune.swap=*) swap="${arg#fune.swap=}" ;;
    fune.9p=*)
      IFS=,
      for s in ${arg#fune.9p=}; do
        tag="${s%%=*}" path="${s#*=}" mode=rw
        case "$path" in *:ro) path="${path%:ro}" mode=ro ;; esac
        mkdir -p "$path"
        mountpoint -q "$path" || mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,cache=mmap,$mode" "$tag" "$path"
      done
      unset IFS ;;
  esac
done
if [ "$swap" != 0 ]; then
  [ -f /swapfile ] || { fallocate -l "$swap" /swapfile; chmod 600 /swapfile; mkswap -q /swapfile; }
  swapon --noheadings --show=NAME | grep -qx /swapfile || swapon /swapfile
fi
SH
cat > "$R/etc/systemd/system/fune-vm-setup.service" <<'UNIT'
[Unit]
Description=fune VM tier: NIC address, 9p shares, swap file
After=local-fs.target systemd-modules-load.service
Before=ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/fune-vm-setup

[Install]
WantedBy=multi-user.target
UNIT

# --- what a CRI node sets up: overlay and bridge netfilter modules, forwarding
printf 'overlay\nbr_netfilter\nveth\nbridge\n' > "$R/etc/modules-load.d/fune-vm.conf"
printf 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n' \
  > "$R/etc/sysctl.d/90-fune-vm.conf"

# --- sshd: keys only; root and the rootless user accept the image's key
printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n' \
  > "$R/etc/ssh/sshd_config.d/fune-vm.conf"
install -d -m 0700 "$R/root/.ssh"
install -m 0600 "$D/id_ed25519.pub" "$R/root/.ssh/authorized_keys"
chroot "$R" useradd -m -u 1000 -U -s /bin/bash fune
echo 'fune:100000:65536' > "$R/etc/subuid"
echo 'fune:100000:65536' > "$R/etc/subgid"
install -d -m 0700 -o 1000 -g 1000 "$R/home/fune/.ssh"
install -m 0600 -o 1000 -g 1000 "$D/id_ed25519.pub" "$R/home/fune/.ssh/authorized_keys"
install -d "$R/var/lib/systemd/linger" && : > "$R/var/lib/systemd/linger/fune"     # its systemd --user runs from boot
install -d "$R/etc/systemd/system/user@.service.d"
printf '[Service]\nDelegate=cpu cpuset io memory pids\n' > "$R/etc/systemd/system/user@.service.d/delegate.conf"

# --- Node: the host's own binary at the host's path (Debian 12 has no Node 20; it needs only glibc and libstdc++).
#     Tests run the host's checkout (node_modules, native addons, dist/) over 9p, so nothing is built in the guest.
install -m 0755 "$(readlink -f "$(command -v node)")" "$R/usr/bin/node"
if [ -d /usr/lib/node_modules/npm ]; then
  install -d "$R/usr/lib/node_modules" && cp -a /usr/lib/node_modules/npm "$R/usr/lib/node_modules/"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/bin/npx"
fi

# --- .debs the image builders fetch with `apt-get download`: hack/test-images.ts (busybox-static, its cache
#     /var/tmp/fune-test-images) and the CRI harness's build-images.sh (busybox)
install -d "$R/var/tmp/fune-test-images" "$R/var/lib/harness-images/debs"
cp "$D"/debs/busybox-static_*.deb "$R/var/tmp/fune-test-images/"
cp "$D"/debs/busybox_*.deb "$R/var/lib/harness-images/debs/"

# --- AppArmor: the module is on (kernel command line); the profiles Debian ships for host programs are dropped,
#     since apparmor.service compiles every profile again on each clean boot (seconds under TCG). The tunables
#     and abstractions stay: the tests' profiles include them.
find "$R/etc/apparmor.d" -maxdepth 1 -type f -delete

# --- services: only what the tier uses runs at boot; the reference daemons stay off until a test starts them
chroot "$R" systemctl enable fune-vm-setup.service >/dev/null 2>&1
for u in containerd.service docker-registry.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
         e2scrub_reap.service fstrim.timer systemd-timesyncd.service; do
  chroot "$R" systemctl disable "$u" >/dev/null 2>&1 || true
done
chroot "$R" systemctl mask systemd-firstboot.service getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1 || true
chroot "$R" systemctl set-default multi-user.target >/dev/null 2>&1
rm -f "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*_Packages 2>/dev/null || true
