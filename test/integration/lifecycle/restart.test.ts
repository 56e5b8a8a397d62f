 
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('state across a daemon crash', () => {
  it('keeps running containers running and logging, and reports the exit of one that ended while fune was down', async () => {
    const config = podConfig('survivor', env.logDir);
    const pod = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const mk = async (name: string, script: string) => {
      const id = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(name, script), sandbox_config: config })).container_id as string;
      await env.c.call('StartContainer', { container_id: id });
      return id;
    };
    const ticker = await mk('ticker', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done');
    const quitter = await mk('quitter', 'read x < /tmp/never 2>/dev/null; sleep 2; exit 42');
    // The daemon dies; conmon keeps both containers; quitter exits while fune is down.
    await env.restart('SIGKILL', async () => void (await sleep(2500)));
    const st = async (id: string) => (await env.c.call('ContainerStatus', { container_id: id })).status;
    const q = await st(quitter);
    expect(q).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 42, reason: 'Error' });
    expect(BigInt(q.finished_at)).toBeGreaterThan(BigInt(q.started_at));
    expect((await st(ticker)).state).toBe('CONTAINER_RUNNING');
    expect((await env.c.call('PodSandboxStatus', { pod_sandbox_id: pod })).status.state).toBe('SANDBOX_READY');
    const logPath = join(env.logDir, 'survivor', 'ticker.log');
    const before = (await readFile(logPath, 'utf8')).split('\n').length;
    await sleep(600);
    expect((await readFile(logPath, 'utf8')).split('\n').length).toBeGreaterThan(before);
    // Stop and Remove still work on recovered containers.
    await env.c.call('StopContainer', { container_id: ticker, timeout: 5 });
    expect((await st(ticker)).state).toBe('CONTAINER_EXITED');
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    expect((await env.c.call('ListContainers', {})).containers).toEqual([]);
    expect((await env.c.call('ListPodSandbox', {})).items).toEqual([]);
  });
});
