// What a VM-tier test file gets: a client of the shared daemon of one cgroup driver (test/vm/daemons.ts), the
// busybox test image in it, and pods that are labelled with the file's name, so that the file's afterAll removes
// every pod it made even when a test failed half-way.
import { inject } from 'vitest';
import { criClient, type CriClient } from '../helpers/daemon.js';
import { containerConfig, IMAGE, importImage, podConfig } from '../integration/lifecycle/env.js';
import type { VmDaemon } from './daemons.js';

export { containerConfig, IMAGE };

/** VmEnv is one test file's view of a shared daemon. */
export interface VmEnv {
  d: VmDaemon;
  c: CriClient;
  /** runPod runs a pod labelled as this file's, and gives its id with the config to create containers against. */
  runPod(name: string, extra?: Record<string, unknown>): Promise<{ id: string; config: Record<string, unknown> }>;
  /** runContainer creates and starts a busybox container running `script` under sh -c. */
  runContainer(pod: { id: string; config: object }, name: string, script: string, extra?: Record<string, unknown>): Promise<string>;
  /** cleanup stops and removes this file's pods and closes the client. */
  cleanup(): Promise<void>;
}

/** vmEnv connects to the shared daemon of `driver`, importing the test image the first time. */
export async function vmEnv(driver: string, file: string): Promise<VmEnv> {
  const d = inject('vmDaemons').find((x) => x.driver === driver);
  if (!d) throw new Error(`no shared daemon for the ${driver} driver (FUNE_VM_DRIVERS)`);
  const c = criClient(d.socket);
  const images = criClient(d.socket, 'v1', 'ImageService');
  try {
    if (!(await images.call('ImageStatus', { image: { image: IMAGE } })).image) await importImage(d.state);
  } finally {
    images.close();
  }
  const label = { 'fune-vm-file': file.replace(/[^a-zA-Z0-9_.-]/g, '_') };
  return {
    d,
    c,
    async runPod(name, extra = {}) {
      const config = podConfig(name, d.logDir, extra);
      config.labels = { ...(config.labels as object), ...label };
      const { pod_sandbox_id: id } = await c.call('RunPodSandbox', { config });
      return { id: id as string, config };
    },
    async runContainer(pod, name, script, extra = {}) {
      const { container_id: id } = await c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(name, script, extra), sandbox_config: pod.config });
      await c.call('StartContainer', { container_id: id });
      return id as string;
    },
    async cleanup() {
      const pods = (await c.call('ListPodSandbox', { filter: { label_selector: label } })).items as { id: string }[];
      for (const p of pods) {
        await c.call('StopPodSandbox', { pod_sandbox_id: p.id });
        await c.call('RemovePodSandbox', { pod_sandbox_id: p.id });
      }
      c.close();
    },
  };
}
