# shellcheck shell=bash
# harness_fune_config DIR HARNESS: writes DIR/config.toml for a fune that runs in the measurement harness's network
# namespace: hosts.toml files that send every registry critest and the benchmarks name to the harness's local
# registry (plain HTTP on 127.0.0.1:5000 inside the namespace), and the harness's CNI configuration.
# Sourced by hack/critest.sh, hack/vm/critest-guest.sh and the hack/bench scripts.
harness_fune_config() {
  local dir=$1 harness=$2 host
  for host in registry.k8s.io gcr.io k8s.gcr.io public.ecr.aws docker.io; do
    mkdir -p "$dir/certs.d/$host"
    printf 'server = "http://127.0.0.1:5000"\n[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n' \
      >"$dir/certs.d/$host/hosts.toml"
  done
  cat >"$dir/config.toml" <<TOML
[registry]
config_path = "$dir/certs.d"
[cni]
conf_dir = "$harness/containerd/net.d"
bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
TOML
  # FUNE_CGROUP_DRIVER (systemd or cgroupfs) overrides `auto`, for runs in the test guest that compare the drivers.
  if [ -n "${FUNE_CGROUP_DRIVER:-}" ]; then printf '[runtime]\ncgroup_driver = "%s"\n' "$FUNE_CGROUP_DRIVER" >>"$dir/config.toml"; fi
  # FUNE_GRPC_SERVER (direct or grpc-js) sets grpc.server, e.g. to run critest against the direct server.
  if [ -n "${FUNE_GRPC_SERVER:-}" ]; then printf '[grpc]\nserver = "%s"\n' "$FUNE_GRPC_SERVER" >>"$dir/config.toml"; fi
}
