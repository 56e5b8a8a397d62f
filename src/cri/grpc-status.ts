import { status, type ServiceError } from '@grpc/grpc-js';
import { RuntimeError, type ErrorKind } from '../errors/index.js';

/** CODE_OF_KIND is the one table from fune's error kinds to gRPC status codes. */
export const CODE_OF_KIND: Readonly<Record<ErrorKind, status>> = {
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  InvalidArgument: status.INVALID_ARGUMENT,
  FailedPrecondition: status.FAILED_PRECONDITION,
  DeadlineExceeded: status.DEADLINE_EXCEEDED,
  Unavailable: status.UNAVAILABLE,
  Unimplemented: status.UNIMPLEMENTED,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
  Cancelled: status.CANCELLED,
  Internal: status.INTERNAL,
};

/** CODE_NAMES are the gRPC codes as Go names them (codes.Code.String()), the values containerd's metrics carry. */
const CODE_NAMES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted',
  'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

/** codeName gives the Go name of a gRPC status code (`Code(17)` for one outside the table, as Go prints it). */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `Code(${code})`;
}

/** StatusObject is what grpc-js sends for a failed call. */
export type StatusObject = Pick<ServiceError, 'code' | 'details'> & { message: string };

/**
 * toStatus turns any thrown value into a gRPC status. RuntimeErrors keep their kind; anything else is INTERNAL
 * (never UNKNOWN) with its message. `secrets` are blotted out of the text, so that a credential that reached an
 * error message (a registry echoing a URL with a token, say) never reaches the client.
 */
export function toStatus(err: unknown, secrets: readonly string[] = []): StatusObject {
  const code = err instanceof RuntimeError ? CODE_OF_KIND[err.kind] : status.INTERNAL;
  let details = err instanceof Error ? err.message : String(err);
  if (!(err instanceof RuntimeError)) details = `internal error: ${details}`;
  for (const s of secrets) if (s.length >= 3) details = details.split(s).join('[redacted]');
  return { code, details, message: details };
}
