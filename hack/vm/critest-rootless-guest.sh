#!/usr/bin/env bash
# hack/vm/critest-rootless-guest.sh RUNTIME VERSION OUTFILE
#
# Runs inside the test guest as root (over ssh) and measures a rootless node: cri-tools' critest VERSION (v1.26.1 or
# v1.32.0) against RUNTIME run rootless by the guest's non-root user `fune` (RL_USER; uid 1000, subordinate ids, a
# lingering systemd --user manager with cpu cpuset io memory pids delegated):
#
#   fune        `fune daemon --rootless` from this checkout's dist/, under the shipped user unit
#               systemd/fune-rootless.service (its ExecStart pointed at this checkout), configuration in the user's
#               ~/.config/fune/config.toml;
#   containerd  the guest's Debian containerd 1.6 run as containerd's containerd-rootless.sh runs it: RootlessKit
#               with --net=slirp4netns --mtu=65520 --disable-host-loopback --port-driver=builtin --copy-up=/etc
#               --copy-up=/run --copy-up=/var/lib --propagation=rslave, and in its child the symlinks that --copy-up
#               left for /run/containerd, /run/xtables.lock, /var/lib/containerd, /var/lib/cni and /etc/containerd
#               removed before containerd starts; containerd's root in ~/.local/share/containerd, state and socket in
#               $XDG_RUNTIME_DIR/containerd, runc with SystemdCgroup (the user's manager over the user bus), and the
#               CRI settings of containerd's rootless guide (disable_apparmor, restrict_oom_score_adj,
#               disable_hugetlb_controller). It runs as a transient unit of the user's manager (Delegate=yes).
#               RL_CTD_SYSTEMD_CGROUP=false runs it with runc's cgroupfs driver instead (runc's rootless mode then
#               skips cgroups for containers that set no resources), the reference for critest v1.26.1, which sends no
#               cgroup parent that containerd 1.6's systemd driver would take.
#
# Both get the same CNI configuration, a bridge network with host-local IPAM (data in the user's work directory)
# and portmap, and the same registry mirrors. critest runs as the user too, inside the runtime's RootlessKit user,
# mount and network namespaces (`nsenter -U --preserve-credentials -m -n -t <RootlessKit's child>`, as
# `containerd-rootless-setuptool.sh nsenter` does and as a usernetes kubelet runs): the streaming server listens on
# 127.0.0.1 of that network namespace and host-network pods live there, so that is where the node's clients are.
# The harness's run-critest.sh is used as it is, with HARNESS_NETNS pointed at the process's own network namespace
# (its `nsenter --net` is then a no-op).
#
# The registry: the harness's registry listens on 127.0.0.1:5000 in the `criharness` network namespace. The
# rootless network namespace reaches the guest's own network namespace only through slirp4netns (its connections
# are made by slirp4netns there, and --disable-host-loopback forbids 10.0.2.2, the guest's loopback). So a veth pair
# links the guest's namespace (10.201.0.1/30, rlreg0) with criharness (10.201.0.2/30, rlreg1), and a DNAT rule in
# criharness (route_localnet on rlreg1) sends 10.201.0.2:5000 to the registry on 127.0.0.1:5000; hosts.toml files
# send registry.k8s.io, gcr.io, k8s.gcr.io, public.ecr.aws and docker.io to http://10.201.0.2:5000.
#
# OUTFILE gets the harness's per-spec PASS/FAIL/SKIP list (OUTFILE.d/ its artefacts and the runtime's log). After the
# run everything is removed: the runtime's pods, the unit, RootlessKit's namespaces, leftover scopes of the user's
# manager, state and data directories, the veth pair. A measurement, not part of `npm test`.
set -euo pipefail

# RootlessKit's child for containerd (as containerd-rootless.sh's second half): --copy-up made /run, /etc and
# /var/lib writable copies whose entries are symlinks into the originals; containerd and iptables must make their
# own files there, so the symlinks go (the originals stay untouched). /run/netns too: containerd pins pod network
# namespaces in /var/run/netns, and in this guest the harness's `ip netns add criharness` has made a root-owned one
# (containerd-rootless.sh does not remove it, because on a usual host it is absent).
if [ "${1:-}" = --containerd-child ]; then
  rm -f /run/containerd /run/xtables.lock /var/lib/containerd /var/lib/cni /etc/containerd /run/netns
  exec containerd --config "$2"
fi

self=$(realpath "$0")
cd "$(dirname "$self")/../.."
[ $# -eq 3 ] || { echo "usage: $0 fune|containerd v1.26.1|v1.32.0 OUTFILE" >&2; exit 2; }
runtime=$1 version=$2 out=$(realpath -m "$3")
[ "$(id -u)" = 0 ] || { echo "$0 runs as root in the guest (it drops to the user itself)" >&2; exit 1; }
HARNESS=${HARNESS:-$(cd ../shared/harness 2>/dev/null && pwd || echo /work/shared/harness)}
case "$version" in
  v1.26.1) bin=/opt/cri-tools/bin ;;
  v1.32.0) bin=/opt/cri-tools-v1.32/bin ;;
  *) echo "bad version $version" >&2; exit 2 ;;
esac
case "$runtime" in fune|containerd) ;; *) echo "bad runtime $runtime" >&2; exit 2 ;; esac
user=${RL_USER:-fune}
uid=$(id -u "$user") home=$(getent passwd "$user" | cut -d: -f6)
run=/run/user/$uid
[ -S "$run/bus" ] || { echo "the user manager of $user is not running (loginctl enable-linger $user)" >&2; exit 1; }
[ -e /run/netns/criharness ] || { echo "harness netns is not up in the guest: run $HARNESS/netns.sh up, start-registry.sh" >&2; exit 1; }
hx() { nsenter --net=/run/netns/criharness -- "$@"; }
hx curl -fsS -o /dev/null http://127.0.0.1:5000/v2/ || { echo "the harness registry does not answer in criharness" >&2; exit 1; }
as_user() { runuser -u "$user" -- env HOME="$home" XDG_RUNTIME_DIR="$run" DBUS_SESSION_BUS_ADDRESS="unix:path=$run/bus" "$@"; }
userctl() { systemctl --user --machine="$user@.host" "$@"; }
REG=10.201.0.2:5000
w=$home/rlcrit-$runtime
name=$(basename "$out" .txt)
mkdir -p "$(dirname "$out")"
started=$(date +%s)

link_up() {
  if ip link show rlreg0 >/dev/null 2>&1; then return 0; fi
  ip link add rlreg0 type veth peer name rlreg1 netns criharness
  ip addr add 10.201.0.1/30 dev rlreg0 && ip link set rlreg0 up
  hx ip addr add 10.201.0.2/30 dev rlreg1 && hx ip link set rlreg1 up
  hx sysctl -qw net.ipv4.conf.rlreg1.route_localnet=1
  hx iptables -t nat -A PREROUTING -i rlreg1 -p tcp -d 10.201.0.2 --dport 5000 -j DNAT --to-destination 127.0.0.1:5000
  curl -fsS -o /dev/null --max-time 20 "http://$REG/v2/" || { echo "the registry is not reachable at $REG from the guest's namespace" >&2; return 1; }
}

# The user's files: CNI configuration with IPAM data in the work directory, hosts.toml mirrors.
user_files() {
  as_user mkdir -p "$w/net.d" "$w/cni" "$w/out"
  as_user tee "$w/net.d/10-rootless-bridge.conflist" >/dev/null <<JSON
{
  "cniVersion": "1.0.0",
  "name": "cri-rootless",
  "plugins": [
    { "type": "bridge", "bridge": "rlcni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.88.0.0/16", "gateway": "10.88.0.1" }]],
                "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$w/cni/networks" } },
    { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true }
  ]
}
JSON
  local host
  for host in registry.k8s.io gcr.io k8s.gcr.io public.ecr.aws docker.io; do
    as_user mkdir -p "$w/certs.d/$host"
    printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$REG" "$REG" | as_user tee "$w/certs.d/$host/hosts.toml" >/dev/null
  done
}

child=
# in_ns CMD...: CMD as the user inside the runtime's RootlessKit user, mount and network namespaces, in $w.
in_ns() { as_user nsenter -U --preserve-credentials -m -n -t "$child" --wd="$w" -- "$@"; }
crictl_ns() { in_ns "$bin/crictl" --timeout 60s --runtime-endpoint "unix://$sock" --image-endpoint "unix://$sock" "$@"; }

unit= sock= rkstate= logcmd=()
start_containerd() {
  unit=rlcrit-containerd.service sock=$run/containerd/containerd.sock rkstate=$run/rlcrit-containerd-rootlesskit
  as_user tee "$w/config.toml" >/dev/null <<TOML
version = 2
root = "$home/.local/share/containerd"
state = "$run/containerd"
oom_score = 0
[grpc]
  address = "$sock"
  tcp_address = ""
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$run/containerd/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$home/.local/share/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    disable_tcp_service = true
    enable_selinux = false
    enable_unprivileged_icmp = false
    enable_unprivileged_ports = false
    max_container_log_line_size = 16384
    # containerd's rootless guide: no AppArmor from inside a user namespace, oom_score_adj not below the daemon's,
    # and no hugetlb (systemd does not delegate it)
    disable_apparmor = true
    restrict_oom_score_adj = true
    disable_hugetlb_controller = true
    tolerate_missing_hugetlb_controller = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          Root = "$run/containerd/runc"
          SystemdCgroup = ${RL_CTD_SYSTEMD_CGROUP:-true}
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$w/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$w/certs.d"
TOML
  as_user cp "$self" "$w/rootless-child.sh"
  userctl reset-failed "$unit" 2>/dev/null || true
  systemd-run --quiet --user --machine="$user@.host" --unit="$unit" --collect -p Delegate=yes -p KillMode=mixed \
    -p LimitNOFILE=1048576 -p TasksMax=infinity --setenv=DBUS_SESSION_BUS_ADDRESS="unix:path=$run/bus" --setenv=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    rootlesskit --state-dir="$rkstate" --net=slirp4netns --mtu=65520 --slirp4netns-sandbox=auto --slirp4netns-seccomp=auto \
    --disable-host-loopback --port-driver=builtin --copy-up=/etc --copy-up=/run --copy-up=/var/lib --propagation=rslave \
    /bin/bash "$w/rootless-child.sh" --containerd-child "$w/config.toml"
  logcmd=(journalctl --no-pager -o cat --since "@$started" "_SYSTEMD_USER_UNIT=$unit")
}

fune_conf=$home/.config/fune
start_fune() {
  unit=fune-rootless.service sock=$run/fune/fune.sock rkstate=$run/fune-rootlesskit
  [ -f dist/src/main.js ] || { echo "dist/ is missing: build on the host first (npx tsc -p tsconfig.json)" >&2; return 1; }
  [ ! -e "$fune_conf/config.toml" ] || { echo "$fune_conf/config.toml exists already; not overwriting the user's configuration" >&2; return 1; }
  as_user mkdir -p "$fune_conf" "$home/.config/systemd/user"
  printf '[registry]\nconfig_path = "%s/certs.d"\n[cni]\nconf_dir = "%s/net.d"\nbin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]\n' "$w" "$w" |
    as_user tee "$fune_conf/config.toml" >/dev/null
  sed "s#/opt/fune/#$PWD/#g" systemd/fune-rootless.service | as_user tee "$home/.config/systemd/user/fune-rootless.service" >/dev/null
  userctl daemon-reload
  userctl reset-failed "$unit" 2>/dev/null || true
  userctl start "$unit"
  logcmd=(journalctl --no-pager -o cat --since "@$started" "_SYSTEMD_USER_UNIT=$unit")
}

# leftovers: the scopes and slices this runtime's pods leave in the user's manager (none after a clean run); only
# its own, since the other runtime may be running side by side.
leftovers() {
  local pats=('fune-*.scope' 'fune*.slice')
  [ "$runtime" = containerd ] && pats=('cri-containerd-*' 'runc-*')
  userctl list-units --no-legend --plain --all "${pats[@]}" 2>/dev/null | awk '{print $1}' | grep -v '^fune-rootless.service$' || true
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$child" ] && [ -d "/proc/$child" ] && [ -n "$sock" ]; then
    crictl_ns rmp -fa >/dev/null 2>&1
  fi
  mkdir -p "$out.d"
  [ ${#logcmd[@]} -gt 0 ] && "${logcmd[@]}" >"$out.d/$runtime.log" 2>&1
  [ -n "$unit" ] && userctl stop "$unit" 2>/dev/null
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "leftover units of the user's manager after the run (stopped now): $(echo "$left" | tr '\n' ' ')" | tee -a "$out.d/$runtime.log" >&2
    # shellcheck disable=SC2086
    userctl stop $left 2>/dev/null
  fi
  if [ "$runtime" = fune ]; then
    rm -f "$home/.config/systemd/user/fune-rootless.service" && userctl daemon-reload
    rm -rf "$fune_conf" "$home/.local/share/fune" "$run/fune"
  else
    rm -rf "$home/.local/share/containerd" "$run/containerd"
  fi
  rm -rf "$rkstate" "$w"
  # The veth pair is shared by runs of both runtimes side by side: the last one out removes it.
  if ip link show rlreg0 >/dev/null 2>&1 && ! compgen -G "$home/rlcrit-*" >/dev/null; then
    hx iptables -t nat -D PREROUTING -i rlreg1 -p tcp -d 10.201.0.2 --dport 5000 -j DNAT --to-destination 127.0.0.1:5000
    ip link del rlreg0
  fi
  exit "$rc"
}
trap cleanup EXIT

link_up
[ ! -e "$w" ] || { echo "$w exists (a run in progress or left over)" >&2; exit 1; }
user_files
"start_$runtime"

# Ready: RootlessKit's child pid is known and the CRI socket answers (a fresh fune under TCG takes about a minute).
for _ in $(seq 900); do
  [ -s "$rkstate/child_pid" ] && [ -S "$sock" ] && break
  userctl is-active -q "$unit" || { echo "$unit is not running" >&2; userctl status "$unit" --no-pager -l >&2 || true; exit 1; }
  sleep 1
done
child=$(cat "$rkstate/child_pid")
ok=
for _ in $(seq 60); do crictl_ns version >/dev/null 2>&1 && { ok=1; break; }; sleep 2; done
[ -n "$ok" ] || { echo "$runtime did not answer on $sock" >&2; "${logcmd[@]}" | tail -20 >&2; exit 1; }
# The harness asks `crictl version` with crictl's 2 s default before critest starts: warm a fresh daemon up first.
for _ in 1 2 3; do crictl_ns version >/dev/null 2>&1; done
echo "[$(date +%T)] $runtime rootless up (RootlessKit child $child, uid_map: $(tr -s ' ' <"/proc/$child/uid_map" | tr '\n' ';'))" >&2

# (run-critest.sh enters /run/netns/$HARNESS_NETNS: the path needs /run/netns, which containerd's child removed)
in_ns mkdir -p /run/netns
# run-critest.sh asks `crictl version` with crictl's 2 s default first (and stops, silently, when it times out, as it
# does under TCG with a loaded guest): its crictl gets 60 s.
printf '#!/bin/sh\nexec %s/crictl --timeout 60s "$@"\n' "$bin" | as_user tee "$w/crictl" >/dev/null && chmod 755 "$w/crictl"
crit_env=(env CRI_TOOLS_BIN="$bin" CRICTL="$w/crictl" HARNESS_NETNS=../../../../proc/self/ns/net)
[ "$version" = v1.32.0 ] && crit_env+=(CRITEST_VERSION=v1.32.0)
set +e
in_ns "${crit_env[@]}" "$HARNESS/run-critest.sh" "unix://$sock" "out/$name.txt"
rc=$?
set -e
rm -rf "$out.d"
cp -r "$w/out/$name.txt.d" "$out.d"
[ -f "$w/out/$name.txt" ] && cp "$w/out/$name.txt" "$out"
echo "[$(date +%T)] $runtime $version rootless: rc $rc, $(($(date +%s) - started)) s; $(tail -n 1 "$out" 2>/dev/null)" >&2
exit "$rc"
