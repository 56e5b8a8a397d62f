import { isAbsolute, join } from 'node:path';
import { isInitialUserNamespace, parseIdMap } from '../domain/node.js';
import { ConfigError } from './load.js';

/**
 * Rootless start-up (`fune daemon --rootless`), the pure half: where a rootless daemon keeps its files, how it
 * re-executes itself under RootlessKit, and which side of that re-exec a process is on. main.ts runs it.
 *
 * As a normal user fune cannot make namespaces, mounts or cgroups of its own, so it re-executes itself under
 * RootlessKit, which makes a user namespace (the user's subordinate ids, through newuidmap), a mount namespace and
 * a network namespace (slirp4netns for the node's own traffic), and runs fune there as "root". The flags follow
 * containerd's `containerd-rootless.sh`: --copy-up of /etc, /run and /var/lib (writable copies, so that CNI and
 * iptables can write where they expect), --propagation=rslave, the builtin port driver.
 */

/** ROOTLESS_CHILD_ENV marks the process RootlessKit starts, so that it does not re-exec again. */
export const ROOTLESS_CHILD_ENV = '_FUNE_ROOTLESS_CHILD';

/** RootlessEnv is what the rootless defaults are made of: the user and the XDG directories of the environment. */
export interface RootlessEnv {
  uid: number;
  home?: string;
  xdgRuntimeDir?: string;
  xdgDataHome?: string;
  xdgConfigHome?: string;
}

/** RootlessPaths are a rootless daemon's defaults (each can still be given with its flag). */
export interface RootlessPaths {
  /** persistent data (images, records): $XDG_DATA_HOME/fune, ~/.local/share/fune by default. */
  root: string;
  /** runtime state, wiped at logout or reboot: $XDG_RUNTIME_DIR/fune. */
  state: string;
  /** the CRI socket: $XDG_RUNTIME_DIR/fune/fune.sock. */
  socket: string;
  /** the configuration file: $XDG_CONFIG_HOME/fune/config.toml, ~/.config/fune/config.toml by default. */
  config: string;
  /** RootlessKit's own state (its API socket, the child's pid): $XDG_RUNTIME_DIR/fune-rootlesskit. */
  rootlesskitState: string;
}

/** rootlessPaths gives the rootless defaults; a missing or relative XDG_RUNTIME_DIR or HOME is a ConfigError. */
export function rootlessPaths(env: RootlessEnv): RootlessPaths {
  const problems: string[] = [];
  const dir = (name: string, v: string | undefined): string => {
    if (!v || !isAbsolute(v)) problems.push(`${name} must be an absolute path for --rootless, not ${JSON.stringify(v ?? '')}`);
    return v ?? '';
  };
  const run = dir('XDG_RUNTIME_DIR', env.xdgRuntimeDir);
  const needHome = !env.xdgDataHome || !env.xdgConfigHome;
  const home = needHome ? dir('HOME', env.home) : '';
  if (problems.length) throw new ConfigError(problems.map((p) => `${p} (a login session or \`systemctl --user\` sets it)`));
  const data = env.xdgDataHome && isAbsolute(env.xdgDataHome) ? env.xdgDataHome : join(home, '.local/share');
  const conf = env.xdgConfigHome && isAbsolute(env.xdgConfigHome) ? env.xdgConfigHome : join(home, '.config');
  return {
    root: join(data, 'fune'),
    state: join(run, 'fune'),
    socket: join(run, 'fune', 'fune.sock'),
    config: join(conf, 'fune', 'config.toml'),
    rootlesskitState: join(run, 'fune-rootlesskit'),
  };
}

/** RootlessSide is where a process started with --rootless stands. */
export type RootlessSide =
  /** a normal user in the initial user namespace: re-exec under RootlessKit. */
  | 'parent'
  /** inside a user namespace (RootlessKit's child, or one fune did not make, as a kind node): run the daemon. */
  | 'child'
  /** real root: --rootless means nothing there. */
  | 'root';

/** rootlessSide tells the side from the effective uid and the text of /proc/self/uid_map. */
export function rootlessSide(euid: number, uidMapText: string): RootlessSide {
  const map = parseIdMap(uidMapText);
  if (map.length > 0 && !isInitialUserNamespace(map)) return 'child';
  return euid === 0 ? 'root' : 'parent';
}

/** RootlesskitOptions tune the re-exec. */
export interface RootlesskitOptions {
  stateDir: string;
  /** the network driver for the node's own traffic (slirp4netns by default; pasta with rootlesskit 2). */
  net?: string;
  mtu?: number;
  /** more flags for rootlesskit, before the command (FUNE_ROOTLESSKIT_FLAGS, split on spaces). */
  extra?: string[];
}

/**
 * rootlesskitArgs gives rootlesskit's command line that runs `command` in the new namespaces, with the flags of
 * containerd-rootless.sh: slirp4netns sandboxed and with its seccomp filter where it can, no access to the host's
 * loopback from the namespace, the builtin port driver, writable copies of /etc, /run and /var/lib, and rslave
 * propagation (mounts made on the host, such as a new USB stick, still appear inside).
 */
export function rootlesskitArgs(o: RootlesskitOptions, command: string[]): string[] {
  const net = o.net ?? 'slirp4netns';
  return [
    `--state-dir=${o.stateDir}`,
    `--net=${net}`,
    `--mtu=${o.mtu ?? 65520}`,
    ...(net === 'slirp4netns' ? ['--slirp4netns-sandbox=auto', '--slirp4netns-seccomp=auto'] : []),
    '--disable-host-loopback',
    '--port-driver=builtin',
    '--copy-up=/etc',
    '--copy-up=/run',
    '--copy-up=/var/lib',
    '--propagation=rslave',
    ...(o.extra ?? []),
    '--',
    ...command,
  ];
}
