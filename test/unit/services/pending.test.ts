import { describe, expect, it } from 'vitest';
import { Pending, settleAll } from '../../../src/services/pending.js';

const later = <T>(ms: number, v: T, fail = false) => new Promise<T>((res, rej) => setTimeout(() => (fail ? rej(new Error(String(v))) : res(v)), ms));

describe('Pending', () => {
  it('settle gives the error of the work once; afterwards nothing is pending', async () => {
    const p = new Pending();
    p.begin('a', later(10, undefined, true).then(() => undefined));
    await expect(p.settle('a')).rejects.toThrow('undefined');
    await expect(p.settle('a')).resolves.toBeUndefined();
  });

  it('quiet waits for the work and ignores its failure', async () => {
    const p = new Pending();
    let done = false;
    p.begin('a', later(20, undefined).then(() => void (done = true)));
    await p.quiet('a');
    expect(done).toBe(true);
    p.begin('b', Promise.reject(new Error('boom')));
    await expect(p.quiet('b')).resolves.toBeUndefined();
  });

  it('wait keeps the work recorded, so settle still reports it', async () => {
    const p = new Pending();
    p.begin('a', Promise.reject(new Error('boom')));
    await expect(p.wait('a')).rejects.toThrow('boom');
    await expect(p.settle('a')).rejects.toThrow('boom');
  });

  it('with forgetWhenDone, finished work is forgotten, even when it failed', async () => {
    const p = new Pending(true);
    p.begin('a', Promise.reject(new Error('boom')));
    await new Promise((r) => setTimeout(r, 5));
    await expect(p.settle('a')).resolves.toBeUndefined();
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
