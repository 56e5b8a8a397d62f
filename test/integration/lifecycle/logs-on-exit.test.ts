import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

describe('container logs at exit', () => {
  it('hold the last output by the time the container is reported exited', async () => {
    const config = podConfig('logs-on-exit', env.logDir);
    const { pod_sandbox_id: pod } = await env.c.call('RunPodSandbox', { config });
    // Many rounds of a container that writes a burst on both streams and exits at once: the kubelet reads the log
    // tail for termination messages as soon as it sees the exit, so the tail must be there then. (conmon drains
    // stdio and syncs the log before it writes the exit file fune learns exits from.)
    for (let round = 0; round < 8; round++) {
      const script = `i=0; while [ $i -lt 300 ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); done; echo last-line-${round}`;
      const { container_id: id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(`burst${round}`, script), sandbox_config: config });
      await env.c.call('StartContainer', { container_id: id });
      let status: { state: string; log_path: string; exit_code: number };
      for (;;) {
        status = (await env.c.call('ContainerStatus', { container_id: id })).status;
        if (status.state === 'CONTAINER_EXITED') break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const log = await readFile(status.log_path, 'utf8');
      // stdout and stderr are separate pipes, so their lines may interleave in any order: look for the last of each.
      expect(log).toContain(`stdout F last-line-${round}\n`);
      expect(log.match(/ stderr F err-\d+/g)).toHaveLength(300);
      expect(status.exit_code).toBe(0);
      await env.c.call('RemoveContainer', { container_id: id });
    }
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
  });
});
