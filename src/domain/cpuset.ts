/**
 * Cpuset lists ("0-3,5") as the kubelet writes them, parsed with the kubelet's own rules (k8s.io/utils cpuset
 * `Parse`, after kubernetes/kubernetes#100565): every comma-separated part is a number or `start-end` with
 * start <= end, numbers being optionally signed ASCII decimals. So `1--3`, `10-6`, `1,,2`, `-1`, `1-`, `1-3-5`,
 * `0x1` and ` 1` are all refused. Unlike the Go code, the size of a range is bounded, so a hostile `0-99999999999`
 * cannot make us loop.
 */

/** CPUSET_MAX_ID is the largest cpu or memory-node id fune accepts in a cpuset list. */
export const CPUSET_MAX_ID = 65_535;

/** CpusetError describes why a cpuset list was refused. */
export class CpusetError extends Error {
  override readonly name = 'CpusetError';
}

const SIGNED_DECIMAL = /^[+-]?[0-9]+$/;

function parseId(text: string, list: string): number {
  if (!SIGNED_DECIMAL.test(text)) throw new CpusetError(`invalid cpuset ${JSON.stringify(list)}: ${JSON.stringify(text)} is not a number`);
  const value = BigInt(text);
  if (value < 0n) throw new CpusetError(`invalid cpuset ${JSON.stringify(list)}: negative id ${text}`);
  if (value > BigInt(CPUSET_MAX_ID)) throw new CpusetError(`invalid cpuset ${JSON.stringify(list)}: id ${text} is larger than ${CPUSET_MAX_ID}`);
  return Number(value);
}

/**
 * parseCpuset parses a cpuset list into the sorted, de-duplicated ids it names; "" is the empty set. It throws a
 * CpusetError on anything the kubelet's parser would refuse, and on ids above CPUSET_MAX_ID.
 */
export function parseCpuset(list: string): number[] {
  if (list === '') return [];
  const ids = new Set<number>();
  for (const part of list.split(',')) {
    // Go splits on the *first* "-", so "-1" is ["", "1"] and fails: mimic that exactly.
    const first = part.indexOf('-');
    if (first === -1) {
      ids.add(parseId(part, list));
      continue;
    }
    const startText = part.slice(0, first);
    const endText = part.slice(first + 1);
    const start = parseId(startText, list);
    if (!SIGNED_DECIMAL.test(endText)) {
      throw new CpusetError(`invalid cpuset ${JSON.stringify(list)}: ${JSON.stringify(endText)} is not a number`);
    }
    if (BigInt(endText) < BigInt(start)) {
      throw new CpusetError(`invalid cpuset ${JSON.stringify(list)}: invalid range ${JSON.stringify(part)} (${start} > ${endText})`);
    }
    const end = parseId(endText, list);
    for (let id = start; id <= end; id++) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}

/** formatCpuset writes sorted ids back as a canonical list with ranges: [0,1,2,3,5] → "0-3,5". */
export function formatCpuset(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}
