// A real daemon on a test-unique CNI network (the CniEnv of cni-env.ts: own bridge, subnet, host-local dataDir,
// conf and bin dirs), with the busybox test image imported, and a clean-up that tears down whatever the pods made
// (CNI DEL through the daemon's own cache, then runc, conmon, mounts, bridge, iptables) even after a failure.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { criClient, startDaemon, type CriClient, type TestDaemon } from '../../helpers/daemon.js';
import { importImage, sweep } from '../lifecycle/env.js';
import { makeCniEnv, SYS_BIN, type CniEnv } from './cni-env.js';

export { IMAGE } from '../lifecycle/env.js';

/** NetDaemonEnv is one test file's daemon and network. */
export interface NetDaemonEnv {
  net: CniEnv;
  d: TestDaemon;
  c: CriClient;
  /** restart SIGKILLs the daemon and starts a new one on the same dirs. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

/** startNetDaemon makes a CniEnv, writes its conflist and starts a daemon on it (root/state under the env dir). */
export async function startNetDaemon(): Promise<NetDaemonEnv> {
  const net = await makeCniEnv();
  await net.writeConflist();
  // The daemon's own netns and cache dirs, so that net.cleanup() tears down through them.
  net.netnsDir = join(net.dir, 'state', 'netns');
  net.cacheDir = join(net.dir, 'root', 'cni-cache');
  const toml = `[cni]\nconf_dir = "${net.confDir}"\nbin_dirs = ["${net.binDir}", "${SYS_BIN}"]\n`;
  let d: TestDaemon;
  try {
    d = await startDaemon({ dir: net.dir, toml });
    await importImage(d.state);
  } catch (e) {
    await net.cleanup();
    throw e;
  }
  const env: NetDaemonEnv = {
    net,
    d,
    c: criClient(d.socket),
    async restart() {
      env.c.close();
      await env.d.stop('SIGKILL');
      env.d = await startDaemon({ dir: net.dir, toml });
      env.c = criClient(env.d.socket);
    },
    async cleanup() {
      env.c.close();
      await env.d.stop('SIGKILL');
      // DEL while the namespaces still exist (the veths and masquerade rules go with them), then the rest.
      const svc = net.service();
      for (const id of net.podIds) await svc.removePod(id).catch(() => undefined);
      await sweep(env.d.state, net.dir);
      await net.cleanup();
    },
  };
  return env;
}

/** podsOf gives the ids of the pods the daemon lists. */
export async function podIdsOf(c: CriClient): Promise<string[]> {
  return ((await c.call('ListPodSandbox', {})).items as { id: string }[]).map((x) => x.id);
}

/** iptablesSnapshot gives the iptables-save lines of the nat and filter tables without counters and comments. */
export function iptablesSnapshot(): Set<string> {
  const out = execFileSync('iptables-save', [], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return new Set(
    out
      .split('\n')
      .filter((l) => l && !l.startsWith('#') && l !== 'COMMIT')
      .map((l) => l.replace(/ \[\d+:\d+\]$/, '')),
  );
}

/** addedRules gives the lines of `after` that `before` lacks. */
export function addedRules(before: Set<string>, after: Set<string>): string[] {
  return [...after].filter((l) => !before.has(l));
}
