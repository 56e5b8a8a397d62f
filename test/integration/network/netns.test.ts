import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsManager } from '../../../src/network/netns.js';
import { nodeProcessRunner } from '../../../src/sys/process-runner.js';

const mounted = async (p: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === p);

describe('NetnsManager (real namespaces)', () => {
  let dir = '';
  afterEach(async () => {
    if (!dir) return;
    for (let i = 0; i < 3 && (await mounted(join(dir, 'netns'))); i++) {
      for (const l of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
        const p = l.split(' ')[4];
        if (p?.startsWith(join(dir, 'netns') + '/')) execFileSync('umount', ['-l', p]);
      }
      execFileSync('umount', ['-l', join(dir, 'netns')]);
    }
    await rm(dir, { recursive: true, force: true });
    dir = '';
  });

  it('creates a pinned namespace with lo up, lists it, and removes it twice', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-netns-'));
    const m = new NetnsManager({ dir: join(dir, 'netns'), runner: nodeProcessRunner });
    const t0 = performance.now();
    const path = await m.create('pod1');
    const ms = performance.now() - t0;
    expect(path).toBe(join(dir, 'netns', 'pod1'));
    expect(await mounted(path)).toBe(true);
    // on a private parent (this host's /) the dir itself is not mounted on
    expect(await mounted(join(dir, 'netns'))).toBe(false);
    const links = execFileSync('nsenter', [`--net=${path}`, 'ip', '-o', 'link', 'show']).toString();
    expect(links).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    expect(links.trim().split('\n')).toHaveLength(1); // a fresh namespace, not the host's
    expect(execFileSync('nsenter', [`--net=${path}`, 'busybox', 'ping', '-c1', '-W1', '127.0.0.1']).toString()).toMatch(/1 packets received/);
    expect(await m.list()).toEqual([{ podId: 'pod1', path, mounted: true }]);
    expect(await m.exists('pod1')).toBe(true);
    await expect(m.create('pod1')).rejects.toMatchObject({ kind: 'AlreadyExists' });
    await m.remove('pod1');
    await m.remove('pod1');
    expect(await mounted(path)).toBe(false);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await m.list()).toEqual([]);
    console.log(`netns create + lo up: ${ms.toFixed(1)} ms`);
  });

  it('on a shared parent mount, makes the netns dir a private self-bind first (systemd hosts)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-netns-'));
    execFileSync('mount', ['--bind', dir, dir]);
    execFileSync('mount', ['--make-shared', dir]);
    try {
      const m = new NetnsManager({ dir: join(dir, 'netns'), runner: nodeProcessRunner });
      const path = await m.create('pod3');
      const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === join(dir, 'netns'));
      expect(line).toBeDefined();
      expect(line).not.toContain('shared:');
      expect(execFileSync('nsenter', [`--net=${path}`, 'ip', '-o', 'link', 'show', 'lo']).toString()).toContain('UP');
      await m.remove('pod3');
      expect(await mounted(path)).toBe(false);
    } finally {
      if (await mounted(join(dir, 'netns'))) execFileSync('umount', [join(dir, 'netns')]);
      execFileSync('umount', [dir]);
    }
  });

  it('replaces a stale unmounted file and rejects a bad id without touching anything', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-netns-'));
    const m = new NetnsManager({ dir: join(dir, 'netns'), runner: nodeProcessRunner });
    await m.prepareDir();
    await (await import('node:fs/promises')).writeFile(join(dir, 'netns', 'pod2'), '');
    expect(await m.list()).toEqual([{ podId: 'pod2', path: join(dir, 'netns', 'pod2'), mounted: false }]);
    const p = await m.create('pod2');
    expect(await mounted(p)).toBe(true);
    expect(() => m.pathOf('../etc')).toThrow(/invalid pod id/);
    await m.remove('pod2');
    expect(await mounted(p)).toBe(false);
  });
});
