// Container logs read the way the kubelet reads them (`kubectl logs`, the FallbackToLogsOnError termination message):
// pkg/kubelet/kuberuntime/logs/logs.go in 1.22, k8s.io/cri-client/pkg/logs/logs.go in 1.34 (the same parser).
import { readFileSync } from 'node:fs';

/** LogMessage is logs.go logMessage, with the timestamp as nanoseconds since the epoch. */
export interface LogMessage {
  nanos: bigint;
  stream: 'stdout' | 'stderr';
  log: Buffer;
}

/**
 * RFC3339_NANO_LENIENT matches Go's "2006-01-02T15:04:05.999999999Z07:00" (types.RFC3339NanoLenient): an optional
 * fraction of up to nine digits, then Z or a numeric offset.
 */
const RFC3339_NANO_LENIENT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** parseTimestamp is time.Parse(timeFormatIn, s) to nanoseconds; it throws where Go gives an error. */
export function parseTimestamp(s: string): bigint {
  const m = RFC3339_NANO_LENIENT.exec(s);
  if (!m) throw new Error(`unexpected timestamp format "2006-01-02T15:04:05.999999999Z07:00": parsing time ${JSON.stringify(s)}`);
  const [, y, mo, d, h, mi, sec, frac, zone] = m as unknown as string[];
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  const check = new Date(ms);
  if (check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) throw new Error(`timestamp ${JSON.stringify(s)} out of range`);
  let offsetMin = 0;
  if (zone !== 'Z') offsetMin = (zone!.startsWith('-') ? -1 : 1) * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  const nanos = BigInt((frac ?? '').padEnd(9, '0'));
  return BigInt(ms - offsetMin * 60_000) * 1_000_000n + nanos;
}

/**
 * parseCRILog mirrors logs.go parseCRILog: `<timestamp> <stream> <tags> <content>`; the first tag says P (partial,
 * the trailing newline trimmed) or F; the content keeps its newline otherwise. Errors are the kubelet's.
 */
export function parseCRILog(line: Buffer): LogMessage {
  let rest = line;
  let idx = rest.indexOf(0x20);
  if (idx < 0) throw new Error('timestamp is not found');
  const nanos = parseTimestamp(rest.subarray(0, idx).toString());
  rest = rest.subarray(idx + 1);
  idx = rest.indexOf(0x20);
  if (idx < 0) throw new Error('stream type is not found');
  const stream = rest.subarray(0, idx).toString();
  if (stream !== 'stdout' && stream !== 'stderr') throw new Error(`unexpected stream type ${JSON.stringify(stream)}`);
  rest = rest.subarray(idx + 1);
  idx = rest.indexOf(0x20);
  if (idx < 0) throw new Error('log tag is not found');
  const partial = rest.subarray(0, idx).toString().split(':')[0] === 'P';
  if (partial && rest.length > 0 && rest[rest.length - 1] === 0x0a) rest = rest.subarray(0, rest.length - 1);
  return { nanos, stream, log: rest.subarray(idx + 1) };
}

/** ReadResult is what ReadLogs wrote, and the lines it skipped with the kubelet's error for each. */
export interface ReadResult {
  messages: LogMessage[];
  /** text is stdout and stderr interleaved, as `kubectl logs` prints them. */
  text: string;
  skipped: { line: string; error: string }[];
}

/**
 * readLogs mirrors logs.go ReadLogs without follow: the file split at newlines (an incomplete last line is still
 * parsed), the last `tail` lines when asked, each line parsed, a line that does not parse logged and skipped.
 * (The kubelet picks the parser from the first line and would fall back to Docker's JSON format; the suite
 * requires CRI lines.)
 */
export function readLogs(path: string, opts: { tail?: number } = {}): ReadResult {
  const data = readFileSync(path);
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0a) {
      lines.push(data.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < data.length) lines.push(data.subarray(start));
  const chosen = opts.tail !== undefined ? lines.slice(Math.max(0, lines.length - opts.tail)) : lines;
  const out: ReadResult = { messages: [], text: '', skipped: [] };
  for (const l of chosen) {
    try {
      const m = parseCRILog(l);
      out.messages.push(m);
      out.text += m.log.toString();
    } catch (e) {
      out.skipped.push({ line: l.toString(), error: (e as Error).message });
    }
  }
  return out;
}

/**
 * lastLogString mirrors kuberuntime_container.go readLastStringFromContainerLogs: the last 80 lines
 * (MaxContainerTerminationMessageLogLines) and at most the last 2048 bytes (MaxContainerTerminationMessageLogLength).
 */
export function lastLogString(path: string): string {
  const text = Buffer.from(readLogs(path, { tail: 80 }).text);
  return text.subarray(Math.max(0, text.length - 2048)).toString();
}
