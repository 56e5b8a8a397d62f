// A minimal promise-based CRI v1 client for the benchmark: loads proto/runtime/v1/api.proto with
// @grpc/proto-loader and calls a runtime's unix socket directly, timing only the RPC itself.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const PROTO = join(ROOT, 'proto', 'runtime', 'v1', 'api.proto');

/** RpcError is a failed CRI call with its gRPC status code name. */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly codeName: string,
    details: string,
  ) {
    super(`${method}: ${codeName}: ${details}`);
  }
}

/** BenchClient holds one channel per CRI service of one socket. */
export interface BenchClient {
  /** call invokes a RuntimeService (or ImageService with `image: true`) method; resolves with the response. */
  call<T = unknown>(method: string, req: object, opts?: { image?: boolean; deadlineMs?: number }): Promise<T>;
  /** timed is `call` that also returns the wall time of the RPC in milliseconds. */
  timed<T = unknown>(method: string, req: object, opts?: { deadlineMs?: number }): Promise<{ res: T; ms: number }>;
  close(): void;
}

/** connect makes a client for the CRI v1 services behind a unix socket path. */
export function connect(socket: string): BenchClient {
  const def = loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const v1 = ((grpc.loadPackageDefinition(def).runtime as grpc.GrpcObject).v1 as grpc.GrpcObject);
  const addr = `unix://${socket}`;
  const rt = new (v1.RuntimeService as grpc.ServiceClientConstructor)(addr, grpc.credentials.createInsecure());
  const img = new (v1.ImageService as grpc.ServiceClientConstructor)(addr, grpc.credentials.createInsecure());

  function call<T>(method: string, req: object, opts: { image?: boolean; deadlineMs?: number } = {}): Promise<T> {
    const client = opts.image ? img : rt;
    const fn = (client as unknown as Record<string, unknown>)[method];
    if (typeof fn !== 'function') return Promise.reject(new Error(`no such CRI method ${method}`));
    const unary = fn as (req: object, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => void;
    const deadline = new Date(Date.now() + (opts.deadlineMs ?? 120_000));
    return new Promise<T>((resolve, reject) => {
      unary.call(client, req, { deadline }, (err: grpc.ServiceError | null, res: T) => {
        if (err) reject(new RpcError(method, err.code, grpc.status[err.code] ?? String(err.code), err.details));
        else resolve(res);
      });
    });
  }

  return {
    call,
    async timed<T>(method: string, req: object, opts: { deadlineMs?: number } = {}) {
      const t0 = process.hrtime.bigint();
      const res = await call<T>(method, req, opts);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      return { res, ms };
    },
    close() {
      rt.close();
      img.close();
    },
  };
}
