import { invalidArgument, notFound } from '../errors/index.js';

/**
 * resolveId finds the one id among `ids` that equals `idOrPrefix` or starts with it (crictl and the kubelet may
 * pass a unique prefix). Empty input is InvalidArgument; no match is NotFound; several matches are InvalidArgument.
 */
export function resolveId(ids: Iterable<string>, idOrPrefix: string, what: string): string {
  if (!idOrPrefix) throw invalidArgument(`${what} id is required`);
  const matches: string[] = [];
  for (const id of ids) {
    if (id === idOrPrefix) return id;
    if (id.startsWith(idOrPrefix)) matches.push(id);
  }
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw notFound(`${what} ${JSON.stringify(idOrPrefix)} not found`);
  throw invalidArgument(`${what} id prefix ${JSON.stringify(idOrPrefix)} is ambiguous (${matches.length} matches)`);
}

/** matchesPrefix tells whether `id` is selected by an optional id or prefix filter. */
export function matchesPrefix(id: string, filter: string | undefined): boolean {
  return !filter || id.startsWith(filter);
}

/** matchesLabels tells whether `labels` hold every pair of `selector`. */
export function matchesLabels(labels: Record<string, string> | undefined, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if ((labels ?? {})[k] !== v) return false;
  return true;
}

/**
 * compareNs orders two timestamps of nanoseconds as decimal strings (String of a bigint: no sign, no leading
 * zeros) without parsing them: the longer is the later, and among equal lengths the digits decide.
 */
export function compareNs(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
