 
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { ROOT, failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
let pod: string;
let ctr: string;
beforeAll(async () => {
  env = await startEnv();
  const config = podConfig('exec', env.logDir);
  pod = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id;
  ctr = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('main', 'exec sleep 100000'), sandbox_config: config })).container_id;
  await env.c.call('StartContainer', { container_id: ctr });
});
afterAll(async () => {
  if (pod) await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod }).catch(() => undefined);
  await env?.cleanup();
});

const exec = (cmd: string[], timeout = 0) => env.c.call('ExecSync', { container_id: ctr, cmd, timeout });
const text = (b: Buffer) => Buffer.from(b).toString();

/** bigClient is a v1 RuntimeService client that accepts 64 MiB messages (the kubelet's own limit is 16 MiB). */
function bigClient() {
  const def = loadSync(join(ROOT, 'proto', 'runtime', 'v1', 'api.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const Ctor = (grpc.loadPackageDefinition(def).runtime as any).v1.RuntimeService as grpc.ServiceClientConstructor;
  const client = new Ctor(`unix://${env.d.socket}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
  return {
    call: (method: string, req: object) =>
      new Promise<any>((resolve, reject) => (client as any)[method](req, (e: Error | null, r: unknown) => (client.close(), e ? reject(e) : resolve(r)))),
  };
}

describe('ExecSync', () => {
  it('returns stdout and stderr apart and the exit code as is', async () => {
    const r = await exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(text(r.stdout)).toBe('out\n');
    expect(text(r.stderr)).toBe('err\n');
    expect(r.exit_code).toBe(7);
    expect((await exec(['true'])).exit_code).toBe(0);
  });

  it('carries large output and cuts each stream at 16 MiB', async () => {
    const r = await exec(['sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" a']);
    expect(r.stdout.length).toBe(3_000_000);
    const big = await bigClient().call('ExecSync', { container_id: ctr, cmd: ['sh', '-c', 'head -c 17000000 /dev/zero; echo done >&2'], timeout: 0 });
    expect(big.stdout.length).toBe(16 * 1024 * 1024);
    expect(text(big.stderr)).toBe('done\n');
    expect(big.exit_code).toBe(0);
  });

  it('kills `sleep 100` at a 1 s timeout with DEADLINE_EXCEEDED, leaving no sleep behind', async () => {
    const t0 = Date.now();
    const f = await failure(exec(['sh', '-c', 'sleep 100 & sleep 101'], 1));
    const took = Date.now() - t0;
    expect(f.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(f.details).toMatch(/timeout 1s/);
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(2500);
    const ps = await exec(['sh', '-c', 'ps -o pid,stat,args | grep -E "sleep 10[01]$" || true']);
    expect(text(ps.stdout)).toBe('');
    // critest's check: no sleep left, not even a zombie
    const direct = await failure(exec(['sleep', '4321'], 1));
    expect(direct.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const pg = await exec(['sh', '-c', 'ps -o stat,args | grep -E "sleep 4321$" || true'], 30);
    expect(text(pg.stdout)).toBe('');
    expect(text(pg.stderr)).toBe('');
  });

  it('does not hang on a background child that holds stdio', async () => {
    const t0 = Date.now();
    const r = await exec(['sh', '-c', 'sleep 100 & echo started'], 10);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(text(r.stdout)).toBe('started\n');
    expect(r.exit_code).toBe(0);
  });

  it('answers NOT_FOUND for an absent container and FAILED_PRECONDITION for one not running', async () => {
    expect((await failure(env.c.call('ExecSync', { container_id: 'f'.repeat(64), cmd: ['true'] }))).code).toBe(grpc.status.NOT_FOUND);
    const config = podConfig('exec2', env.logDir);
    const created = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('idle', 'true'), sandbox_config: config })).container_id;
    expect((await failure(env.c.call('ExecSync', { container_id: created, cmd: ['true'] }))).code).toBe(grpc.status.FAILED_PRECONDITION);
    await env.c.call('RemoveContainer', { container_id: created });
  });
});
