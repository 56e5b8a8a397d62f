import { invalidArgument } from '../errors/index.js';
import type { Process, Spec } from './spec.js';

/**
 * execProcess is the process JSON for `runc exec --process` (Exec, ExecSync): the container's own process
 * (user, env, cwd, capabilities, no_new_privs, AppArmor) with the exec's command and terminal. An empty command
 * is InvalidArgument.
 */
export function execProcess(container: Spec, cmd: readonly string[], tty: boolean): Process {
  if (cmd.length === 0 || cmd[0] === '') throw invalidArgument('exec: the command is empty');
  const base = container.process;
  if (!base) throw invalidArgument('exec: the container spec has no process');
  const out: Process = { ...base, args: [...cmd], terminal: tty };
  delete out.consoleSize;
  delete out.oomScoreAdj;
  return out;
}
