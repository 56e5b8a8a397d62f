// AppArmor in the guest (the kernel has it on): fune's RuntimeDefault profile is loaded at start and confines a
// container (the kernel's /proc/<pid>/attr/current, and a mount it denies even with CAP_SYS_ADMIN), a Localhost profile
// loaded by name confines as written, and an unloaded one is refused with nothing made. AppArmor does not depend on
// the cgroup driver: one driver's daemon is enough.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { footprint, type LifecycleEnv } from '../integration/lifecycle/env.js';
import { vmEnv, type VmEnv } from './env.js';
import { containerPid, DRIVERS } from './guest.js';

const TEST_PROFILE = 'fune-vm-test-deny-tmp';
const profiles = async () => readFile('/sys/kernel/security/apparmor/profiles', 'utf8');
const text = (b: Buffer) => Buffer.from(b).toString();

describe('AppArmor', () => {
  let env: VmEnv;
  let dir: string;
  beforeAll(async () => {
    env = await vmEnv(DRIVERS[0]!, 'apparmor');
    dir = await mkdtemp(join(tmpdir(), 'fune-vm-aa-'));
    // A Localhost profile as an operator would load it: apparmor_parser from PATH, writes under /tmp denied.
    await writeFile(join(dir, 'p'), `profile ${TEST_PROFILE} flags=(attach_disconnected) {\n  file,\n  capability,\n  network,\n  deny /tmp/** w,\n}\n`);
    execFileSync('apparmor_parser', ['-Kr', join(dir, 'p')]);
  });
  afterAll(async () => {
    await env?.cleanup();
    try {
      execFileSync('apparmor_parser', ['-R', join(dir, 'p')]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const exec = (id: string, script: string) => env.c.call('ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 60 });

  it('RuntimeDefault is fune-default, loaded at start, and denies a mount that CAP_SYS_ADMIN alone would allow', async () => {
    expect(await profiles()).toMatch(/^fune-default \(enforce\)$/m);
    const pod = await env.runPod('aa-default');
    const sysAdmin = (apparmor: object) => ({ linux: { security_context: { apparmor, capabilities: { add_capabilities: ['SYS_ADMIN'] } } } });
    const confined = await env.runContainer(pod, 'confined', 'exec sleep 100000', sysAdmin({ profile_type: 'RuntimeDefault', localhost_ref: '' }));
    const free = await env.runContainer(pod, 'free', 'exec sleep 100000', sysAdmin({ profile_type: 'Unconfined', localhost_ref: '' }));
    // The kernel's view of the container's init, and of a process started in it by exec.
    expect((await readFile(`/proc/${await containerPid(env.c, confined)}/attr/current`, 'utf8')).trim()).toBe('fune-default (enforce)');
    expect(text((await exec(confined, 'cat /proc/self/attr/current')).stdout).trim()).toBe('fune-default (enforce)');
    expect((await readFile(`/proc/${await containerPid(env.c, free)}/attr/current`, 'utf8')).trim()).toBe('unconfined');
    // The same mount: refused under the profile (EACCES from AppArmor), done without it.
    const denied = await exec(confined, 'mkdir -p /m && mount -t tmpfs t /m');
    expect(denied.exit_code).not.toBe(0);
    expect(text(denied.stderr)).toMatch(/Permission denied/);
    expect((await exec(free, 'mkdir -p /m && mount -t tmpfs t /m && umount /m')).exit_code).toBe(0);
    // The pod's infra process is confined too.
    const { status } = await env.c.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true }).then((r) => ({ status: r }));
    const infraPid = (JSON.parse(status.info.info as string) as { pid: number }).pid;
    expect((await readFile(`/proc/${infraPid}/attr/current`, 'utf8')).trim()).toBe('fune-default (enforce)');
  });

  it('confines with a Localhost profile by name, in the string field and in SecurityProfile', async () => {
    const pod = await env.runPod('aa-localhost');
    for (const [name, sc] of [
      ['by-string', { apparmor_profile: `localhost/${TEST_PROFILE}` }],
      ['by-field', { apparmor: { profile_type: 'Localhost', localhost_ref: `localhost/${TEST_PROFILE}` } }],
    ] as const) {
      const id = await env.runContainer(pod, name, 'exec sleep 100000', { linux: { security_context: sc } });
      expect((await readFile(`/proc/${await containerPid(env.c, id)}/attr/current`, 'utf8')).trim()).toBe(`${TEST_PROFILE} (enforce)`);
      const w = await exec(id, 'touch /tmp/x');
      expect(w.exit_code, name).not.toBe(0);
      expect(text(w.stderr)).toMatch(/Permission denied/);
      expect((await exec(id, 'touch /x && rm /x')).exit_code, name).toBe(0);
    }
  });

  it('refuses a profile that is not loaded with INVALID_ARGUMENT naming it, nothing made', async () => {
    const pod = await env.runPod('aa-unloaded');
    const before = { containers: (await env.c.call('ListContainers', {})).containers.length, pods: (await env.c.call('ListPodSandbox', {})).items.length, files: await footprint(env as unknown as LifecycleEnv) };
    for (const sc of [
      { apparmor_profile: 'localhost/fune-vm-not-loaded' },
      { apparmor: { profile_type: 'Localhost', localhost_ref: 'localhost/fune-vm-not-loaded' } },
      // The structured field wins over the string field, as critest v1.32 "should prefer new apparmor field" asks.
      { apparmor_profile: `localhost/${TEST_PROFILE}`, apparmor: { profile_type: 'Localhost', localhost_ref: 'fune-vm-not-loaded' } },
    ]) {
      await expect(env.runContainer(pod, 'refused', 'true', { linux: { security_context: sc } }), JSON.stringify(sc)).rejects.toMatchObject({ code: 3, details: expect.stringMatching(/AppArmor profile "fune-vm-not-loaded" not found/) });
    }
    await expect(env.runPod('aa-unloaded-pod', { linux: { security_context: { apparmor: { profile_type: 'Localhost', localhost_ref: 'fune-vm-not-loaded' } } } })).rejects.toMatchObject({ code: 3, details: expect.stringMatching(/fune-vm-not-loaded/) });
    expect((await env.c.call('ListContainers', {})).containers.length).toBe(before.containers);
    expect((await env.c.call('ListPodSandbox', {})).items.length).toBe(before.pods);
    expect(await footprint(env as unknown as LifecycleEnv)).toEqual(before.files);
  });
});
