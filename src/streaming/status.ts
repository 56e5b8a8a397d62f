/**
 * Status bodies written on the error stream/channel, shaped like the apimachinery `metav1.Status` that client-go's
 * remotecommand v4 decoder reads (`errorDecoderV4`): Success, NonZeroExitCode with an ExitCode cause (a decimal
 * 0–255, parsed with ParseUint(.., 8)), or an InternalError with code 500.
 */

/** successStatus is the v4 body of a command that exited 0 (or an attach that ended cleanly). */
export function successStatus(): string {
  return JSON.stringify({ metadata: {}, status: 'Success' });
}

/** exitCodeStatus is the v4 body of a command that exited with a non-zero code. */
export function exitCodeStatus(cmd: readonly string[], code: number): string {
  const exit = Math.max(0, Math.min(255, Math.trunc(code)));
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${exit}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
  });
}

/** internalErrorStatus is the v4 body of a failure that is not an exit code (`what` says exec or attach). */
export function internalErrorStatus(what: 'exec' | 'attach', err: string): string {
  const msg = what === 'exec' ? `error executing command in container: ${err}` : `error attaching to container: ${err}`;
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${msg}`,
    reason: 'InternalError',
    details: { causes: [{ message: msg }] },
    code: 500,
  });
}
