import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { CODE_OF_KIND, status as funeStatus, statusName, toStatus } from '../../../src/cri/grpc-status.js';
import { RuntimeError, notFound, invalidArgument, type ErrorKind } from '../../../src/errors/index.js';

describe('error to gRPC status', () => {
  it("has grpc-js's codes, numbers and names, without loading grpc-js itself", () => {
    const theirs = Object.entries(status).filter(([, v]) => typeof v === 'number');
    expect(Object.entries(funeStatus)).toEqual(theirs);
    for (const [name, code] of theirs) expect(statusName(code as number)).toBe(name);
    expect(statusName(17)).toBe('17');
  });

  it('maps every kind to its own code', () => {
    const expected: Record<ErrorKind, status> = {
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
    expect(CODE_OF_KIND).toEqual(expected);
    for (const [kind, code] of Object.entries(expected)) {
      const st = toStatus(new RuntimeError(kind as ErrorKind, `x ${kind}`));
      expect(st.code).toBe(code);
      expect(st.details).toBe(`x ${kind}`);
    }
  });

  it('turns anything else into INTERNAL with its message, never UNKNOWN', () => {
    expect(toStatus(new TypeError('boom'))).toMatchObject({ code: status.INTERNAL, details: 'internal error: boom' });
    expect(toStatus('a string')).toMatchObject({ code: status.INTERNAL, details: 'internal error: a string' });
    expect(toStatus(Object.assign(new Error('has code'), { code: 5 })).code).toBe(status.INTERNAL);
  });

  it('blots out secrets from the message', () => {
    const st = toStatus(invalidArgument('pull of https://u:hunter22@reg/x failed'), ['hunter22']);
    expect(st.details).toBe('pull of https://u:[redacted]@reg/x failed');
    expect(toStatus(notFound('ab'), ['ab']).details).toBe('ab'); // too short to be a credential worth hiding
  });
});
