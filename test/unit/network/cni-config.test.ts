import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniConfLoader, parseConfList, confFiles } from '../../../src/network/cni-config.js';

describe('parseConfList', () => {
  it('reads a list and wraps a single-plugin file', () => {
    const l = parseConfList('{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}', 'f', false);
    expect(l).toMatchObject({ name: 'n', cniVersion: '1.0.0', plugins: [{ type: 'bridge' }, { type: 'portmap' }] });
    const s = parseConfList('{"cniVersion":"0.3.1","name":"s","type":"bridge","bridge":"b0"}', 'g', true);
    expect(s.plugins).toEqual([{ cniVersion: '0.3.1', name: 's', type: 'bridge', bridge: 'b0' }]);
  });
  it.each([
    ['{', false, /invalid JSON/],
    ['[]', false, /not a JSON object/],
    ['{"plugins":[{"type":"x"}]}', false, /no network name/],
    ['{"name":"n","plugins":[]}', false, /plugin list is empty/],
    ['{"name":"n"}', false, /no "plugins" list/],
    ['{"name":"n","plugins":[{"type":"../x"}]}', false, /no valid "type"/],
    ['{"name":"n","plugins":[{"type":"x"}]}', true, /configuration list in a single-plugin file/],
  ])('rejects %s', (text, single, re) => {
    expect(() => parseConfList(text, 'file.x', single)).toThrow(re);
  });
});

describe('CniConfLoader', () => {
  let dir = '';
  let conf = '';
  let bin = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-cniconf-'));
    conf = join(dir, 'net.d');
    bin = join(dir, 'bin');
    await mkdir(bin);
    for (const p of ['bridge', 'portmap']) {
      await writeFile(join(bin, p), '#!/bin/sh\n');
      await chmod(join(bin, p), 0o755);
    }
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is not ready without a conf dir or file, and ready once a list appears', async () => {
    const l = new CniConfLoader(conf, [join(dir, 'nope'), bin]);
    expect(l.current()).toMatchObject({ ok: false, reason: 'NetworkPluginNotReady', message: expect.stringContaining('no network config found') });
    await mkdir(conf);
    await writeFile(join(conf, 'README'), 'not a config');
    expect(l.current().ok).toBe(false);
    await writeFile(join(conf, '20-b.conflist'), '{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"bridge"}]}');
    const r = l.current();
    expect(r.ok && r.conf.name).toBe('b');
    expect(r.ok && r.binaries.get('bridge')).toBe(join(bin, 'bridge'));
  });

  it('takes the first file by name; a broken first file makes it not ready, with the file named', async () => {
    await mkdir(conf);
    await writeFile(join(conf, '20-b.conflist'), '{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"bridge"}]}');
    await writeFile(join(conf, '10-a.conf'), '{"cniVersion":"0.4.0","name":"a","type":"portmap"}');
    await writeFile(join(conf, '.hidden.conflist'), '{');
    expect(confFiles(conf)).toEqual(['10-a.conf', '20-b.conflist']);
    const l = new CniConfLoader(conf, [bin]);
    const r = l.current();
    expect(r.ok && r.conf.name).toBe('a');
    await writeFile(join(conf, '05-broken.json'), '{"name": ');
    expect(l.current()).toMatchObject({ ok: false, message: expect.stringContaining(`${join(conf, '05-broken.json')}: invalid JSON`) });
    await rm(join(conf, '05-broken.json'));
    expect(l.current().ok).toBe(true);
  });

  it('is not ready while a plugin binary is missing, and picks up an edit of the chosen file', async () => {
    await mkdir(conf);
    const f = join(conf, '10-x.conflist');
    await writeFile(f, '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"},{"type":"funenope"}]}');
    const l = new CniConfLoader(conf, [bin]);
    expect(l.current()).toMatchObject({ ok: false, message: expect.stringContaining('plugin "funenope" not found') });
    await writeFile(f, '{"cniVersion":"1.0.0","name":"x2","plugins":[{"type":"bridge"}]}');
    const r = l.current();
    expect(r.ok && r.conf.name).toBe('x2');
    expect(l.current()).toBe(r); // unchanged dir: cached
  });
});
