/**
 * RuntimeError is the one error type fune's layers throw on purpose. Its `kind` decides the gRPC status code
 * (the table lives in `src/cri/grpc-status.ts`); its message is what the kubelet or crictl user reads, so it says
 * what was wrong and with which value. Anything that is not a RuntimeError reaches the client as INTERNAL.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'DeadlineExceeded'
  | 'Unavailable'
  | 'Unimplemented'
  | 'ResourceExhausted'
  | 'Cancelled'
  | 'Internal';

/** RuntimeError carries a kind, a message for the client and an optional cause for the logs. */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const make =
  (kind: ErrorKind) =>
  (message: string, options?: ErrorOptions): RuntimeError =>
    new RuntimeError(kind, message, options);

/** notFound builds a NotFound RuntimeError. */
export const notFound = make('NotFound');
/** alreadyExists builds an AlreadyExists RuntimeError. */
export const alreadyExists = make('AlreadyExists');
/** invalidArgument builds an InvalidArgument RuntimeError. */
export const invalidArgument = make('InvalidArgument');
/** failedPrecondition builds a FailedPrecondition RuntimeError. */
export const failedPrecondition = make('FailedPrecondition');
/** deadlineExceeded builds a DeadlineExceeded RuntimeError. */
export const deadlineExceeded = make('DeadlineExceeded');
/** unavailable builds an Unavailable RuntimeError. */
export const unavailable = make('Unavailable');
/** unimplemented builds an Unimplemented RuntimeError. */
export const unimplemented = make('Unimplemented');
/** resourceExhausted builds a ResourceExhausted RuntimeError. */
export const resourceExhausted = make('ResourceExhausted');
/** cancelled builds a Cancelled RuntimeError. */
export const cancelled = make('Cancelled');
/** internal builds an Internal RuntimeError. */
export const internal = make('Internal');

/** isKind tells whether `err` is a RuntimeError of the given kind. */
export function isKind(err: unknown, kind: ErrorKind): err is RuntimeError {
  return err instanceof RuntimeError && err.kind === kind;
}

/** errorMessage gives a printable message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** isErrno tells whether `err` is a Node system error with the given code (ENOENT, EEXIST, …). */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
