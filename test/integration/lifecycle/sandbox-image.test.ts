// runtime.sandbox_image: the infra process is the image's entrypoint, pulled from a local registry the first time
// a pod needs it, reported pinned, and its per-pod rootfs is unmounted and removed with the pod.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxImage, pushImage } from '../../../hack/test-images.js';
import { criClient } from '../../helpers/daemon.js';
import { hostsToml, startRegistry, type TestRegistry } from '../image/registry-helper.js';
import { IMAGE, containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv | undefined;
let reg: TestRegistry | undefined;
let certs = '';
let pause = '';

beforeAll(async () => {
  reg = await startRegistry();
  certs = await mkdtemp(join(tmpdir(), 'fune-lc-certs-'));
  await hostsToml(certs, reg.host, `server = "http://${reg.host}"\n`);
  pause = `${reg.host}/fune/pause:test`;
  await pushImage(reg.base, 'fune/pause', 'test', await busyboxImage({ entrypoint: ['/bin/sleep'], cmd: ['2147483647'] }));
  env = await startEnv(`[runtime]\nsandbox_image = "${pause}"\n[registry]\nconfig_path = "${certs}"\n`);
});
afterAll(async () => {
  await env?.cleanup();
  await reg?.stop();
  if (certs) await rm(certs, { recursive: true, force: true });
});

const mountsUnder = async (dir: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(dir));

describe('runtime.sandbox_image', () => {
  it('pulls the image once, runs its entrypoint as the infra process, reports it pinned and cleans up with the pod', async () => {
    const e = env!;
    const images = criClient(e.d.socket, 'v1', 'ImageService');
    try {
      expect((await images.call('ImageStatus', { image: { image: pause } })).image).toBeNull();
      // Two pods at once: one pull, both run.
      const configs = [podConfig('img-a', e.logDir), podConfig('img-b', e.logDir)];
      const ids = await Promise.all(configs.map(async (config) => (await e.c.call('RunPodSandbox', { config })).pod_sandbox_id as string));
      expect(e.d.logs().match(/pulling the sandbox image/g)).toHaveLength(1);
      for (const id of ids) {
        const st = await e.c.call('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
        expect(st.status.state).toBe('SANDBOX_READY');
        const info = JSON.parse(st.info.info as string) as { pid: number; image: string; runtimeSpec: { process: { args: string[] } } };
        expect(info.image).toBe(pause);
        expect(info.runtimeSpec.process.args).toEqual(['/bin/sleep', '2147483647']);
        // `runc start` returns once init is told to go; the execve of the entrypoint follows, and while it runs the
        // process's cmdline reads empty (seen once in CI). Look until the exec is done, for at most 5 s.
        const args = async () => (await readFile(`/proc/${info.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
        let cmdline = await args();
        for (let i = 0; i < 50 && (cmdline.length === 0 || cmdline[1] === 'init'); i++) {
          await new Promise((r) => setTimeout(r, 100));
          cmdline = await args();
        }
        expect(cmdline).toEqual(['/bin/sleep', '2147483647']);
      }
      const st = await images.call('ImageStatus', { image: { image: pause } });
      expect(st.image).toMatchObject({ pinned: true });
      const listed = (await images.call('ListImages', {})).images as { repo_tags: string[]; pinned: boolean }[];
      expect(listed.find((i) => i.repo_tags.includes(pause))?.pinned).toBe(true);
      expect(listed.find((i) => i.repo_tags.some((t) => t.includes('busybox')))?.pinned).toBe(false);

      // Containers join the pod as usual.
      const c = (await e.c.call('CreateContainer', { pod_sandbox_id: ids[0], config: { ...containerConfig('app', 'exec sleep 1000'), image: { image: IMAGE } }, sandbox_config: configs[0] })).container_id as string;
      await e.c.call('StartContainer', { container_id: c });
      expect((await e.c.call('ContainerStatus', { container_id: c })).status.state).toBe('CONTAINER_RUNNING');

      for (const id of ids) {
        expect(await mountsUnder(join(e.d.state, 'pods', id))).not.toHaveLength(0);
        await e.c.call('RemovePodSandbox', { pod_sandbox_id: id });
        expect(await mountsUnder(join(e.d.state, 'pods', id))).toEqual([]);
      }
      expect((await e.c.call('ListPodSandbox', {})).items).toEqual([]);
    } finally {
      images.close();
    }
  });
});
