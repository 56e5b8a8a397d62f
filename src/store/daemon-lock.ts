import { open, readFile, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isErrno } from '../errors/index.js';

/**
 * acquireDaemonLock makes sure only one fune daemon uses a state directory. The lock is a file holding the owner's
 * pid, created exclusively; a file left by a process that no longer lives is taken over. It returns the release
 * function, or throws an Error that names the pid of the daemon that holds the lock.
 */
export async function acquireDaemonLock(path: string, pid = process.pid): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${pid}\n`);
      await fh.sync();
      await fh.close();
      return async () => {
        const owner = await readOwner(path);
        if (owner === pid) await rm(path, { force: true });
      };
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      const owner = await readOwner(path);
      if (owner !== undefined && owner !== pid && alive(owner)) {
        throw new Error(`another fune daemon (pid ${owner}) is already using this state directory (lock file ${path})`, { cause: e });
      }
      await rm(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new Error(`could not take the lock file ${path}`);
}

async function readOwner(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, 'EPERM');
  }
}
