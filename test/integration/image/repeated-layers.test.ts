// Images whose layer list repeats a layer (Docker-built images hold identical empty layers; some list one layer
// several times) must run, and show the filesystem that applying their layers in order gives. They come from a
// real registry (pull) and from an archive (import through the admin socket), and the container's own view of
// its files is checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criClient, type CriClient } from '../../helpers/daemon.js';
import { startRegistry, hostsToml, type TestRegistry } from './registry-helper.js';
import { containerConfig, importImage, podConfig, startEnv, type LifecycleEnv } from '../lifecycle/env.js';
import { busyboxEntries, buildImage, makeTar, ociArchive, pushImage, sha256, type Image } from '../../../hack/test-images.js';

/** EMPTY_DIFF_ID is the diff id of an empty tar (1024 zero bytes), the layer Docker writes for metadata-only steps. */
const EMPTY_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/**
 * layersFor gives a base layer and two layers A and B that fight over the same paths (`x` tells images apart):
 * B overwrites A's file, whiteouts a file of A and recreates a file A whited out; A makes `d` opaque.
 */
async function layersFor(x: string) {
  const base = await makeTar([...busyboxEntries(), { name: 'base-file', body: `base-${x}` }]);
  const a = await makeTar([
    { name: 'f', body: `A-${x}` },
    { name: 'a-only', body: `a-${x}` },
    { name: '.wh.base-file' },
    { name: 'd/', type: 'directory' },
    { name: 'd/.wh..wh..opq' },
    { name: 'd/a', body: 'a' },
  ]);
  const b = await makeTar([{ name: 'f', body: `B-${x}` }, { name: 'b-only', body: `b-${x}` }, { name: '.wh.a-only' }, { name: 'base-file', body: `B-${x}` }, { name: 'd/b', body: 'b' }]);
  return { base, a, b, empty: await makeTar([]) };
}

/**
 * CHECK prints what the layer fight decided. Applying base, A, B, A in order: f is A's, a-only is back (A again
 * after B's whiteout), b-only stays (A does not touch it), base-file is gone (A's whiteout after B's rewrite),
 * d holds only `a` (A's opaque marker hides B's `d/b`).
 */
const CHECK = 'cat /f; echo; cat /a-only; echo; cat /b-only; echo; ls /d; test -e /base-file && echo base-file || echo no-base-file';
const expected = (x: string) => `A-${x}\na-${x}\nb-${x}\na\nno-base-file\n`;

describe('images that repeat a layer', () => {
  let reg: TestRegistry;
  let env: LifecycleEnv;
  let work: string;
  let pod: { id: string; config: Record<string, unknown> };
  let aba: Image;
  let abaOnce: Image;
  let empties: Image;
  let imported: Image;
  let img: CriClient;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'fune-repeat-'));
    const certs = join(work, 'certs.d');
    reg = await startRegistry();
    await hostsToml(certs, reg.host, `server = "http://${reg.host}"\n`);
    const p = await layersFor('pull');
    expect(sha256(p.empty)).toBe(EMPTY_DIFF_ID);
    aba = buildImage({ layers: [p.base, p.a, p.empty, p.b, p.empty, p.a, p.a] });
    abaOnce = buildImage({ layers: [p.base, p.a, p.empty, p.b], labels: { once: 'yes' } });
    empties = buildImage({ layers: [p.base, p.empty, await makeTar([{ name: 'marker', body: 'm' }]), p.empty, p.empty] });
    await pushImage(reg.base, 'fune/aba', 'v1', aba);
    await pushImage(reg.base, 'fune/aba-once', 'v1', abaOnce);
    await pushImage(reg.base, 'fune/empties', 'v1', empties);
    const i = await layersFor('import');
    imported = buildImage({ layers: [i.base, i.empty, i.a, i.empty, i.b, i.a, i.empty] });
    env = await startEnv(`[registry]\nconfig_path = "${certs}"\n`);
    img = criClient(env.d.socket, 'v1', 'ImageService');
    await importImage(env.d.state, await ociArchive([{ ref: 'fune.test/aba-import:v1', image: imported }]));
    const config = podConfig('repeat', env.logDir);
    pod = { id: (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id, config };
  });

  afterAll(async () => {
    if (pod) await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id }).catch(() => undefined);
    img?.close();
    await env?.cleanup();
    await reg?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** runIn starts a container of `image` and gives what `script` prints inside it. */
  async function runIn(name: string, image: string, script: string, mounts: object[] = []): Promise<string> {
    const config = { ...containerConfig(name, 'exec sleep 1000'), image: { image }, mounts };
    const { container_id: id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config, sandbox_config: pod.config });
    try {
      await env.c.call('StartContainer', { container_id: id });
      const r = await env.c.call('ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 10 });
      expect(Buffer.from(r.stderr).toString()).toBe('');
      return Buffer.from(r.stdout).toString();
    } finally {
      await env.c.call('StopContainer', { container_id: id, timeout: 0 }).catch(() => undefined);
      await env.c.call('RemoveContainer', { container_id: id }).catch(() => undefined);
    }
  }

  it('a pulled image with A, B, A runs with A on top, as applying the layers in order gives', async () => {
    const ref = `${reg.host}/fune/aba:v1`;
    await img.call('PullImage', { image: { image: ref } });
    expect(await runIn('aba', ref, CHECK)).toBe(expected('pull'));
  });

  it('counts a repeated layer once in the image size', async () => {
    await img.call('PullImage', { image: { image: `${reg.host}/fune/aba-once:v1` } });
    const size = async (ref: string) => Number((await img.call('ImageStatus', { image: { image: ref } })).image.size);
    expect(await size(`${reg.host}/fune/aba:v1`)).toBe(await size(`${reg.host}/fune/aba-once:v1`));
  });

  it('a pulled image with repeated empty layers (Docker-built style) runs', async () => {
    const ref = `${reg.host}/fune/empties:v1`;
    await img.call('PullImage', { image: { image: ref } });
    expect(await runIn('empties', ref, 'cat /marker; cat /base-file')).toBe('mbase-pull');
  });

  it('an image with repeated layers mounts as an image volume (CRI Mount.image) with the same files', async () => {
    const ref = `${reg.host}/fune/aba:v1`;
    await img.call('PullImage', { image: { image: ref } });
    const mounts = [{ container_path: '/v', readonly: true, image: { image: ref } }];
    expect(await runIn('volume', 'fune.test/aba-import:v1', CHECK.replaceAll(' /', ' /v/'), mounts)).toBe(expected('pull'));
  });

  it('an imported image with repeated layers runs the same way', async () => {
    expect(await runIn('imported', 'fune.test/aba-import:v1', CHECK)).toBe(expected('import'));
  });
});
