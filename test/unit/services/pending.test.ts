import { describe, expect, it } from 'vitest';
import { Pending, settleAll } from '../../../src/services/pending.js';

const later = <T>(ms: number, v: T, fail = false) => new Promise<T>((res, rej) => setTimeout(() => (fail ? rej(new Error(String(v))) : res(v)), ms));

describe('Pending', () => {
  it('quiet waits for the work and ignores its failure; with nothing pending it returns at once', async () => {
    const p = new Pending();
    let done = false;
    p.begin('a', later(20, undefined).then(() => void (done = true)));
    await p.quiet('a');
    expect(done).toBe(true);
    p.begin('b', Promise.reject(new Error('boom')));
    await expect(p.quiet('b')).resolves.toBeUndefined();
    await expect(p.quiet('none')).resolves.toBeUndefined();
  });

  it('forgets finished work, and a newer begin for the same id is not forgotten with the older one', async () => {
    const p = new Pending();
    p.begin('a', later(5, undefined));
    let second = false;
    p.begin('a', later(40, undefined).then(() => void (second = true)));
    await new Promise((r) => setTimeout(r, 10));
    await p.quiet('a');
    expect(second).toBe(true);
  });
});

describe('settleAll', () => {
  it('gives every value in order', async () => {
    expect(await settleAll([later(5, 1), Promise.resolve('x'), undefined] as const)).toEqual([1, 'x', undefined]);
  });

  it('throws the first failure only after every sibling has ended', async () => {
    let slowDone = false;
    const slow = later(30, 0).then(() => (slowDone = true));
    await expect(settleAll([Promise.reject(new Error('first')), slow] as const)).rejects.toThrow('first');
    expect(slowDone).toBe(true);
  });
});
