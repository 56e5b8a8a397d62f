import { invalidArgument } from '../../errors/index.js';
import type { Seccomp, SeccompSyscall } from '../spec.js';
import { runtimeDefaultProfile } from '../seccomp-default.js';
import type { Profile } from './profiles.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function syscallRule(raw: unknown, where: string): SeccompSyscall {
  if (!isObject(raw)) throw invalidArgument(`${where}: a syscall rule is not an object`);
  const names = raw.names ?? (typeof raw.name === 'string' ? [raw.name] : undefined);
  if (!isStringArray(names) || names.length === 0) throw invalidArgument(`${where}: a syscall rule has no names`);
  if (typeof raw.action !== 'string' || !raw.action.startsWith('SCMP_ACT_')) {
    throw invalidArgument(`${where}: syscall rule for ${names.join(',')} has an invalid action`);
  }
  const rule: SeccompSyscall = { names, action: raw.action };
  if (raw.errnoRet !== undefined) {
    if (typeof raw.errnoRet !== 'number' || !Number.isInteger(raw.errnoRet)) throw invalidArgument(`${where}: errnoRet must be an integer`);
    rule.errnoRet = raw.errnoRet;
  }
  if (raw.args !== undefined && raw.args !== null) {
    if (!Array.isArray(raw.args)) throw invalidArgument(`${where}: args of ${names.join(',')} is not a list`);
    rule.args = raw.args.map((a) => {
      if (!isObject(a) || typeof a.index !== 'number' || typeof a.value !== 'number' || typeof a.op !== 'string') {
        throw invalidArgument(`${where}: an argument rule of ${names.join(',')} needs index, value and op`);
      }
      const arg: NonNullable<SeccompSyscall['args']>[number] = { index: a.index, value: a.value, op: a.op };
      if (typeof a.valueTwo === 'number') arg.valueTwo = a.valueTwo;
      return arg;
    });
  }
  return rule;
}

/**
 * parseSeccompProfile reads a Localhost profile file: OCI `linux.seccomp` JSON (as containerd reads it; a
 * Docker-style `name` instead of `names` is accepted). Anything malformed is InvalidArgument naming the file.
 */
export function parseSeccompProfile(text: string, path: string): Seccomp {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`seccomp profile ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const where = `seccomp profile ${path}`;
  if (!isObject(raw)) throw invalidArgument(`${where} is not a JSON object`);
  if (typeof raw.defaultAction !== 'string' || !raw.defaultAction.startsWith('SCMP_ACT_')) {
    throw invalidArgument(`${where} has no valid defaultAction`);
  }
  const out: Seccomp = { defaultAction: raw.defaultAction };
  if (typeof raw.defaultErrnoRet === 'number') out.defaultErrnoRet = raw.defaultErrnoRet;
  if (raw.architectures !== undefined && raw.architectures !== null) {
    if (!isStringArray(raw.architectures)) throw invalidArgument(`${where}: architectures must be a list of names`);
    out.architectures = raw.architectures;
  }
  if (raw.flags !== undefined && raw.flags !== null) {
    if (!isStringArray(raw.flags)) throw invalidArgument(`${where}: flags must be a list of names`);
    out.flags = raw.flags;
  }
  if (raw.syscalls !== undefined && raw.syscalls !== null) {
    if (!Array.isArray(raw.syscalls)) throw invalidArgument(`${where}: syscalls must be a list`);
    out.syscalls = raw.syscalls.map((s) => syscallRule(s, where));
  }
  return out;
}

/**
 * seccompFor gives the `linux.seccomp` for a resolved request (undefined = no filter). Privileged processes get
 * none whatever was asked. RuntimeDefault is generated for the bounding set, so capabilities must be decided
 * first. A Localhost profile missing from `profiles` (the files services/ read) is InvalidArgument.
 */
export function seccompFor(
  profile: Profile,
  privileged: boolean,
  bounding: readonly string[],
  arch: string,
  profiles: Record<string, string>,
): Seccomp | undefined {
  if (privileged) return undefined;
  switch (profile.kind) {
    case 'Unconfined':
      return undefined;
    case 'RuntimeDefault':
      return runtimeDefaultProfile(bounding, arch);
    case 'Localhost': {
      const text = profiles[profile.ref];
      if (text === undefined) throw invalidArgument(`seccomp profile ${profile.ref} not found`);
      return parseSeccompProfile(text, profile.ref);
    }
  }
}
