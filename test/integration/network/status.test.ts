import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criClient, startDaemon, type TestDaemon } from '../../helpers/daemon.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('NetworkReady in Status follows the CNI conf dir', () => {
  it('is false with the reason while the conf is absent or broken, and true once a usable list appears', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fune-netstatus-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const confDir = join(dir, 'net.d');
    const d: TestDaemon = await startDaemon({ toml: `[cni]\nconf_dir = "${confDir}"\nbin_dirs = ["/usr/lib/cni"]\n` });
    cleanups.push(() => d.cleanup());
    const c = criClient(d.socket, 'v1');
    cleanups.push(async () => c.close());
    const network = async () => ((await c.call('Status', {})).status.conditions as { type: string }[]).find((x) => x.type === 'NetworkReady');

    expect(await network()).toMatchObject({ status: false, reason: 'NetworkPluginNotReady', message: expect.stringContaining(`no network config found in ${confDir}`) });
    await mkdir(confDir);
    await writeFile(join(confDir, '10-broken.conflist'), '{"cniVersion": "1.0.0", "name": "x", "plugins": [');
    expect(await network()).toMatchObject({ status: false, message: expect.stringContaining(`${join(confDir, '10-broken.conflist')}: invalid JSON`) });
    await writeFile(join(confDir, '10-broken.conflist'), '{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "funenope"}]}');
    expect(await network()).toMatchObject({ status: false, message: expect.stringContaining('plugin "funenope" not found in /usr/lib/cni') });
    await writeFile(join(confDir, '10-broken.conflist'), '{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "bridge", "bridge": "funetnever"}]}');
    expect(await network()).toEqual({ type: 'NetworkReady', status: true, reason: '', message: '' });
  });
});
