import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { failedPrecondition } from '../errors/index.js';
import { runChecked, type ProcessRunner } from '../sys/process-runner.js';
import type { Runc } from './runc.js';

/**
 * criuStatus runs `criu check` once per daemon: whether CRIU can checkpoint on this kernel and, when not, CRIU's
 * own words for why (a kernel newer than the CRIU package, a missing feature), for CheckpointContainer's
 * FAILED_PRECONDITION. A host without criu says so.
 */
export async function criuStatus(runner: ProcessRunner, criuPath = 'criu'): Promise<{ ok: true } | { ok: false; why: string }> {
  const res = await runner.run(criuPath, ['check'], { timeoutMs: 30_000 }).catch((e: Error) => ({ code: -1, stderr: Buffer.from(e.message), stdout: Buffer.alloc(0) }));
  if (res.code === 0) return { ok: true };
  const text = `${res.stderr.toString()}${res.stdout.toString()}`.trim();
  if (/ENOENT|not found/i.test(text) && res.code === -1) return { ok: false, why: `criu is not installed (${criuPath})` };
  const errors = text.split('\n').filter((l) => /error/i.test(l)).slice(0, 4).join('; ');
  return { ok: false, why: `\`criu check\` failed: ${errors || text.slice(-400) || `exit status ${String(res.code)}`}` };
}

/** CheckpointInput is what goes into a checkpoint archive besides CRIU's images. */
export interface CheckpointInput {
  id: string;
  /** config is the container's CRI config and metadata (config.dump). */
  config: unknown;
  /** spec is the OCI spec it runs with (spec.dump). */
  spec: unknown;
  /** upperDir is the writable layer, packed as rootfs-diff.tar (absent: no changes to keep). */
  upperDir?: string;
}

/**
 * writeCheckpoint checkpoints a running container with `runc checkpoint` (it keeps running) and writes the
 * archive CRI-O writes, which CRI-O, Podman and checkpointctl read: a tar with `checkpoint/` (CRIU's images),
 * `config.dump`, `spec.dump` and `rootfs-diff.tar` (the writable layer). It is written next to `location` and
 * renamed there, so that a failure leaves no archive.
 */
export async function writeCheckpoint(runc: Runc, runner: ProcessRunner, c: CheckpointInput, location: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  await mkdir(dirname(location), { recursive: true });
  const staging = await mkdtemp(join(dirname(location), '.checkpoint-'));
  try {
    const images = join(staging, 'checkpoint');
    const work = join(staging, 'work');
    await Promise.all([mkdir(images), mkdir(work)]);
    await runc.checkpoint(c.id, images, work, timeoutMs, signal);
    await writeFile(join(staging, 'config.dump'), JSON.stringify(c.config));
    await writeFile(join(staging, 'spec.dump'), JSON.stringify(c.spec));
    const members = ['checkpoint', 'config.dump', 'spec.dump'];
    if (c.upperDir) {
      await runChecked(runner, 'tar', ['--xattrs', '--numeric-owner', '-C', c.upperDir, '-cf', join(staging, 'rootfs-diff.tar'), '.'], { timeoutMs });
      members.push('rootfs-diff.tar');
    }
    const tmp = join(staging, 'archive.tar');
    await runChecked(runner, 'tar', ['--numeric-owner', '-C', staging, '-cf', tmp, ...members], { timeoutMs });
    await rename(tmp, location);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** checkpointUnavailable is the FAILED_PRECONDITION of a host where CRIU cannot work. */
export function checkpointUnavailable(why: string) {
  return failedPrecondition(`CheckpointContainer needs CRIU, which cannot checkpoint on this host: ${why}`);
}
