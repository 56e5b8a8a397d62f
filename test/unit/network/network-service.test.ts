import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkService } from '../../../src/services/network-service.js';
import { NetnsManager } from '../../../src/network/netns.js';
import { CniConfLoader } from '../../../src/network/cni-config.js';
import { CniInvoker } from '../../../src/network/cni-invoke.js';
import { nullLogger } from '../../../src/log/index.js';
import type { ProcessRunner, RunOptions } from '../../../src/sys/process-runner.js';
import type { PodSandboxConfig } from '../../../src/domain/cri-types.js';

/** A host in memory: mount/unshare/umount change a set of mount points; plugins answer from `plugin`. */
function fakeHost(plugin: (env: NodeJS.ProcessEnv) => { code: number; stdout: string }) {
  const mounts = new Set<string>();
  const log: string[] = [];
  const runner: ProcessRunner = {
    spawn: () => {
      throw new Error('no');
    },
    async run(cmd: string, args: readonly string[], opts: RunOptions = {}) {
      const ok = (stdout = '', code = 0) => ({ code, signal: null, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), timedOut: false });
      if (cmd === 'mount') return (mounts.add(args.at(-1)!), ok());
      if (cmd === 'umount') return (mounts.delete(args.at(-1)!), ok());
      if (cmd === 'unshare') return (mounts.add(args[0]!.slice('--net='.length)), ok());
      log.push(`${cmd.split('/').pop()} ${opts.env?.CNI_COMMAND} netns=${opts.env?.CNI_NETNS}`);
      const r = plugin(opts.env ?? {});
      return ok(r.stdout, r.code);
    },
  };
  const mountInfo = async () => [...mounts].map((m, i) => `${i} 1 0:1 / ${m} rw - nsfs nsfs rw`).join('\n');
  return { runner, mountInfo, mounts, log };
}

const pod = (annotations: Record<string, string> = {}): PodSandboxConfig => ({
  metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 0 },
  hostname: 'p',
  log_directory: '',
  dns_config: null,
  port_mappings: [],
  labels: {},
  annotations,
  linux: null,
  windows: null,
});

describe('NetworkService (fake host)', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-netsvc-'));
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'conf'));
    await writeFile(join(dir, 'bin', 'fake'), '');
    await chmod(join(dir, 'bin', 'fake'), 0o755);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const build = (h: ReturnType<typeof fakeHost>) =>
    new NetworkService({
      netns: new NetnsManager({ dir: join(dir, 'netns'), runner: h.runner, mountInfo: h.mountInfo }),
      conf: new CniConfLoader(join(dir, 'conf'), [join(dir, 'bin')]),
      invoker: new CniInvoker({ runner: h.runner, binDirs: [join(dir, 'bin')], timeoutMs: 1000 }),
      binDirs: [join(dir, 'bin')],
      cacheDir: join(dir, 'cache'),
      log: nullLogger(),
      delRetryDelaysMs: [1, 1],
    });
  const writeConf = () => writeFile(join(dir, 'conf', '10.conflist'), '{"cniVersion":"1.0.0","name":"t","plugins":[{"type":"fake"}]}');
  const addResult = JSON.stringify({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.9.0.2/24', interface: 0 }] });

  it('refuses to set up while not ready, creating nothing, and reports why', async () => {
    const h = fakeHost(() => ({ code: 0, stdout: addResult }));
    const svc = build(h);
    expect(svc.networkCondition()).toMatchObject({ type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady' });
    await expect(svc.setUpPod({ id: 'a', config: pod(), hostNetwork: false })).rejects.toMatchObject({ kind: 'FailedPrecondition' });
    await writeConf();
    expect(svc.networkCondition().status).toBe(true);
    await expect(svc.setUpPod({ id: 'a', config: pod({ 'kubernetes.io/ingress-bandwidth': 'lots' }), hostNetwork: false })).rejects.toMatchObject({ kind: 'InvalidArgument' });
    expect(h.mounts.size).toBe(0);
    expect(h.log).toEqual([]);
  });

  it('sets up, remembers the IPs across instances, tears down once, retries a failing DEL', async () => {
    await writeConf();
    let delFailures = 2;
    const h = fakeHost((env) => (env.CNI_COMMAND === 'DEL' && delFailures-- > 0 ? { code: 1, stdout: '{"msg":"busy"}' } : { code: 0, stdout: env.CNI_COMMAND === 'ADD' ? addResult : '' }));
    const svc = build(h);
    const net = await svc.setUpPod({ id: 'a', config: pod(), hostNetwork: false });
    expect(net).toEqual({ netnsPath: join(dir, 'netns', 'a'), ips: ['10.9.0.2'] });
    expect(await build(h).podNetwork('a')).toEqual(net);
    await svc.tearDownPod({ id: 'a', hostNetwork: false });
    await svc.tearDownPod({ id: 'a', hostNetwork: false });
    expect(h.log).toEqual([`fake ADD netns=${net.netnsPath}`, ...Array(3).fill(`fake DEL netns=${net.netnsPath}`)]);
    await svc.removePod('a');
    expect(h.mounts.has(net.netnsPath!)).toBe(false);
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
  });

  it('undoes a failed ADD with DEL and removes the namespace; recovery removes unknown pods', async () => {
    await writeConf();
    const h = fakeHost((env) => (env.CNI_COMMAND === 'ADD' ? { code: 1, stdout: '{"code":11,"msg":"nope"}' } : { code: 0, stdout: '' }));
    const svc = build(h);
    await expect(svc.setUpPod({ id: 'b', config: pod(), hostNetwork: false })).rejects.toThrow(/code 11: nope/);
    expect(h.log).toEqual([`fake ADD netns=${join(dir, 'netns', 'b')}`, `fake DEL netns=${join(dir, 'netns', 'b')}`]);
    expect([...h.mounts]).toEqual([]);

    const ok = fakeHost((env) => ({ code: 0, stdout: env.CNI_COMMAND === 'ADD' ? addResult : '' }));
    const s2 = build(ok);
    await s2.setUpPod({ id: 'known', config: pod(), hostNetwork: false });
    await s2.setUpPod({ id: 'lost', config: pod(), hostNetwork: false });
    expect(await build(ok).recover(['known'])).toEqual(['known']);
    expect(ok.log.filter((l) => l.includes('DEL'))).toEqual([`fake DEL netns=${join(dir, 'netns', 'lost')}`]);
    expect(await readdir(join(dir, 'netns'))).toEqual(['known']);
  });

  it('preparePod makes the namespace without running a plugin; attach runs ADD once; a failing attach leaves nothing', async () => {
    await writeConf();
    let fail = false;
    const h = fakeHost((env) => (env.CNI_COMMAND === 'ADD' && fail ? { code: 1, stdout: '{"code":7,"msg":"boom"}' } : { code: 0, stdout: env.CNI_COMMAND === 'ADD' ? addResult : '' }));
    const svc = build(h);
    const prep = await svc.preparePod({ id: 'd', config: pod(), hostNetwork: false });
    expect(prep.netnsPath).toBe(join(dir, 'netns', 'd'));
    expect([...h.mounts]).toEqual([join(dir, 'netns', 'd')]);
    expect(h.log).toEqual([]);
    expect(await readdir(join(dir, 'cache'))).toEqual(['d.json']); // the 'adding' record, before any plugin runs
    const [n1, n2] = await Promise.all([prep.attach(), prep.attach()]);
    expect(n1).toEqual({ netnsPath: prep.netnsPath, ips: ['10.9.0.2'] });
    expect(n2).toBe(n1);
    expect(h.log).toEqual([`fake ADD netns=${prep.netnsPath}`]);
    expect(await svc.podNetwork('d')).toEqual(n1);

    fail = true;
    const bad = await svc.preparePod({ id: 'e', config: pod(), hostNetwork: false });
    await expect(bad.attach()).rejects.toThrow(/code 7: boom/);
    expect([...h.mounts]).toEqual([join(dir, 'netns', 'd')]);
    expect(await readdir(join(dir, 'cache'))).toEqual(['d.json']);
    expect((await svc.preparePod({ id: 'h', config: pod(), hostNetwork: true })).netnsPath).toBeUndefined();
  });

  it('a namespace that cannot be made leaves no cache record and runs no plugin; recovery sweeps half-written files', async () => {
    await writeConf();
    const h = fakeHost(() => ({ code: 0, stdout: addResult }));
    const run = h.runner.run.bind(h.runner);
    h.runner.run = async (cmd, args, opts) =>
      cmd === 'unshare' ? { code: 1, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from('unshare: no namespaces for you'), timedOut: false } : run(cmd, args, opts);
    const svc = build(h);
    await expect(svc.setUpPod({ id: 'c', config: pod(), hostNetwork: false })).rejects.toThrow(/no namespaces for you/);
    expect(h.log).toEqual([]);
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
    expect(await readdir(join(dir, 'netns'))).toEqual([]);
    expect(await svc.podNetwork('c')).toBeUndefined();

    await writeFile(join(dir, 'cache', '.tmp-x.json'), '{');
    await build(fakeHost(() => ({ code: 0, stdout: '' }))).recover([]);
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
  });
});
