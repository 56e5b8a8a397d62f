import { invalidArgument } from '../../errors/index.js';
import type { SecurityProfile } from '../../domain/cri-types.js';

/** Profile is a resolved seccomp or AppArmor request. */
export type Profile = { kind: 'RuntimeDefault' } | { kind: 'Unconfined' } | { kind: 'Localhost'; ref: string };

const LOCALHOST = 'localhost/';

/**
 * fromSecurityProfile reads the structured CRI field. A present message with the zero enum is RuntimeDefault
 * (the pitfall of protocols.md §4.2); a localhost_ref with another type, or Localhost without one, is
 * InvalidArgument. A `localhost/` prefix on the ref is tolerated.
 */
export function fromSecurityProfile(p: SecurityProfile, what: string): Profile {
  const ref = p.localhost_ref ?? '';
  const type = p.profile_type ?? 'RuntimeDefault';
  if (type !== 'Localhost') {
    if (ref !== '') throw invalidArgument(`${what}: localhost_ref ${JSON.stringify(ref)} is set but the profile type is ${type}`);
    return type === 'Unconfined' ? { kind: 'Unconfined' } : { kind: 'RuntimeDefault' };
  }
  const name = ref.startsWith(LOCALHOST) ? ref.slice(LOCALHOST.length) : ref;
  if (name === '') throw invalidArgument(`${what}: profile type Localhost needs a localhost_ref`);
  return { kind: 'Localhost', ref: name };
}

/**
 * resolveSeccomp picks the container's or sandbox's seccomp request: the `seccomp` field when present, else the
 * deprecated path string (`runtime/default`, `docker/default`, `unconfined`, `localhost/<absolute path>`; any
 * other string is InvalidArgument). Nothing at all (absent field, empty string) means Unconfined, or
 * RuntimeDefault when fune's seccomp_default is on.
 */
export function resolveSeccomp(field: SecurityProfile | null | undefined, legacy: string | undefined, seccompDefault: boolean): Profile {
  let p: Profile;
  if (field) p = fromSecurityProfile(field, 'seccomp');
  else {
    const s = legacy ?? '';
    if (s === '') p = seccompDefault ? { kind: 'RuntimeDefault' } : { kind: 'Unconfined' };
    else if (s === 'runtime/default' || s === 'docker/default') p = { kind: 'RuntimeDefault' };
    else if (s === 'unconfined') p = { kind: 'Unconfined' };
    else if (s.startsWith(LOCALHOST) && s.length > LOCALHOST.length) p = { kind: 'Localhost', ref: s.slice(LOCALHOST.length) };
    else {
      throw invalidArgument(
        `invalid seccomp profile ${JSON.stringify(s)}: expected runtime/default, docker/default, unconfined or localhost/<path>`,
      );
    }
  }
  if (p.kind === 'Localhost' && !p.ref.startsWith('/')) {
    throw invalidArgument(`seccomp profile ${JSON.stringify(p.ref)} is not an absolute path`);
  }
  return p;
}

/**
 * resolveApparmor picks the AppArmor request: the `apparmor` field when present, else the deprecated string
 * (`runtime/default`, `docker/default`, `unconfined`, `localhost/<name>`). An empty string means RuntimeDefault,
 * as in containerd (kubernetes/kubernetes#51746). Any other string is InvalidArgument.
 */
export function resolveApparmor(field: SecurityProfile | null | undefined, legacy: string | undefined): Profile {
  if (field) return fromSecurityProfile(field, 'apparmor');
  const s = legacy ?? '';
  if (s === '' || s === 'runtime/default' || s === 'docker/default') return { kind: 'RuntimeDefault' };
  if (s === 'unconfined') return { kind: 'Unconfined' };
  if (s.startsWith(LOCALHOST) && s.length > LOCALHOST.length) return { kind: 'Localhost', ref: s.slice(LOCALHOST.length) };
  throw invalidArgument(`invalid AppArmor profile ${JSON.stringify(s)}: expected runtime/default, unconfined or localhost/<name>`);
}

/**
 * localhostSeccompPath is the Localhost profile file a request names, if any, for services/ to read into
 * HostFacts.seccompProfiles before building the spec. Invalid requests give undefined (building reports them).
 */
export function localhostSeccompPath(field: SecurityProfile | null | undefined, legacy: string | undefined): string | undefined {
  try {
    const p = resolveSeccomp(field, legacy, false);
    return p.kind === 'Localhost' ? p.ref : undefined;
  } catch {
    return undefined;
  }
}
