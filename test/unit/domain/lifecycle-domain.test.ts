import { describe, expect, it } from 'vitest';
import { containerName, sandboxName } from '../../../src/domain/names.js';
import { resolveId } from '../../../src/domain/ids.js';
import { canTransitionContainer, exitReason, filterContainers, stopSignalOf } from '../../../src/domain/container.js';
import { classifyRuncError, runcMessage } from '../../../src/runtime/runc.js';
import { parseProcStat } from '../../../src/runtime/proc.js';
import { NameIndex } from '../../../src/store/names.js';
import { KeyedMutex } from '../../../src/services/locks.js';

describe('lifecycle domain', () => {
  it('names pods and containers the kubelet way and refuses missing metadata', () => {
    expect(sandboxName({ name: 'web', namespace: 'ns', uid: 'u1', attempt: 2 })).toBe('k8s_POD_web_ns_u1_2');
    expect(containerName({ name: 'c', attempt: 0 }, { name: 'web', namespace: 'ns', uid: 'u1', attempt: 0 })).toBe('k8s_c_web_ns_u1_0');
    expect(() => sandboxName({ name: 'web', namespace: '', uid: 'u', attempt: 0 })).toThrow(/namespace/);
  });
  it('resolves ids by unique prefix', () => {
    expect(resolveId(['abc1', 'abd2'], 'abc', 'x')).toBe('abc1');
    expect(() => resolveId(['abc1', 'abd2'], 'ab', 'x')).toThrow(/ambiguous/);
    expect(() => resolveId(['abc1'], 'zz', 'x')).toThrow(/not found/);
  });
  it('picks stop signals, reasons and transitions', () => {
    expect(stopSignalOf(undefined, undefined)).toBe(15);
    expect(stopSignalOf('RUNTIME_DEFAULT', 'SIGQUIT')).toBe(3);
    expect(stopSignalOf('SIGINT', 'SIGQUIT')).toBe(2);
    expect(stopSignalOf(undefined, 'usr1')).toBe(10);
    expect(stopSignalOf(undefined, '9')).toBe(9);
    expect(stopSignalOf(undefined, 'RTMIN+3')).toBe(37);
    expect(exitReason(0, false)).toBe('Completed');
    expect(exitReason(1, false)).toBe('Error');
    expect(exitReason(137, true)).toBe('OOMKilled');
    expect(canTransitionContainer('CONTAINER_EXITED', 'CONTAINER_RUNNING')).toBe(false);
    expect(canTransitionContainer('CONTAINER_CREATED', 'CONTAINER_RUNNING')).toBe(true);
  });
  it('filters containers by id prefix, state, pod and labels', () => {
    const mk = (id: string, sandboxId: string, state: 'CONTAINER_RUNNING' | 'CONTAINER_EXITED', labels: Record<string, string>) => ({ id, sandboxId, state, config: { labels } as never });
    const all = [mk('a1', 'p1', 'CONTAINER_RUNNING', { x: '1' }), mk('b2', 'p2', 'CONTAINER_EXITED', { x: '2' })];
    expect(filterContainers(all, { id: 'a', state: null, pod_sandbox_id: '', label_selector: {} }).map((c) => c.id)).toEqual(['a1']);
    expect(filterContainers(all, { id: '', state: { state: 'CONTAINER_EXITED' }, pod_sandbox_id: '', label_selector: {} }).map((c) => c.id)).toEqual(['b2']);
    expect(filterContainers(all, { id: '', state: null, pod_sandbox_id: 'p1', label_selector: { x: '1' } }).map((c) => c.id)).toEqual(['a1']);
  });
  it('classifies runc errors and reads its messages', () => {
    expect(classifyRuncError('container does not exist')).toBe('NotFound');
    expect(classifyRuncError('cannot exec in a stopped container')).toBe('FailedPrecondition');
    expect(classifyRuncError('boom')).toBe('Internal');
    expect(runcMessage('{"level":"error","msg":"runc create failed: x","time":"t"}\n')).toBe('runc create failed: x');
    expect(runcMessage('time="t" level=error msg="exec failed: \\"a\\""')).toBe('exec failed: "a"');
  });
  it('parses /proc stat lines', () => {
    const st = parseProcStat('42 (my (odd) name) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 100 1');
    expect(st).toMatchObject({ pid: 42, state: 'S', ppid: 1, pgrp: 42, session: 42, startTime: '12345' });
  });
  it('reserves names once and serialises per key', async () => {
    const n = new NameIndex('pod');
    n.reserve('a', '1');
    expect(() => n.reserve('a', '2')).toThrow(/already reserved/);
    n.release('a', '1');
    n.reserve('a', '2');
    const m = new KeyedMutex();
    const order: string[] = [];
    const slow = m.run('k', async () => (await new Promise((r) => setTimeout(r, 20)), order.push('first')));
    const other = m.run('j', async () => order.push('other'));
    const second = m.run('k', async () => order.push('second'));
    expect([m.busy('k'), m.busy('j'), m.busy('none')]).toEqual([true, true, false]);
    await Promise.all([slow, other, second]);
    expect(order).toEqual(['other', 'first', 'second']);
    for (let i = 0; i < 3 && m.size > 0; i++) await Promise.resolve();
    expect([m.busy('k'), m.busy('j')]).toEqual([false, false]);
  });
});
