import type { ProcessRunner } from './process-runner.js';

/** NsHolder is a helper process that sits in new namespaces until it is released. */
export interface NsHolder {
  pid: number;
  /** release ends the helper (closing its stdin) and waits for it; the namespaces live on only where pinned. */
  release(): Promise<void>;
}

/** READY is what the holder's shell prints once the namespaces exist (and its setup command succeeded). */
const READY = 'fune-ns-ready';

/**
 * holdNamespaces starts `argv` (unshare or nsenter, whose last step execs a shell in the new namespaces), which runs
 * `setup` (a shell command line, may be ''), prints a ready line and then waits on its stdin. The namespaces of
 * the returned pid can then be read under /proc/<pid>/ns, their id maps written, and bind-mounted to pin them.
 * Node cannot unshare(2) one thread, so a short-lived process is the way to make them; one that waits on its stdin
 * dies with fune if fune dies before releasing it. Failing to get ready within `timeoutMs` kills it and throws
 * with its stderr.
 */
export async function holdNamespaces(runner: ProcessRunner, argv: readonly string[], setup: string, timeoutMs = 10_000): Promise<NsHolder> {
  const script = `${setup ? `${setup} && ` : ''}echo ${READY} && exec cat >/dev/null`;
  const child = runner.spawn(argv[0]!, [...argv.slice(1), 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString();
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  // With the posix_spawn addon the pid comes on the loop after the spawn ('spawn'), and the child's first output
  // can come before it: the ready line alone does not mean the pid is known.
  const started = new Promise<void>((resolve) => {
    if (child.pid) resolve();
    else child.once('spawn', () => resolve());
  });
  const release = async (): Promise<void> => {
    child.stdin?.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${argv[0]} did not get ready within ${timeoutMs} ms`)), timeoutMs);
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes(READY)) {
          clearTimeout(timer);
          void started.then(resolve);
        }
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${argv.join(' ')} exited (${child.exitCode ?? child.signalCode}): ${stderr.trim() || 'no output'}`));
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    throw e;
  }
  if (!child.pid) throw new Error(`${argv[0]} has no pid`);
  return { pid: child.pid, release };
}
