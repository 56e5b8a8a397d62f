import { describe, expect, it } from 'vitest';
import { CniInvoker, versionAtLeast, type CniCallArgs } from '../../../src/network/cni-invoke.js';
import type { NetworkConfList } from '../../../src/network/cni-config.js';
import type { ProcessRunner, RunOptions, RunResult } from '../../../src/sys/process-runner.js';

interface Call { cmd: string; env: NodeJS.ProcessEnv; stdin: Record<string, unknown> }

/** fakeRunner records plugin runs and answers with `reply(call)`. */
function fakeRunner(reply: (c: Call) => Partial<RunResult>): { runner: ProcessRunner; calls: Call[] } {
  const calls: Call[] = [];
  const runner: ProcessRunner = {
    spawn: () => {
      throw new Error('not used');
    },
    async run(cmd: string, _args: readonly string[], opts: RunOptions = {}) {
      const c = { cmd, env: opts.env ?? {}, stdin: JSON.parse(String(opts.input)) as Record<string, unknown> };
      calls.push(c);
      return { code: 0, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false, ...reply(c) };
    },
  };
  return { runner, calls };
}

const list = (v: string): NetworkConfList => ({
  name: 'net1',
  cniVersion: v,
  file: '/x',
  plugins: [{ type: 'bridge', bridge: 'b0' }, { type: 'portmap', capabilities: { portMappings: true, bandwidth: false } }],
});
const bins = new Map([
  ['bridge', '/bin/cni/bridge'],
  ['portmap', '/bin/cni/portmap'],
]);
const args: CniCallArgs = {
  containerId: 'pod1',
  netns: '/run/fune/netns/pod1',
  ifName: 'eth0',
  cniArgs: [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAME', 'web'],
  ],
  runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }], bandwidth: { ingressRate: 1 } },
};

describe('CniInvoker', () => {
  it('runs ADD in order with the CNI environment, chaining prevResult and passing only declared capabilities', async () => {
    const { runner, calls } = fakeRunner((c) => ({ stdout: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', from: c.cmd })) }));
    const inv = new CniInvoker({ runner, binDirs: ['/bin/cni', '/usr/lib/cni'], timeoutMs: 5000 });
    expect(await inv.addList(list('1.0.0'), bins, args)).toEqual({ cniVersion: '1.0.0', from: '/bin/cni/portmap' });
    expect(calls.map((c) => c.cmd)).toEqual(['/bin/cni/bridge', '/bin/cni/portmap']);
    expect(calls[0]!.env).toMatchObject({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'pod1',
      CNI_NETNS: '/run/fune/netns/pod1',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web',
      CNI_PATH: '/bin/cni:/usr/lib/cni',
    });
    expect(calls[0]!.env.PATH).toContain('/usr/sbin');
    expect(calls[0]!.stdin).toEqual({ type: 'bridge', bridge: 'b0', name: 'net1', cniVersion: '1.0.0' });
    expect(calls[1]!.stdin).toEqual({
      type: 'portmap',
      capabilities: { portMappings: true, bandwidth: false },
      name: 'net1',
      cniVersion: '1.0.0',
      prevResult: { cniVersion: '1.0.0', from: '/bin/cni/bridge' },
      runtimeConfig: { portMappings: args.runtimeConfig.portMappings },
    });
  });

  it('runs DEL in reverse, with the cached result from 0.4.0 on, and runs every plugin even after a failure', async () => {
    const { runner, calls } = fakeRunner((c) => (c.cmd.endsWith('portmap') ? { code: 1, stdout: Buffer.from('{"code":7,"msg":"boom"}') } : {}));
    const inv = new CniInvoker({ runner, binDirs: ['/bin/cni'], timeoutMs: 5000 });
    await expect(inv.delList(list('0.4.0'), bins, args, { cached: true })).rejects.toThrow('CNI plugin portmap DEL failed (exit status 1): code 7: boom');
    expect(calls.map((c) => [c.cmd, c.env.CNI_COMMAND, c.stdin.prevResult])).toEqual([
      ['/bin/cni/portmap', 'DEL', { cached: true }],
      ['/bin/cni/bridge', 'DEL', { cached: true }],
    ]);
    calls.length = 0;
    await inv.delList(list('0.3.1'), new Map([...bins].filter(([k]) => k === 'bridge')), args, { cached: true }).catch(() => undefined);
    expect(calls.map((c) => c.stdin.prevResult)).toEqual([undefined]);
  });

  it('puts the error object, the stderr tail and a timeout into the error', async () => {
    const { runner } = fakeRunner(() => ({ code: null, signal: 'SIGKILL', timedOut: true, stderr: Buffer.from('stuck\n') }));
    const inv = new CniInvoker({ runner, binDirs: ['/bin/cni'], timeoutMs: 10 });
    await expect(inv.addList(list('1.0.0'), bins, args)).rejects.toMatchObject({
      kind: 'DeadlineExceeded',
      plugin: 'bridge',
      message: 'CNI plugin bridge ADD failed (timed out after 10 ms); stderr: stuck',
    });
    const bad = fakeRunner(() => ({ stdout: Buffer.from('not json') }));
    await expect(new CniInvoker({ runner: bad.runner, binDirs: [], timeoutMs: 10 }).addList(list('1.0.0'), bins, args)).rejects.toThrow(/output is not JSON: not json/);
  });

  it('compares versions', () => {
    expect(versionAtLeast('0.4.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('1.0.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('0.3.1', '0.4.0')).toBe(false);
  });
});
