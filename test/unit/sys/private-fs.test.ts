// tightenTree takes group and other bits away under a directory, but for what its rule names, and never through
// a symlink or on a socket; the rules of src/services/private-state.ts name the content fune must not touch.
import { afterEach, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tightenTree } from '../../../src/sys/private-fs.js';
import { rootRule, stateRule } from '../../../src/services/private-state.js';

let dir = '';
let server: Server | undefined;
afterEach(async () => {
  server?.close();
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => ((await lstat(p)).mode & 0o7777).toString(8);

describe('tightenTree', () => {
  it('makes directories 0700 and files 0600 (owner bits kept), skips and keeps what the rule says, follows no symlink', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-tighten-'));
    const outside = await mkdtemp(join(tmpdir(), 'fune-outside-'));
    try {
      await mkdir(join(dir, 'a/b/c'), { recursive: true });
      await mkdir(join(dir, 'content/inner'), { recursive: true });
      await mkdir(join(dir, 'shared'), { recursive: true });
      await writeFile(join(dir, 'a/b/c/spec.json'), '{}');
      await writeFile(join(dir, 'a/run.sh'), '#!/bin/sh');
      await writeFile(join(dir, 'content/inner/file'), 'x');
      await writeFile(join(dir, 'shared/hosts'), 'x');
      await writeFile(join(outside, 'target'), 'x');
      await symlink(join(outside, 'target'), join(dir, 'a/link'));
      for (const d of ['a', 'a/b', 'a/b/c', 'content', 'content/inner', 'shared']) await chmod(join(dir, d), 0o755);
      for (const f of ['a/b/c/spec.json', 'content/inner/file', 'shared/hosts']) await chmod(join(dir, f), 0o644);
      await chmod(join(dir, 'a/run.sh'), 0o755);
      await chmod(join(outside, 'target'), 0o644);
      server = createServer();
      await new Promise<void>((r) => server!.listen(join(dir, 'a/sock'), r));
      await chmod(join(dir, 'a/sock'), 0o666);

      const rule = (rel: readonly string[]) => (rel[0] === 'content' ? 'skip' : rel.join('/') === 'shared/hosts' ? 'keep' : undefined);
      const res = await tightenTree(dir, rule);
      expect(await mode(join(dir, 'a'))).toBe('700');
      expect(await mode(join(dir, 'a/b/c'))).toBe('700');
      expect(await mode(join(dir, 'a/b/c/spec.json'))).toBe('600');
      expect(await mode(join(dir, 'a/run.sh'))).toBe('700');
      expect(await mode(join(dir, 'shared'))).toBe('700');
      expect(await mode(join(dir, 'shared/hosts'))).toBe('644');
      expect(await mode(join(dir, 'content'))).toBe('755');
      expect(await mode(join(dir, 'content/inner/file'))).toBe('644');
      expect(await mode(join(dir, 'a/sock'))).toBe('666');
      expect(((await stat(join(outside, 'target'))).mode & 0o777).toString(8)).toBe('644');
      expect(res.changed).toHaveLength(6);
      // a second pass changes nothing
      expect((await tightenTree(dir, rule)).changed).toEqual([]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('keeps the sticky and setuid bits it finds (it only takes group and other bits away)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-tighten-'));
    await mkdir(join(dir, 't'));
    await chmod(join(dir, 't'), 0o1777);
    await tightenTree(dir, () => undefined);
    expect(await mode(join(dir, 't'))).toBe('1700');
  });
});

describe('the rules for root and state', () => {
  it.each([
    [['image', 'layers', 'abc', 'diff'], 'skip'], [['image', 'layers', '.tmp-abc', 'diff'], 'skip'], [['image', 'layers', 'abc'], undefined], [['image', 'layers', 'abc', 'layer.json'], undefined],
    [['image', 'rootfs', 'id', 'upper'], 'skip'], [['image', 'rootfs', 'id', 'work'], 'skip'], [['image', 'rootfs', 'id'], undefined], [['image', 'empty'], 'skip'],
    [['image', 'content', 'blobs', 'sha256', 'x'], undefined], [['containers', 'id.json'], undefined], [['cni-cache'], undefined],
  ])('root %j: %s', (rel, want) => expect(rootRule(rel)).toBe(want));
  it.each([
    [['containers', 'id', 'rootfs'], 'skip'], [['containers', 'id', 'volumes'], 'skip'], [['containers', 'id', 'config.json'], undefined], [['containers', 'id'], undefined],
    [['pods', 'id', 'rootfs'], 'skip'], [['pods', 'id', 'shm'], 'skip'], [['pods', 'id', 'hosts'], 'keep'], [['pods', 'id', 'resolv.conf'], 'keep'], [['pods', 'id', 'hostname'], 'keep'],
    [['pods', 'id', 'config.json'], undefined], [['runc', 'id'], 'skip'], [['runc'], undefined], [['netns', 'id'], undefined], [['exits'], undefined], [['fune.lock'], undefined],
  ])('state %j: %s', (rel, want) => expect(stateRule(rel)).toBe(want));
});
