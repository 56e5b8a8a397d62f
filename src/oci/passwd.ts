import type { GroupEntry, PasswdEntry } from './input.js';

const isId = (text: string): boolean => /^[0-9]+$/.test(text);

/**
 * parsePasswd reads an /etc/passwd text (`name:password:uid:gid:gecos:home:shell`) into entries. Blank lines,
 * comments, NIS `+`/`-` lines and malformed lines are skipped, as libc does.
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('+') || trimmed.startsWith('-')) continue;
    const fields = trimmed.split(':');
    if (fields.length < 4) continue;
    const [name, , uid, gid] = fields;
    if (!name || !isId(uid ?? '') || !isId(gid ?? '')) continue;
    out.push({ name, uid: Number(uid), gid: Number(gid), home: fields[5] ?? '' });
  }
  return out;
}

/** parseGroup reads an /etc/group text (`name:password:gid:member,member`) into entries, skipping what parsePasswd skips. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('+') || trimmed.startsWith('-')) continue;
    const fields = trimmed.split(':');
    if (fields.length < 3) continue;
    const [name, , gid, members] = fields;
    if (!name || !isId(gid ?? '')) continue;
    out.push({ name, gid: Number(gid), members: (members ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}
