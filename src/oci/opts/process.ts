import { invalidArgument } from '../../errors/index.js';
import type { ContainerConfig } from '../../domain/cri-types.js';
import type { ImageConfig } from '../input.js';
import { envValue } from '../values.js';

/** DEFAULT_PATH is the PATH a process gets when neither the image nor the CRI config sets one. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * containerArgs applies the Kubernetes rules for command and args over the image's entrypoint and cmd: a CRI
 * command replaces the entrypoint and drops the image cmd; CRI args replace the image cmd. An empty result is
 * InvalidArgument.
 */
export function containerArgs(config: Pick<ContainerConfig, 'command' | 'args'>, image: ImageConfig): string[] {
  const command = config.command ?? [];
  const args = config.args ?? [];
  let argv: string[];
  if (command.length > 0) argv = [...command, ...args];
  else argv = [...(image.entrypoint ?? []), ...(args.length > 0 ? args : (image.cmd ?? []))];
  if (argv.length === 0) throw invalidArgument('no command specified: the container config has no command or args, and the image no entrypoint or cmd');
  return argv;
}

/** envKey is the name part of a `NAME=value` entry. */
const envKey = (entry: string): string => {
  const eq = entry.indexOf('=');
  return eq === -1 ? entry : entry.slice(0, eq);
};

/**
 * mergeEnv layers environments: later layers replace earlier values of the same name in place and add new
 * names at the end. Layers are HOSTNAME, then the image's env, then the CRI envs; PATH is defaulted and HOME
 * set from the user's passwd entry when no layer sets them.
 */
export function mergeEnv(layers: readonly (readonly string[])[], home: string): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  for (const layer of layers) {
    for (const entry of layer) {
      const key = envKey(entry);
      if (key === '') continue;
      if (!values.has(key)) order.push(key);
      values.set(key, entry);
    }
  }
  if (!values.has('PATH')) {
    order.unshift('PATH');
    values.set('PATH', `PATH=${DEFAULT_PATH}`);
  }
  if (!values.has('HOME')) {
    order.push('HOME');
    values.set('HOME', `HOME=${home}`);
  }
  return order.map((k) => values.get(k)!);
}

/** criEnv renders the CRI envs as `NAME=value` strings; an empty name is InvalidArgument. */
export function criEnv(config: Pick<ContainerConfig, 'envs'>): string[] {
  return (config.envs ?? []).map((kv) => {
    if (!kv.key) throw invalidArgument('envs: an environment variable has an empty name');
    return `${kv.key}=${envValue(kv.value)}`;
  });
}

/** workingDir is the CRI working_dir (which must be absolute), else the image's WorkingDir (taken from "/"), else "/". */
export function workingDir(config: Pick<ContainerConfig, 'working_dir'>, image: ImageConfig): string {
  const fromImage = image.workingDir ? (image.workingDir.startsWith('/') ? image.workingDir : `/${image.workingDir}`) : '/';
  const cwd = config.working_dir || fromImage;
  if (!cwd.startsWith('/')) throw invalidArgument(`working_dir ${JSON.stringify(cwd)} is not an absolute path`);
  return cwd;
}
