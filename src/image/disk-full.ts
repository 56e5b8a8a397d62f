import { RuntimeError, errorMessage } from '../errors/index.js';

const CODES = new Set(['ENOSPC', 'EDQUOT']);
/** TOOL_TEXT is how mknod, setfattr and sync end their message when the filesystem is full (strerror last). */
const TOOL_TEXT = /(No space left on device|Disk quota exceeded)\s*$/;

/**
 * isDiskFull tells whether an error, or one of its causes, is the filesystem running out of space or quota:
 * an errno ENOSPC/EDQUOT (fs calls, the file system worker), or a helper tool's failure that says so. Only the
 * end of a tool's message counts, where the tool puts strerror, so a file name in a layer cannot fake it.
 */
export function isDiskFull(e: unknown): boolean {
  let c: unknown = e;
  for (let depth = 0; c !== undefined && c !== null && depth < 8; depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && CODES.has(code)) return true;
    if (c instanceof RuntimeError && c.kind === 'Internal' && TOOL_TEXT.test(c.message)) return true;
    c = (c as { cause?: unknown }).cause;
  }
  return false;
}

/** asDiskFull turns a disk-full error into RESOURCE_EXHAUSTED naming `dir`'s filesystem; other errors pass as they are. */
export function asDiskFull(e: unknown, dir: string): unknown {
  if (!isDiskFull(e) || (e instanceof RuntimeError && e.kind === 'ResourceExhausted')) return e;
  return new RuntimeError('ResourceExhausted', `no space left on the filesystem of ${dir}: ${errorMessage(e)}`, { cause: e });
}
