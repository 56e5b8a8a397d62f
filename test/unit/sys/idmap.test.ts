// native/idmap on the real kernel: an idmapped view of a directory for a user namespace mapping 0 → 1000 (length
// 100000), made by a helper process the test starts (unshare --user, maps written from outside as root). Read
// back: owners seen from the host through the view are shifted by 1000, inside the namespace they are the stored
// ids, a file the namespace's root writes is stored as 0; bad input is an errno error and mounts nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadIdmapAddon } from '../../../src/sys/idmap.js';

const root = process.getuid?.() === 0;
let dir = '';
let holder: ChildProcess | undefined;
const mounted = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

beforeAll(async () => {
  if (!root) return;
  dir = mkdtempSync(join(tmpdir(), 'fune-idmap-'));
  chmodSync(dir, 0o755); // the namespace's root (host 1000) must reach the view
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'dst'));
  writeFileSync(join(dir, 'src', 'f'), 'x');
  chownSync(join(dir, 'src', 'f'), 1005, 1006);
  holder = spawn('unshare', ['--user', 'sleep', '60'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    try {
      if (execFileSync('readlink', [`/proc/${holder.pid}/ns/user`]).toString() !== execFileSync('readlink', ['/proc/self/ns/user']).toString()) break;
    } catch {
      /* not there yet */
    }
  }
  writeFileSync(`/proc/${holder.pid}/uid_map`, '0 1000 100000');
  writeFileSync(`/proc/${holder.pid}/gid_map`, '0 1000 100000');
});
afterAll(() => {
  if (dir) {
    for (let i = 0; i < 3 && mounted(join(dir, 'dst')); i++) execFileSync('umount', [join(dir, 'dst')]);
    rmSync(dir, { recursive: true, force: true });
  }
  holder?.kill('SIGKILL');
});

describe.skipIf(!root)('native idmapped mounts', () => {
  it('is built (hack/build-native.sh)', () => {
    expect(() => loadIdmapAddon()).not.toThrow();
  });

  it('gives an idmapped view: host sees ids shifted by the mapping, the namespace sees the stored ids, its root writes 0', () => {
    const a = loadIdmapAddon();
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    a.idmapMount(src, dst, `/proc/${holder!.pid}/ns/user`);
    expect(mounted(dst)).toBe(true);
    expect(readFileSync(`/proc/${holder!.pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', '1000', '100000']);
    expect([statSync(join(src, 'f')).uid, statSync(join(src, 'f')).gid]).toEqual([1005, 1006]);
    expect([statSync(join(dst, 'f')).uid, statSync(join(dst, 'f')).gid]).toEqual([2005, 2006]);
    const inside = execFileSync('nsenter', ['-U', '-t', String(holder!.pid), 'stat', '-c', '%u:%g', join(dst, 'f')]).toString().trim();
    expect(inside).toBe('1005:1006');
    execFileSync('nsenter', ['-U', '-t', String(holder!.pid), '--setuid', '0', '--setgid', '0', 'touch', join(dst, 'new')]);
    expect([statSync(join(src, 'new')).uid, statSync(join(src, 'new')).gid]).toEqual([0, 0]);
    execFileSync('umount', [dst]);
    expect(mounted(dst)).toBe(false);
  });

  it.each([
    ['the initial user namespace (not allowed for idmaps)', () => ['/proc/self/ns/user'], 'EPERM', 'mount_setattr'],
    ['a missing user namespace file', () => [join(dir, 'nope')], 'ENOENT', 'open'],
  ])('%s is an errno error and mounts nothing', (_what, ns, code, syscall) => {
    const a = loadIdmapAddon();
    const dst = join(dir, 'dst');
    let err: (Error & { code?: string; syscall?: string }) | undefined;
    try {
      a.idmapMount(join(dir, 'src'), dst, ns()[0]!);
    } catch (e) {
      err = e as Error & { code?: string; syscall?: string };
    }
    expect(err?.code).toBe(code);
    expect(err?.syscall).toBe(syscall);
    expect(mounted(dst)).toBe(false);
  });

  it('a missing source is ENOENT from open_tree', () => {
    expect(() => loadIdmapAddon().idmapMount(join(dir, 'none'), join(dir, 'dst'), `/proc/${holder!.pid}/ns/user`)).toThrow(/open_tree: No such file/);
  });
});
