import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkApparmorLoaded } from '../../../src/services/host-facts.js';
import { defaultProfileText, findOnPath, loadDefaultProfile, parseLoadedProfiles } from '../../../src/sys/apparmor.js';
import type { ProcessRunner, RunOptions, RunResult } from '../../../src/sys/process-runner.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fune-apparmor-'));
  await mkdir(join(dir, 'a'));
  await mkdir(join(dir, 'b'));
  await mkdir(join(dir, 'fs'));
  await writeFile(join(dir, 'a', 'apparmor_parser'), 'not executable');
  await writeFile(join(dir, 'b', 'apparmor_parser'), '#!/bin/sh\n');
  await chmod(join(dir, 'b', 'apparmor_parser'), 0o755);
  await writeFile(join(dir, 'fs', 'profiles'), 'crio-default (enforce)\nfune-default (enforce)\nname with spaces (complain)\n/usr/bin/man (enforce)\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** fakeRunner records what it was asked to run and answers with `result`. */
function fakeRunner(result: Partial<RunResult>): ProcessRunner & { calls: { cmd: string; args: readonly string[]; opts?: RunOptions }[] } {
  const calls: { cmd: string; args: readonly string[]; opts?: RunOptions }[] = [];
  return {
    calls,
    run: async (cmd, args, opts) => {
      calls.push({ cmd, args, opts });
      return { code: 0, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false, ...result };
    },
    spawn: () => {
      throw new Error('not used');
    },
  };
}

describe('AppArmor on the node', () => {
  it('reads the kernel profile list, names with spaces and modes', () => {
    const m = parseLoadedProfiles('fune-default (enforce)\nname with spaces (complain)\n\ngarbage\n');
    expect([...m]).toEqual([['fune-default', 'enforce'], ['name with spaces', 'complain']]);
  });

  it('finds apparmor_parser on PATH, skipping files that are not executable and empty entries', () => {
    expect(findOnPath('apparmor_parser', `::${join(dir, 'a')}:${join(dir, 'b')}`)).toBe(join(dir, 'b', 'apparmor_parser'));
    expect(findOnPath('apparmor_parser', join(dir, 'a'))).toBeUndefined();
    expect(findOnPath('apparmor_parser', '')).toBeUndefined();
  });

  it('loads the default profile from stdin with the parser on PATH and checks the kernel lists it', async () => {
    const r = fakeRunner({});
    expect(await loadDefaultProfile({ runner: r, pathEnv: join(dir, 'b'), fs: join(dir, 'fs') })).toEqual({ profile: 'fune-default' });
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.cmd).toBe(join(dir, 'b', 'apparmor_parser'));
    expect(r.calls[0]!.args).toEqual(['-Kr']);
    expect(r.calls[0]!.opts?.input).toBe(defaultProfileText());
  });

  it.each([
    ['no parser on PATH', {}, 'a', 'fune-default', /not on PATH/],
    ['the parser fails', { code: 1, stderr: Buffer.from('syntax error') }, 'b', 'fune-default', /exited with 1: syntax error/],
    ['the kernel does not list it', {}, 'b', 'other-name', /does not list the profile other-name/],
  ])('gives why there is no default profile when %s', async (_what, result, sub, name, why) => {
    const r = fakeRunner(result);
    const got = await loadDefaultProfile({ runner: r, pathEnv: join(dir, sub), fs: join(dir, 'fs'), name });
    expect(got.profile).toBeUndefined();
    expect('why' in got ? got.why : '').toMatch(why);
  });

  it('the default profile names itself as peer and denies mounts and host knobs', () => {
    const t = defaultProfileText('x-default');
    expect(t).toMatch(/^profile x-default flags=\(attach_disconnected,mediate_deleted\) \{$/m);
    expect(t).toContain('signal (send,receive) peer=x-default,');
    expect(t).toContain('deny mount,');
    expect(t).toContain('deny /sys/kernel/security/** rwklx,');
    expect(t).not.toMatch(/#include/);
    // Every rule line ends in a comma (apparmor_parser refuses a rule without one).
    const body = t.slice(t.indexOf('{') + 1, t.lastIndexOf('}')).split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    for (const l of body) expect(l).toMatch(/,$/);
  });
});

describe('checkApparmorLoaded', () => {
  const on = { apparmorEnabled: true };
  it.each([
    ['a loaded profile by the string field', { apparmor_profile: 'localhost/crio-default' }],
    ['a loaded profile by SecurityProfile, with the localhost/ prefix', { apparmor: { profile_type: 'Localhost', localhost_ref: 'localhost/name with spaces' } }],
    ['a loaded profile by SecurityProfile, bare name', { apparmor: { profile_type: 'Localhost', localhost_ref: 'fune-default' } }],
    ['RuntimeDefault', { apparmor_profile: 'runtime/default' }],
    ['Unconfined', { apparmor: { profile_type: 'Unconfined', localhost_ref: '' } }],
    ['nothing at all', undefined],
    ['an unloaded profile on a privileged container', { privileged: true, apparmor_profile: 'localhost/missing' }],
  ])('accepts %s', async (_what, sc) => {
    await expect(checkApparmorLoaded(on, sc as never, join(dir, 'fs'))).resolves.toBeUndefined();
  });

  it('accepts anything on a node without AppArmor (the request is ignored with a warning later)', async () => {
    await expect(checkApparmorLoaded({ apparmorEnabled: false }, { apparmor_profile: 'localhost/missing' }, join(dir, 'fs'))).resolves.toBeUndefined();
  });

  it.each([
    ['the string field', { apparmor_profile: 'localhost/non-existent-profile' }],
    ['SecurityProfile', { apparmor: { profile_type: 'Localhost', localhost_ref: 'localhost/non-existent-profile' } }],
    ['SecurityProfile over a loaded string field', { apparmor_profile: 'localhost/fune-default', apparmor: { profile_type: 'Localhost', localhost_ref: 'non-existent-profile' } }],
  ])('refuses an unloaded profile named in %s with InvalidArgument naming it', async (_what, sc) => {
    await expect(checkApparmorLoaded(on, sc as never, join(dir, 'fs'))).rejects.toMatchObject({ kind: 'InvalidArgument', message: expect.stringMatching(/AppArmor profile "non-existent-profile" not found/) });
  });

  it('refuses every profile when the kernel lists none (no securityfs)', async () => {
    await expect(checkApparmorLoaded(on, { apparmor_profile: 'localhost/fune-default' }, join(dir, 'nowhere'))).rejects.toMatchObject({ kind: 'InvalidArgument' });
  });
});
