import { describe, it, expect } from 'vitest';
import { isDiskFull, asDiskFull } from '../../../src/image/disk-full.js';
import { FsError } from '../../../src/image/fs-worker.js';
import { RuntimeError } from '../../../src/errors/index.js';
import { UnpackBudget } from '../../../src/image/unpack-budget.js';

const errno = (code: string) => Object.assign(new Error(`${code}: some failure, write`), { code });

describe('isDiskFull', () => {
  it.each<[string, unknown, boolean]>([
    ['ENOSPC from fs', errno('ENOSPC'), true],
    ['EDQUOT from fs', errno('EDQUOT'), true],
    ['ENOSPC from the file system worker', new FsError('ENOSPC: no space left on device, open', 'ENOSPC'), true],
    ['mknod failing for lack of space', new RuntimeError('Internal', "mknod -m 0 -- /x/.wh.a c 0 0: exit status 1: mknod: '/x/a': No space left on device"), true],
    ['setfattr over quota', new RuntimeError('Internal', 'setfattr -h -n trusted.overlay.opaque: exit status 1: setfattr: /x/d: Disk quota exceeded\n'), true],
    ['an unpack failure caused by ENOSPC', new RuntimeError('FailedPrecondition', 'layer: ENOSPC', { cause: errno('ENOSPC') }), true],
    ['two wrappings deep', new RuntimeError('FailedPrecondition', 'a', { cause: new RuntimeError('Internal', 'b', { cause: errno('ENOSPC') }) }), true],
    ['EEXIST', errno('EEXIST'), false],
    ['EIO', errno('EIO'), false],
    ['a layer entry named like the message', new RuntimeError('FailedPrecondition', 'layer entry "No space left on device" rejected: malformed whiteout'), false],
    ['a tool error with the text in a path, not at the end', new RuntimeError('Internal', "mknod: '/x/No space left on device': File exists"), false],
    ['a plain Error with the text', new Error('No space left on device'), false],
    ['undefined', undefined, false],
    ['a string', 'ENOSPC', false],
  ])('%s → %s', (_what, e, want) => {
    expect(isDiskFull(e)).toBe(want);
  });

  it('asDiskFull makes RESOURCE_EXHAUSTED naming the filesystem, and leaves other errors alone', () => {
    const e = asDiskFull(errno('ENOSPC'), '/var/lib/fune/image') as RuntimeError;
    expect(e.kind).toBe('ResourceExhausted');
    expect(e.message).toBe('no space left on the filesystem of /var/lib/fune/image: ENOSPC: some failure, write');
    const other = errno('EIO');
    expect(asDiskFull(other, '/x')).toBe(other);
  });
});

describe('UnpackBudget', () => {
  it('stops at the first file that does not fit, and every step after', () => {
    const b = new UnpackBudget(100, 'img');
    b.charge(30, 'sha256:shared');
    const m1 = b.meter('sha256:one');
    const m2 = b.meter('sha256:two');
    m1.take(40, 'a');
    m2.take(30, 'b');
    expect(() => m1.take(1, 'c')).toThrow(/unpacks to more than registry.max_unpacked_size \(100 bytes\): stopped at layer sha256:one, entry "c", with 101 bytes counted/);
    expect(() => m2.take(0, 'd')).toThrow(/entry "c"/);
    try {
      m2.take(0, 'e');
    } catch (e) {
      expect((e as RuntimeError).kind).toBe('ResourceExhausted');
    }
  });

  it('replaces a layer estimate by its measured size, and checks the measured total', () => {
    const b = new UnpackBudget(100, 'img');
    const m = b.meter('sha256:one');
    m.take(50, 'a');
    m.done(60);
    const m2 = b.meter('sha256:two');
    m2.take(40, 'b');
    expect(() => m2.done(41)).toThrow(/stopped at layer sha256:two, with 101 bytes/);
    expect(() => new UnpackBudget(100, 'img').final(101)).toThrow(/unpacks to 101 bytes, more than registry.max_unpacked_size \(100 bytes\)/);
    expect(() => new UnpackBudget(100, 'img').final(100)).not.toThrow();
  });

  it('fails at once when the layers already stored exceed it', () => {
    expect(() => new UnpackBudget(10, 'img').charge(11, 'sha256:s')).toThrow(/layer sha256:s, already stored/);
  });
});
