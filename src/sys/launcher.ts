import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { ChildProcess, SpawnOptions } from './process-runner.js';

/**
 * The launcher program: it reads one request from fd 3 (NUL-separated: the stdio of fds 0-2 as `p`ipe or
 * `i`gnore, the working directory, the number of environment entries, the entries, then argv), points ignored
 * stdio at /dev/null, and execs argv in place, so the launcher's pid becomes the program's. End of file with no
 * request (the daemon went away) ends it quietly.
 */
const SCRIPT = [
  '$/ = "\\0";',
  'open(my $r, "<&=", 3) or exit 126;',
  'my @a = <$r>; close $r; chomp @a;',
  'exit 0 unless @a >= 4;',
  'my ($io, $cwd, $n) = splice(@a, 0, 3);',
  '%ENV = map { my @kv = split(/=/, $_, 2); ($kv[0], $kv[1] // "") } splice(@a, 0, $n);',
  'open(STDIN, "<", "/dev/null") if substr($io, 0, 1) eq "i";',
  'open(STDOUT, ">", "/dev/null") if substr($io, 1, 1) eq "i";',
  'open(STDERR, ">", "/dev/null") if substr($io, 2, 1) eq "i";',
  'if (length $cwd) { chdir($cwd) or do { print STDERR "fune launcher: chdir $cwd: $!\\n"; exit 127 } }',
  'exec { $a[0] } @a;',
  'print STDERR "fune launcher: exec $a[0]: $!\\n"; exit 127;',
].join('\n');

type Slot = 'pipe' | 'ignore';
type Start = (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess;

/** stdioSlots gives the three stdio slots of `opts` when the launcher can serve them (pipes or ignored only). */
function stdioSlots(stdio: SpawnOptions['stdio']): Slot[] | undefined {
  const s = stdio === undefined ? 'pipe' : stdio;
  if (s === 'pipe' || s === 'ignore') return [s, s, s];
  if (!Array.isArray(s) || s.length > 3) return undefined;
  const slots = [0, 1, 2].map((i): unknown => (s[i] === undefined || s[i] === null ? 'pipe' : s[i]));
  return slots.every((x): x is Slot => x === 'pipe' || x === 'ignore') ? slots : undefined;
}

/**
 * Launcher keeps one small process started ahead of time that becomes the next program fune runs. Node starts a
 * child by forking the whole daemon and waiting until the child has exec'd, which holds the event loop for
 * milliseconds (more under load); handing a request to a launcher that is already running costs a pipe write,
 * and the next launcher is started a moment later, when the daemon is usually waiting on the program it just
 * ran (a burst of programs uses plain spawns after the first and refills once, when it is over). The launcher is
 * perl (perl-base is part of every Debian system); without it, every program is spawned directly.
 *
 * It serves absolute program paths whose stdio is pipes or ignored, with an explicit environment and the default
 * uid/gid; the child it gives
 * behaves as a spawned one: same pid as the program, its pipes, its exit and close events. A program that cannot
 * be exec'd ends with status 127 and says why on its stderr.
 */
export class Launcher {
  private ready?: ChildProcess;
  private timer?: NodeJS.Timeout;
  private usable: boolean;

  constructor(
    private readonly start: Start,
    private readonly perl = '/usr/bin/perl',
    private readonly refillMs = 10,
  ) {
    this.usable = existsSync(perl);
  }

  /** take gives a child running `cmd` through the launcher, or undefined when the caller must spawn it itself. */
  take(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess | undefined {
    if (!this.usable) return undefined;
    this.schedule();
    const slots = stdioSlots(opts.stdio);
    if (!slots || !cmd.startsWith('/') || opts.detached || opts.uid !== undefined || opts.gid !== undefined || opts.shell || opts.argv0 || opts.signal) return undefined;
    if (!opts.env) return undefined;
    const env = Object.entries(opts.env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const fields = [slots.map((s) => (s === 'pipe' ? 'p' : 'i')).join(''), opts.cwd ? String(opts.cwd) : '', String(env.length), ...env, cmd, ...args];
    if (fields.some((f) => f.includes('\0'))) return undefined;
    const c = this.ready;
    this.ready = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null || !c.pid) return undefined;
    setRef(c, true);
    (c.stdio[3] as Writable).end(fields.map((f) => `${f}\0`).join(''));
    const stdio = c.stdio as unknown as (Socket | null)[];
    slots.forEach((s, i) => {
      if (s === 'pipe') return;
      stdio[i]?.destroy();
      stdio[i] = null;
    });
    if (slots[0] === 'ignore') c.stdin = null;
    if (slots[1] === 'ignore') c.stdout = null;
    if (slots[2] === 'ignore') c.stderr = null;
    return c;
  }

  /** schedule starts the next launcher `refillMs` after the last program started (pushed back by each). */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refill(), this.refillMs);
    this.timer.unref();
  }

  private refill(): void {
    if (this.ready || !this.usable) return;
    let c: ChildProcess;
    try {
      c = this.start(this.perl, ['-e', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    } catch {
      this.usable = false;
      return;
    }
    c.once('error', () => {
      if (this.ready === c) this.ready = undefined;
      this.usable = false;
    });
    c.once('exit', () => {
      if (this.ready === c) this.ready = undefined;
    });
    // An idle launcher must not keep the daemon's event loop alive.
    setRef(c, false);
    this.ready = c;
  }

  /** close ends the idle launcher (it exits on end of file) and stops refilling. */
  close(): void {
    this.usable = false;
    clearTimeout(this.timer);
    const c = this.ready;
    this.ready = undefined;
    (c?.stdio[3] as Writable | undefined)?.end();
  }
}

function setRef(c: ChildProcess, on: boolean): void {
  if (on) c.ref();
  else c.unref();
  for (const s of c.stdio as unknown as (Socket | null)[]) {
    if (on) s?.ref?.();
    else s?.unref?.();
  }
}
