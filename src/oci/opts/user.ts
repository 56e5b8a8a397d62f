import { invalidArgument } from '../../errors/index.js';
import type { Int64Value, SupplementalGroupsPolicy } from '../../domain/cri-types.js';
import type { GroupEntry, PasswdEntry } from '../input.js';
import type { User } from '../spec.js';
import { nonNegative, uniq } from '../values.js';

/** IdentityRequest is what decides a process's identity: the CRI security context fields and the image's User. */
export interface IdentityRequest {
  runAsUser?: Int64Value | null;
  runAsUsername?: string;
  runAsGroup?: Int64Value | null;
  supplementalGroups?: string[];
  supplementalGroupsPolicy?: SupplementalGroupsPolicy;
  /** the image config's User: "", "uid", "name", "uid:gid", "name:group" (and mixes). */
  imageUser?: string;
}

/** Identity is the resolved process user and the home directory for HOME. */
export interface Identity {
  user: User;
  home: string;
}

const isId = (text: string): boolean => /^[0-9]+$/.test(text);
const MAX_ID = 0xffffffff - 1;

function id(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) throw invalidArgument(`${what}: ${text} is not a valid id`);
  return n;
}

function userByName(passwd: readonly PasswdEntry[], name: string, what: string): PasswdEntry {
  const entry = passwd.find((p) => p.name === name);
  if (!entry) throw invalidArgument(`${what}: no user ${JSON.stringify(name)} in the image's /etc/passwd`);
  return entry;
}

function groupGid(groups: readonly GroupEntry[], spec: string, what: string): number {
  if (isId(spec)) return id(spec, what);
  const entry = groups.find((g) => g.name === spec);
  if (!entry) throw invalidArgument(`${what}: no group ${JSON.stringify(spec)} in the image's /etc/group`);
  return entry.gid;
}

/**
 * resolveIdentity decides uid, gid, additional gids and home, in the CRI's order of precedence: run_as_user,
 * then run_as_username (looked up in the image's /etc/passwd), then the image's User (`uid`, `name`,
 * `uid:gid`, `name:group`). A uid without a passwd entry gets gid 0 and home "/". run_as_group replaces the
 * primary gid and is InvalidArgument without a user. Additional gids are the primary gid, the groups in the
 * image's /etc/group that list the user (unless the policy is Strict), then the CRI's supplemental groups.
 */
export function resolveIdentity(req: IdentityRequest, passwd: readonly PasswdEntry[], groups: readonly GroupEntry[]): Identity {
  if (req.runAsGroup && !req.runAsUser && !req.runAsUsername) {
    throw invalidArgument('run_as_group is set without run_as_user or run_as_username');
  }
  let who: { uid: number; gid: number; name?: string; home: string } = { uid: 0, gid: 0, home: '/' };
  const fromEntry = (entry: PasswdEntry): void => {
    who = { uid: entry.uid, gid: entry.gid, name: entry.name, home: entry.home || '/' };
  };
  const fromUid = (value: number): void => {
    const entry = passwd.find((p) => p.uid === value);
    if (entry) fromEntry(entry);
    else who = { uid: value, gid: 0, home: '/' };
  };
  if (req.runAsUser) {
    fromUid(id(String(nonNegative(req.runAsUser.value, 'run_as_user')), 'run_as_user'));
  } else if (req.runAsUsername) {
    fromEntry(userByName(passwd, req.runAsUsername, 'run_as_username'));
  } else {
    const [userPart = '', groupPart] = (req.imageUser ?? '').split(':', 2);
    if (userPart === '') fromUid(0);
    else if (isId(userPart)) fromUid(id(userPart, 'image user'));
    else fromEntry(userByName(passwd, userPart, 'image user'));
    if (groupPart !== undefined && groupPart !== '') who.gid = groupGid(groups, groupPart, 'image user group');
  }
  if (req.runAsGroup) who.gid = id(String(nonNegative(req.runAsGroup.value, 'run_as_group')), 'run_as_group');

  const name = who.name;
  const fromImage =
    req.supplementalGroupsPolicy === 'Strict' || name === undefined ? [] : groups.filter((g) => g.members.includes(name)).map((g) => g.gid);
  const fromCri = (req.supplementalGroups ?? []).map((g) => id(String(nonNegative(g, 'supplemental_groups')), 'supplemental_groups'));
  const additionalGids = uniq([who.gid, ...fromImage, ...fromCri]);
  return { user: { uid: who.uid, gid: who.gid, additionalGids }, home: who.home };
}
