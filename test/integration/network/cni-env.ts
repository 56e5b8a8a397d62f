// Shared set-up of the CNI integration tests: a private conf dir, bin dir, host-local data dir, netns dir and cache dir,
// a test-unique bridge and subnet, and a clean-up that removes whatever the tests made even when they failed.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsManager } from '../../../src/network/netns.js';
import { CniConfLoader } from '../../../src/network/cni-config.js';
import { CniInvoker } from '../../../src/network/cni-invoke.js';
import { NetworkService } from '../../../src/services/network-service.js';
import { nodeProcessRunner } from '../../../src/sys/process-runner.js';
import { nullLogger } from '../../../src/log/index.js';
import type { PodSandboxConfig } from '../../../src/domain/cri-types.js';

export const SYS_BIN = '/usr/lib/cni';

/** CniEnv is one test file's private network world. */
export interface CniEnv {
  dir: string;
  confDir: string;
  binDir: string;
  dataDir: string;
  netnsDir: string;
  cacheDir: string;
  bridge: string;
  /** subnet prefix, e.g. "10.233.17" (the /24 is `${net}.0/24`, the gateway `${net}.1`). */
  net: string;
  netName: string;
  podIds: string[];
  newPodId(): string;
  service(opts?: { timeoutMs?: number }): NetworkService;
  /** writeConflist writes the test network (bridge + host-local + portmap, plus `extra` plugins) as 10-test.conflist. */
  writeConflist(extra?: object[]): Promise<void>;
  /** writePlugin puts an executable shell script plugin into the private bin dir. */
  writePlugin(name: string, script: string): Promise<void>;
  cleanup(): Promise<void>;
}

const sh = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch {
    return '';
  }
};

/** mountsUnder lists mount points below `dir`. */
export async function mountsUnder(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(dir + '/'));
}

/** iptablesLinesMentioning gives the iptables-save lines (nat and filter) that contain any of `needles`. */
export function iptablesLinesMentioning(needles: string[]): string[] {
  const out = sh('iptables-save', []);
  return out.split('\n').filter((l) => needles.some((n) => l.includes(n)));
}

/** purgeIptables deletes rules mentioning `needles` and the per-pod chains they jump to. */
function purgeIptables(needles: string[]): void {
  for (const table of ['nat', 'filter', 'mangle']) {
    const lines = sh('iptables-save', ['-t', table]).split('\n');
    const chains = new Set<string>();
    for (const l of lines) {
      if (!l.startsWith('-A ') || !needles.some((n) => l.includes(n))) continue;
      const jump = / -j (CNI-[A-Za-z0-9-]+)/.exec(l);
      // Per-pod chains are named after a hash (bridge: CNI-<hash>, portmap: CNI-DN-<hash>); shared ones are kept.
      if (jump && /^CNI-(DN-)?[0-9a-f]{16,}$/.test(jump[1]!)) chains.add(jump[1]!);
      // iptables-save quotes like a shell would; let bash split the rule back into argv.
      sh('bash', ['-c', `iptables -w -t ${table} -D ${l.slice(3)}`]);
    }
    for (const c of chains) {
      sh('iptables', ['-w', '-t', table, '-F', c]);
      sh('iptables', ['-w', '-t', table, '-X', c]);
    }
  }
}

/** makeCniEnv builds a CniEnv in a fresh temp dir. */
export async function makeCniEnv(): Promise<CniEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'fune-cni-'));
  const rnd = randomBytes(3);
  const env: CniEnv = {
    dir,
    confDir: join(dir, 'net.d'),
    binDir: join(dir, 'bin'),
    dataDir: join(dir, 'ipam'),
    netnsDir: join(dir, 'netns'),
    cacheDir: join(dir, 'cache'),
    bridge: `funet${rnd.toString('hex').slice(0, 5)}`,
    net: `10.233.${rnd[2]! % 250}`,
    netName: `funetest-${rnd.toString('hex')}`,
    podIds: [],
    newPodId() {
      const id = randomBytes(32).toString('hex');
      env.podIds.push(id);
      return id;
    },
    service(opts = {}) {
      const binDirs = [env.binDir, SYS_BIN];
      return new NetworkService({
        netns: new NetnsManager({ dir: env.netnsDir, runner: nodeProcessRunner }),
        conf: new CniConfLoader(env.confDir, binDirs),
        invoker: new CniInvoker({ runner: nodeProcessRunner, binDirs, timeoutMs: opts.timeoutMs ?? 20_000 }),
        binDirs,
        cacheDir: env.cacheDir,
        log: nullLogger(),
        delRetryDelaysMs: [50],
      });
    },
    async writeConflist(extra = []) {
      const conf = {
        cniVersion: '1.0.0',
        name: env.netName,
        plugins: [
          {
            type: 'bridge',
            bridge: env.bridge,
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: { type: 'host-local', dataDir: env.dataDir, ranges: [[{ subnet: `${env.net}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] },
          },
          { type: 'portmap', capabilities: { portMappings: true }, snat: true },
          ...extra,
        ],
      };
      await writeFile(join(env.confDir, '10-test.conflist'), JSON.stringify(conf, null, 2));
    },
    async writePlugin(name, script) {
      const p = join(env.binDir, name);
      await writeFile(p, `#!/bin/sh\n${script}\n`);
      await chmod(p, 0o755);
    },
    async cleanup() {
      // Best effort, in an order that works even when a test died half-way.
      const svc = env.service();
      for (const id of env.podIds) await svc.removePod(id).catch(() => undefined);
      for (const m of (await mountsUnder(env.netnsDir)).reverse()) sh('umount', ['-l', m]);
      purgeIptables([...env.podIds, `${env.net}.`]);
      sh('ip', ['link', 'del', env.bridge]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await Promise.all([mkdir(env.confDir), mkdir(env.binDir), mkdir(env.dataDir)]);
  return env;
}

/** podConfig is a minimal sandbox config for pod `name`. */
export function podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  return {
    metadata: { name, uid: `uid-${name}`, namespace: 'funetest', attempt: 0 },
    hostname: name,
    log_directory: '',
    dns_config: null,
    port_mappings: [],
    labels: {},
    annotations: {},
    linux: null,
    windows: null,
    ...extra,
  };
}

/** leases lists host-local's lease files of the test network (not its bookkeeping files). */
export async function leases(env: CniEnv): Promise<string[]> {
  try {
    return (await readdir(join(env.dataDir, env.netName))).filter((n) => /^\d/.test(n) && !n.startsWith('last_reserved_ip'));
  } catch {
    return [];
  }
}

/** vethsOn lists the interfaces enslaved to the test bridge. */
export function vethsOn(bridge: string): string[] {
  return sh('ip', ['-o', 'link', 'show', 'master', bridge]).split('\n').filter(Boolean);
}

/** inNetns runs a program in a namespace and gives its stdout (throws on failure). */
export function inNetns(path: string, cmd: string[], timeoutMs = 10_000): string {
  return execFileSync('nsenter', [`--net=${path}`, ...cmd], { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}
