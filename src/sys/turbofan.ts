import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The node options that say Turbofan must stay off: withoutTurbofan then only runs its function. */
const OFF = /^--(no-opt|no-turbofan|jitless)$/;

let keep = process.execArgv.some((a) => OFF.test(a));

/**
 * turbofanGivenOff tells withoutTurbofan of node options given in NODE_OPTIONS (main.ts reads the environment):
 * with `--no-opt`, `--no-turbofan` or `--jitless` there, Turbofan is never turned on.
 */
export function turbofanGivenOff(nodeOptions: string): void {
  keep ||= nodeOptions.split(/\s+/).some((a) => OFF.test(a));
}

let depth = 0;

function on(): void {
  if (--depth !== 0) return;
  setFlagsFromString('--turbofan');
  collectSoon();
}

/** COLLECT_AFTER_MS is how long after the last one-shot work its garbage is collected (one collection for a burst). */
const COLLECT_AFTER_MS = 1000;
let collectTimer: NodeJS.Timeout | undefined;
let gc: (() => void) | undefined;

/**
 * collectSoon collects the garbage one-shot work left (module sources, JSON descriptors, protobufjs's generated
 * source text) once no more of it has run for COLLECT_AFTER_MS: an idle daemon allocates nothing, so V8 would
 * otherwise keep those heap pages (about 1.4 MiB of RSS after the first call). V8's gc function is reached as the
 * --expose-gc flag gives it to a new context, and the flag is turned off again at once.
 *
 * That one collection also compacts: a full collection leaves live objects where they are unless V8 judges a page
 * worth evacuating, and after start-up the old space is about a quarter free space scattered over pages that stay
 * committed (11.2 MiB committed for 8.3 MiB live, measured on the idle daemon). With
 * --compact-on-every-full-gc set for this collection only, the live objects are moved together and the emptied pages
 * are given back: about 2.2 MiB less RSS at idle, for one compaction of a small heap (milliseconds) after each burst
 * of one-shot work. The daemon's collections under load stay V8's own.
 */
function collectSoon(): void {
  if (collectTimer) clearTimeout(collectTimer);
  collectTimer = setTimeout(() => {
    collectTimer = undefined;
    if (!gc) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
      setFlagsFromString('--no-expose-gc');
    }
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  }, COLLECT_AFTER_MS);
  collectTimer.unref();
}

/**
 * withoutTurbofan runs one-shot bulk work (loading fune's module graph, the daemon's start-up up to ready, building
 * the CRI codecs on the first call) with V8's Turbofan off, and turns it on again when `fn` has finished (its
 * promise settled; nested calls: when the last has).
 *
 * Loading some 250 ES modules makes Node's URL and path helpers hot enough for Turbofan, as loading protobufjs's
 * modules and reflection does, and Turbofan's own code, once it has run, stays in the daemon's RSS: about 3.7 MiB
 * of the node binary's pages, none of it needed for work that runs once. The invocation counts gathered with it off
 * stay: a function made nearly hot by the loading (Node's normalizeString) is optimised by the first few calls to it
 * once Turbofan is on, which is why the start-up's own path work runs inside too. The calls' hot paths are optimised as
 * before, as soon as they are hot: only work inside `fn` runs without Turbofan (Ignition and Sparkplug).
 */
export function withoutTurbofan<T>(fn: () => T): T {
  if (keep) return fn();
  if (depth++ === 0) setFlagsFromString('--no-turbofan');
  let r: T;
  try {
    r = fn();
  } catch (e) {
    on();
    throw e;
  }
  if (r instanceof Promise) return r.finally(on) as T;
  on();
  return r;
}
