/**
 * IP address syntax, without the host's resolver (pure: domain/ may not import node:net). The forms accepted
 * are those inet_pton(3) accepts: dotted-quad IPv4 with decimal parts of at most three digits, IPv6 with at
 * most one `::` and an optional dotted-quad tail; an IPv6 address may carry a `%zone` (a link-local resolver).
 */

const V4_PART = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** isIPv4 tells whether `s` is a dotted-quad IPv4 address ("10.0.0.1"; not "010.0.0.1", not "1.2.3"). */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => V4_PART.test(p));
}

/** isIPv6 tells whether `s` is an IPv6 address ("fd00::1", "::ffff:10.0.0.1"), with an optional `%zone`. */
export function isIPv6(s: string): boolean {
  const pct = s.indexOf('%');
  const addr = pct === -1 ? s : s.slice(0, pct);
  if (pct !== -1 && !/^[A-Za-z0-9_.-]{1,15}$/.test(s.slice(pct + 1))) return false;
  const halves = addr.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): string[] | undefined => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return false;
  const all = [...head, ...tail];
  let count = all.length;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    if (!isIPv4(last)) return false;
    all.pop();
    count += 1; // a dotted quad fills two groups
  }
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** isIpAddress tells whether `s` is an IPv4 or IPv6 address. */
export function isIpAddress(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}
