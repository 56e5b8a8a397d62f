import type { Config } from './types.js';

/** DEFAULT_CONFIG_PATH is where `fune daemon` looks for its TOML file; an absent file means the defaults. */
export const DEFAULT_CONFIG_PATH = '/etc/fune/config.toml';

/** defaultConfig gives a fresh copy of every default. */
export function defaultConfig(): Config {
  return {
    root: '/var/lib/fune',
    state: '/run/fune',
    grpc: { address: '/run/fune/fune.sock', shutdown_timeout: 10_000, server: 'direct' },
    log: { level: 'info' },
    runtime: {
      cgroup_driver: 'auto',
      runc_path: 'runc',
      conmon_path: 'conmon',
      infra_path: '/usr/bin/catatonit',
      sandbox_image: '',
      seccomp_default: false,
      exec_sync_max_output: 16 * 1024 * 1024,
      exec_sync_drain_timeout: 2_000,
      image_volumes_noexec: true,
      cdi_spec_dirs: ['/etc/cdi', '/var/run/cdi'],
      overlay_mounter: 'auto',
    },
    registry: {
      config_path: '/etc/fune/certs.d',
      pull_progress_timeout: 60_000,
      pull_deadline: 0,
      max_concurrent_downloads: 3,
      max_unpacked_size: 0,
    },
    cni: {
      conf_dir: '/etc/cni/net.d',
      bin_dirs: ['/opt/cni/bin', '/usr/lib/cni'],
      plugin_timeout: 60_000,
      default_subnet: '10.85.0.0/16',
    },
    streaming: {
      address: '127.0.0.1',
      port: 0,
      tls_cert_file: '',
      tls_key_file: '',
      token_ttl: 60_000,
      max_tokens: 1000,
      stream_idle_timeout: 4 * 3_600_000,
      stream_creation_timeout: 30_000,
      port_forward_dialer: 'auto',
      max_connections: 256,
      upgrade_timeout: 10_000,
    },
    metrics: { address: '' },
  };
}

/** SIZE_KEYS are the `section.key` names whose TOML values are byte sizes: an integer, or a string with a unit. */
export const SIZE_KEYS = new Set(['registry.max_unpacked_size']);

/** DURATION_KEYS are the `section.key` names whose TOML values are duration strings. */
export const DURATION_KEYS = new Set([
  'grpc.shutdown_timeout',
  'runtime.exec_sync_drain_timeout',
  'registry.pull_progress_timeout',
  'registry.pull_deadline',
  'cni.plugin_timeout',
  'streaming.token_ttl',
  'streaming.stream_idle_timeout',
  'streaming.stream_creation_timeout',
  'streaming.upgrade_timeout',
]);
