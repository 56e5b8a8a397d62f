# shellcheck shell=bash
# Helpers of the measurement scripts that run inside the test guest (hack/vm/critest-guest.sh, bench-guest.sh).

# ctd_harness_dir DIR true|false: a copy of the shared harness's containerd/ folder in DIR/containerd with runc's
# SystemdCgroup option set, for start-containerd.sh with HARNESS_DIR=DIR (the reference containerd on the same
# cgroup driver as fune).
ctd_harness_dir() {
  mkdir -p "$1"
  cp -r "$HARNESS/containerd" "$1/"
  sed -i "s/SystemdCgroup = .*/SystemdCgroup = $2/" "$1/containerd/config.toml"
  grep -q "SystemdCgroup = $2" "$1/containerd/config.toml" || { echo "no SystemdCgroup option in the harness's containerd config" >&2; return 1; }
}
