// Global set-up of the vitest project `vm`: one fune daemon per cgroup driver of DAEMON_DRIVERS (DRIVERS and the
// kubelet suite's), started once for the whole run, all at once, and shared by the test files (under TCG a daemon takes about a minute to start: node, the CRI protos, the
// AppArmor profile). Each daemon has its own root, state, socket and a loopback-only CNI network, as
// test/integration's startEnv gives. Tests remove the pods they make (test/vm/env.ts); the teardown stops the
// daemons and sweeps whatever is left (runc containers, conmon, mounts, cgroups), even after a failure.
// Lean on purpose: this runs in vitest's main process, so it loads no gRPC code.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { sweep } from '../helpers/sweep.js';
import { DAEMON_DRIVERS } from './guest.js';

/** VmDaemon is what a test file gets of a shared daemon. */
export interface VmDaemon {
  driver: string;
  dir: string;
  root: string;
  state: string;
  socket: string;
  logDir: string;
  pid: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    vmDaemons: VmDaemon[];
  }
}

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'src', 'main.js');

async function start(driver: string): Promise<{ d: VmDaemon; proc: ChildProcess }> {
  const dir = await mkdtemp(`/tmp/fune-vm-${driver}-`);
  const d: VmDaemon = { driver, dir, root: join(dir, 'root'), state: join(dir, 'state'), socket: join(dir, 'state', 'fune.sock'), logDir: join(dir, 'logs'), pid: 0 };
  await mkdir(join(dir, 'cni'), { recursive: true });
  await mkdir(d.logDir, { recursive: true });
  await writeFile(join(dir, 'cni', '10-lo.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'lo-only', plugins: [{ type: 'loopback' }] }));
  await writeFile(join(dir, 'config.toml'), `[cni]\nconf_dir = "${join(dir, 'cni')}"\n[runtime]\ncgroup_driver = "${driver}"\n`);
  const log = join(dir, 'daemon.log');
  const proc = spawn(process.execPath, [MAIN, 'daemon', '--config', join(dir, 'config.toml'), '--root', d.root, '--state', d.state, '--log-level', 'debug'], {
    stdio: ['ignore', 'ignore', openSync(log, 'a')],
  });
  d.pid = proc.pid ?? 0;
  const until = Date.now() + Number(process.env.FUNE_TEST_READY_TIMEOUT_MS ?? 180_000);
  for (;;) {
    const text = await readFile(log, 'utf8').catch(() => '');
    if (text.includes('fune is ready')) break;
    if (proc.exitCode !== null || Date.now() > until) throw new Error(`the ${driver} daemon did not become ready:\n${text.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { d, proc };
}

/** setup starts the daemons and hands their paths to the test files (inject('vmDaemons')). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.FUNE_VM_GUEST !== '1') throw new Error('test/vm/ runs inside the VM tier\'s guest: use `npm run test:vm`');
  const running: { d: VmDaemon; proc: ChildProcess }[] = [];
  const teardown = async () => {
    for (const { d, proc } of running) {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
        clearTimeout(timer);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
      // Keep the daemon's log beside the report when a test failed (the guest's disk goes at power-off).
      await mkdir('.tmp/vm-logs', { recursive: true }).then(() => readFile(join(d.dir, 'daemon.log'))).then((b) => writeFile(`.tmp/vm-logs/daemon-${d.driver}.log`, b)).catch(() => undefined);
      await sweep(d.state, d.dir);
      await rm(d.dir, { recursive: true, force: true });
    }
  };
  // Started side by side (each start is mostly node loading its modules, one vCPU each); a failed start fails the
  // run only once the others are up, so that the teardown stops them all.
  const started = await Promise.allSettled(DAEMON_DRIVERS.map((driver) => start(driver)));
  for (const r of started) if (r.status === 'fulfilled') running.push(r.value);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await teardown();
    throw failed.reason;
  }
  project.provide('vmDaemons', running.map((r) => r.d));
  return teardown;
}
