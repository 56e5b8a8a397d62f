// checkSysctlsOffered on a fixture /proc/sys shaped as a network namespace that a user namespace owns shows it:
// net.core/ and netfilter's entries absent, ipv4 entries and per-interface templates present.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/errors/index.js';
import { checkSysctlsOffered } from '../../../src/services/host-facts.js';

let sys: string;
beforeAll(async () => {
  sys = await mkdtemp(join(tmpdir(), 'fune-sysctl-'));
  for (const f of ['net/ipv4/ping_group_range', 'net/ipv4/ip_forward', 'net/ipv4/conf/default/rp_filter', 'net/ipv6/conf/default/disable_ipv6', 'net/ipv4/neigh/default/gc_stale_time', 'kernel/shmmax']) {
    await mkdir(join(sys, f, '..'), { recursive: true });
    await writeFile(join(sys, f), '0\n');
  }
  await mkdir(join(sys, 'net/core'), { recursive: true });
  // conntrack in use in the namespace (masquerade, portmap): some of its entries appear, read-only there
  await mkdir(join(sys, 'net/netfilter'), { recursive: true });
  await writeFile(join(sys, 'net/netfilter/nf_conntrack_buckets'), '65536\n', { mode: 0o444 });
});
afterAll(() => rm(sys, { recursive: true, force: true }));

describe('checkSysctlsOffered', () => {
  it.each([
    ['net.ipv4.ping_group_range'],
    ['net.ipv4.ip_forward'],
    // the pod's eth0 is not fune's: the template stands for it
    ['net.ipv4.conf.eth0.rp_filter'],
    ['net.ipv6.conf.eth0/100.disable_ipv6'],
    ['net.ipv4.neigh.eth0.gc_stale_time'],
    // IPC sysctls live in the pod's IPC namespace, which the user namespace owns: not looked up
    ['kernel.shm_rmid_forced'],
  ])('%s passes', async (name) => {
    await expect(checkSysctlsOffered({ [name]: '1' }, sys)).resolves.toBeUndefined();
  });

  it.each([['net.core.somaxconn'], ['net.netfilter.nf_conntrack_max'], ['net.ipv4.tcp_mem'], ['net.ipv4.conf.eth0.no_such_knob']])('%s is InvalidArgument naming it', async (name) => {
    const e = await checkSysctlsOffered({ 'net.ipv4.ip_forward': '1', [name]: '1' }, sys).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RuntimeError);
    expect((e as RuntimeError).kind).toBe('InvalidArgument');
    expect((e as RuntimeError).message).toBe(`sysctl ${name} cannot be set on this rootless node: the kernel does not offer it to a network namespace that a user namespace owns`);
  });

  it('an entry offered read-only (conntrack\'s, once conntrack is used there) is InvalidArgument saying so', async () => {
    const e = await checkSysctlsOffered({ 'net.netfilter.nf_conntrack_buckets': '1' }, sys).catch((x: unknown) => x);
    expect((e as RuntimeError).kind).toBe('InvalidArgument');
    expect((e as RuntimeError).message).toBe('sysctl net.netfilter.nf_conntrack_buckets cannot be set on this rootless node: the kernel offers it read-only to a network namespace that a user namespace owns');
  });
});
