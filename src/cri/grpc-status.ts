import type { ServiceError } from '@grpc/grpc-js';
import { RuntimeError, type ErrorKind } from '../errors/index.js';

/**
 * status are the gRPC status codes, the same numbers and names as grpc-js's `status` enum, in order (a test holds
 * them equal). They are fune's own so that the modules every call passes (this one, instrument.ts, h2-direct.ts)
 * do not load grpc-js: the default direct server never needs it, and grpc-js costs the idle daemon about 3 MiB.
 */
export const status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** status is also the type of a code (a number: grpc-js's own enum takes it). */
export type status = number;

/** STATUS_NAMES are the codes' names as grpc-js's enum gives them (`status[code]` there), for fune's logs. */
const STATUS_NAMES: readonly string[] = Object.keys(status);

/** statusName gives a code's name (`INTERNAL`), or the number as text for a code outside the table. */
export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

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
