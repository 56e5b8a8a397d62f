import { closeSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';

/**
 * NetnsAddon is the native part (native/netns/netns.c): a short-lived thread that setns()es into the namespace,
 * connects, and hands back the fd. See that file for the meaning of each argument.
 */
export interface NetnsAddon {
  connect(netnsPath: string, hosts: string[], port: number, cb: (rc: number, stage: number, host: number) => void): number;
}

/** NetnsConnector opens TCP connections from inside a network namespace (port-forward into a pod). */
export interface NetnsConnector {
  /**
   * connect opens a TCP connection to hosts[0]:port (then the next host while the first was refused) from inside
   * the network namespace at `netnsPath`, and resolves with the connected socket. It rejects with an errno error
   * (code ECONNREFUSED, ENOENT for a namespace path that is not there, …); after `signal` aborts it rejects at once
   * and closes the connection when it arrives.
   */
  connect(netnsPath: string, port: number, signal?: AbortSignal, hosts?: readonly string[]): Promise<net.Socket>;
}

const ADDON_PATH = join('native', 'netns', 'build', 'Release', 'fune_netns.node');
/** LOCALHOST is what the port-forward helper dialled: IPv4 loopback, then IPv6 loopback when refused. */
const LOCALHOST = ['127.0.0.1', '::1'] as const;
const STAGES = ['open', 'setns', 'socket', 'connect', 'pthread_create'] as const;
const THREAD = 4;

/** loadNetnsAddon finds and loads the built addon above this module (src/sys or dist/src/sys); it throws why not. */
export function loadNetnsAddon(): NetnsAddon {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, ADDON_PATH);
    if (existsSync(file)) return createRequire(import.meta.url)(file) as NetnsAddon;
  }
  throw new Error(`${ADDON_PATH} was not built (hack/build-native.sh)`);
}

let errnoMap: Map<number, [string, string]> | undefined;

/** errnoError builds the error Node itself would give for this failure (`connect ECONNREFUSED 127.0.0.1:80`). */
function errnoError(rc: number, stage: number, netnsPath: string, host: string, port: number): NodeJS.ErrnoException {
  errnoMap ??= getSystemErrorMap();
  const [code, text] = errnoMap.get(rc) ?? [`E${-rc}`, 'unknown error'];
  const syscall = STAGES[stage] ?? 'connect';
  const message =
    syscall === 'connect'
      ? `connect ${code} ${host}:${port}`
      : syscall === 'open' || syscall === 'setns'
        ? `cannot enter network namespace ${netnsPath}: ${syscall} ${code} (${text})`
        : `${syscall} ${code} (${text})`;
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = rc;
  err.syscall = syscall;
  if (syscall === 'connect') Object.assign(err, { address: host, port });
  else if (syscall === 'open' || syscall === 'setns') err.path = netnsPath;
  return err;
}

/**
 * MAX_THREADS bounds the addon's dial threads alive at once. A connect to a pod port whose accept queue is full
 * blocks its thread until the namespace's SYN retries run out (over two minutes with the kernel's default
 * tcp_syn_retries), and an aborted dial's thread lives on until then too; without a bound, a client opening
 * streams in a loop would pile up threads. Dials beyond the bound wait their turn, in order, and abort at once.
 */
export const MAX_THREADS = 64;

/**
 * createNetnsConnector wraps the addon: the fd it returns becomes a net.Socket (libuv sees a connected TCP
 * socket: reads, writes, half-close, setNoDelay, remoteAddress all work as on a socket from net.connect).
 */
export function createNetnsConnector(addon: NetnsAddon, maxThreads = MAX_THREADS): NetnsConnector {
  let threads = 0;
  const waiting: (() => void)[] = [];
  let draining = false;
  // A queued dial that fails to start calls release from inside the while loop below: `draining` makes that call
  // only give back the slot, so the loop goes on instead of a recursion as deep as the queue.
  const release = () => {
    threads--;
    if (draining) return;
    draining = true;
    try {
      while (threads < maxThreads && waiting.length) waiting.shift()!();
    } finally {
      draining = false;
    }
  };
  return {
    connect(netnsPath, port, signal, hosts = LOCALHOST) {
      return new Promise<net.Socket>((resolve, reject) => {
        signal?.throwIfAborted();
        let settled = false;
        const abort = () => {
          settled = true;
          const i = waiting.indexOf(dial);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal!.reason instanceof Error ? signal!.reason : new Error('connect aborted'));
        };
        // Runs on the loop from the addon's thread: it must not throw, and it owns fd.
        const done = (fd: number, stage: number, host: number) => {
          release();
          signal?.removeEventListener('abort', abort);
          if (fd < 0) return settled || reject(errnoError(fd, stage, netnsPath, hosts[host] ?? hosts[0] ?? '', port));
          if (settled) return closeQuietly(fd);
          let sock: net.Socket;
          try {
            sock = new net.Socket({ fd, readable: true, writable: true });
          } catch (e) {
            closeQuietly(fd);
            return reject(e instanceof Error ? e : new Error(String(e)));
          }
          resolve(sock);
        };
        function dial(): void {
          threads++;
          let rc: number | Error;
          try {
            rc = addon.connect(netnsPath, [...hosts], port, done);
          } catch (e) {
            rc = e instanceof Error ? e : new Error(String(e)); // bad arguments; a queued dial must not throw into release
          }
          if (typeof rc === 'number' && rc >= 0) return;
          release();
          signal?.removeEventListener('abort', abort);
          reject(typeof rc === 'number' ? errnoError(rc, THREAD, netnsPath, hosts[0] ?? '', port) : rc);
        }
        signal?.addEventListener('abort', abort, { once: true });
        if (threads < maxThreads) dial();
        else waiting.push(dial);
      });
    },
  };
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

let inUse: { connector: NetnsConnector | null; why: string } | undefined;

/**
 * netnsConnector loads the addon (once, with the default loader) and gives the connector built on it, or null
 * with the reason it is not there (port-forward then dials through helper processes, see
 * src/streaming/netns-dialer-pool.ts). `load` stands in for the loader in tests.
 */
export function netnsConnector(load?: () => NetnsAddon): { connector: NetnsConnector | null; why: string } {
  if (inUse && !load) return inUse;
  let r: { connector: NetnsConnector | null; why: string };
  try {
    r = { connector: createNetnsConnector((load ?? loadNetnsAddon)()), why: 'setns addon' };
  } catch (e) {
    r = { connector: null, why: `helper processes: ${(e as Error).message}` };
  }
  if (!load) inUse = r;
  return r;
}
