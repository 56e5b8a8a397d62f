import type { LevelWithSilent } from 'pino';

/** CgroupDriver is how container cgroups are named and created: by runc directly, or through systemd. */
export type CgroupDriver = 'systemd' | 'cgroupfs';

/**
 * Config is fune's effective configuration. The TOML file's sections and keys use the same names (snake_case);
 * durations are written in the file as Go-style strings ("30s", "4h") and held here in milliseconds.
 */
export interface Config {
  /** root holds persistent state: images, layers, container records. */
  root: string;
  /** state holds runtime state that a reboot clears: the socket, bundles, network namespaces. */
  state: string;
  grpc: {
    /** address is the CRI unix socket path. */
    address: string;
    /** shutdown_timeout bounds how long in-flight calls may run after SIGTERM. */
    shutdown_timeout: number;
    /**
     * server is which gRPC server takes CRI connections: "direct" (fune's own HTTP/2 server, h2-direct.ts) or
     * "grpc-js" (grpc-js for clients with a valid `:authority`, the direct server for those naming the socket path).
     */
    server: 'direct' | 'grpc-js';
  };
  log: { level: LevelWithSilent };
  runtime: {
    /** cgroup_driver: "systemd", "cgroupfs", or "auto" (systemd when PID 1 is systemd). */
    cgroup_driver: CgroupDriver | 'auto';
    runc_path: string;
    conmon_path: string;
    /** infra_path is the program run as each pod's infra process (catatonit -P), bind-mounted from the host. */
    infra_path: string;
    /** sandbox_image, when set, replaces catatonit with an image's entrypoint as the infra process. */
    sandbox_image: string;
    /** seccomp_default makes an unset seccomp profile mean RuntimeDefault (the SeccompDefault feature). */
    seccomp_default: boolean;
    /** exec_sync_max_output caps the bytes ExecSync keeps per stream. */
    exec_sync_max_output: number;
    /** exec_sync_drain_timeout bounds the wait for stdio after an exec'd process exits. */
    exec_sync_drain_timeout: number;
    /** image_volumes_noexec mounts image volumes (CRI Mount.image) noexec, as the Kubernetes API describes them. */
    image_volumes_noexec: boolean;
    /** cdi_spec_dirs are where CDI spec files are read from, later directories winning (none: CDI off). */
    cdi_spec_dirs: string[];
    /**
     * overlay_mounter mounts image layers as container roots: "kernel" (overlayfs), "fuse-overlayfs", or "auto": the
     * kernel's, except in a user namespace where a probe mount at start-up finds it refused (sys/overlay-mounter.ts).
     */
    overlay_mounter: 'auto' | 'kernel' | 'fuse-overlayfs';
  };
  registry: {
    /** config_path holds containerd-style hosts directories: `<config_path>/<host>/hosts.toml`. */
    config_path: string;
    /** pull_progress_timeout cancels a pull when no byte arrived for this long. */
    pull_progress_timeout: number;
    /** pull_deadline bounds a whole pull (0 = none). */
    pull_deadline: number;
    max_concurrent_downloads: number;
    /** max_unpacked_size bounds an image's unpacked size in bytes (0 = no bound); a pull beyond it fails early. */
    max_unpacked_size: number;
  };
  cni: {
    conf_dir: string;
    bin_dirs: string[];
    /** plugin_timeout bounds one CNI plugin invocation. */
    plugin_timeout: number;
    /** default_subnet is the subnet of the default bridge network that set-up installs. */
    default_subnet: string;
  };
  streaming: {
    address: string;
    /** port 0 picks a free port. */
    port: number;
    tls_cert_file: string;
    tls_key_file: string;
    /** token_ttl is how long an exec/attach/port-forward URL stays usable. */
    token_ttl: number;
    max_tokens: number;
    stream_idle_timeout: number;
    stream_creation_timeout: number;
    /**
     * port_forward_dialer: "auto" connects into a pod's network namespace from a thread of fune's that enters it
     * (the setns addon, when built), else through a helper process per pod; "helper" always uses the helpers.
     */
    port_forward_dialer: 'auto' | 'helper';
    /**
     * max_connections caps the upgraded exec/attach/port-forward connections open at once (more get HTTP 503), and
     * separately the connections still waiting to upgrade (more are closed at accept).
     */
    max_connections: number;
    /** upgrade_timeout: a connection that has not completed its upgrade this long after accept is closed. */
    upgrade_timeout: number;
  };
  metrics: {
    /**
     * address is `host:port` of the Prometheus endpoint (`GET /metrics`); "" (the default) turns it off, and then
     * the metrics library is never loaded.
     */
    address: string;
  };
}

/** ConfigFlags are the command-line overrides of `fune daemon`. */
export interface ConfigFlags {
  config?: string;
  root?: string;
  state?: string;
  listen?: string;
  logLevel?: string;
}
