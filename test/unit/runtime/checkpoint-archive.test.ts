// The checkpoint archive around CRIU's images (CRI-O's layout), with runc faked: this host's CRIU cannot dump
// (see test/integration/lifecycle/checkpoint.test.ts), so the archive is checked here with real tar.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { writeCheckpoint } from '../../../src/runtime/checkpoint.js';
import { nodeProcessRunner } from '../../../src/sys/process-runner.js';
import type { Runc } from '../../../src/runtime/runc.js';

describe('checkpoint archive', () => {
  it('holds checkpoint/, config.dump, spec.dump and rootfs-diff.tar, written by rename; nothing is left on failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fune-ckpt-unit-'));
    try {
      const upper = join(dir, 'upper');
      await mkdir(join(upper, 'etc'), { recursive: true });
      await writeFile(join(upper, 'etc', 'changed'), 'yes');
      const calls: string[][] = [];
      const runc = { checkpoint: async (id: string, images: string, work: string) => { calls.push([id, images, work]); await writeFile(join(images, 'inventory.img'), 'criu'); } } as unknown as Runc;
      const location = join(dir, 'out', 'c.tar');
      await writeCheckpoint(runc, nodeProcessRunner, { id: 'abc', config: { id: 'abc' }, spec: { ociVersion: '1.0.2' }, upperDir: upper }, location, 10_000);
      expect(calls[0]![0]).toBe('abc');
      const list = execFileSync('tar', ['-tf', location]).toString().split('\n').filter(Boolean).sort();
      expect(list).toEqual(['checkpoint/', 'checkpoint/inventory.img', 'config.dump', 'rootfs-diff.tar', 'spec.dump']);
      expect(JSON.parse(execFileSync('tar', ['-xOf', location, 'spec.dump']).toString())).toEqual({ ociVersion: '1.0.2' });
      const diff = execFileSync('sh', ['-c', `tar -xOf ${location} rootfs-diff.tar | tar -t`]).toString();
      expect(diff).toContain('./etc/changed');
      expect(await readdir(join(dir, 'out'))).toEqual(['c.tar']);
      // A dump that fails leaves neither an archive nor the staging directory.
      const failing = { checkpoint: async () => { throw new Error('criu failed'); } } as unknown as Runc;
      await expect(writeCheckpoint(failing, nodeProcessRunner, { id: 'x', config: {}, spec: {} }, join(dir, 'out', 'd.tar'), 10_000)).rejects.toThrow('criu failed');
      expect(await readdir(join(dir, 'out'))).toEqual(['c.tar']);
      expect(await readFile(location)).toBeTruthy();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
