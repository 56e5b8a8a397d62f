import { request } from 'node:http';

/**
 * A client of RootlessKit's REST API (`<rootlesskit --state-dir>/api.sock`, HTTP over a unix socket; its
 * pkg/api/openapi.yaml): `GET /v1/info`, `GET /v1/ports`, `POST /v1/ports` with a port spec (201 and the status
 * with its id), `DELETE /v1/ports/<id>`. A non-2xx answer carries `{"message": ...}`. With the builtin port driver
 * (rootlesskit --port-driver=builtin) a port added here is a listener of rootlesskit's in the parent's (the real
 * host's) network namespace whose connections are dialled, inside the child's namespace, to childIP:childPort
 * (childIP defaults to 127.0.0.1).
 */

/** RootlesskitPortSpec is one exposed port, as the API spells it. */
export interface RootlesskitPortSpec {
  /** tcp, tcp4, tcp6, udp, udp4, udp6 (sctp*) */
  proto: string;
  /** parentIP is where rootlesskit listens on the host; '' = every address. */
  parentIP?: string;
  parentPort: number;
  /** childIP is what it dials in the child's namespace; absent = the driver's default (127.0.0.1 for builtin). */
  childIP?: string;
  childPort: number;
}

/** RootlesskitPortStatus is an exposed port with its id. */
export interface RootlesskitPortStatus {
  id: number;
  spec: RootlesskitPortSpec;
}

/** RootlesskitInfo is the part of `GET /v1/info` fune reads. */
export interface RootlesskitInfo {
  apiVersion: string;
  version: string;
  stateDir: string;
  childPID: number;
  networkDriver?: { driver: string; dns?: string[]; childIP?: string };
  portDriver?: { driver: string; protos?: string[]; disallowLoopbackChildIP?: boolean };
}

/** RootlesskitPorts is what fune needs of the API (a fake in unit tests). */
export interface RootlesskitPorts {
  info(): Promise<RootlesskitInfo>;
  listPorts(): Promise<RootlesskitPortStatus[]>;
  addPort(spec: RootlesskitPortSpec): Promise<RootlesskitPortStatus>;
  removePort(id: number): Promise<void>;
}

/** RootlesskitApiError is a refusal of the API (its status and message) or a failure to reach it. */
export class RootlesskitApiError extends Error {
  override readonly name = 'RootlesskitApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** RootlesskitApiClient speaks to the API socket at `socketPath`; each call is bounded by `timeoutMs`. */
export class RootlesskitApiClient implements RootlesskitPorts {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 10_000,
  ) {}

  info(): Promise<RootlesskitInfo> {
    return this.call('GET', '/v1/info') as Promise<RootlesskitInfo>;
  }

  async listPorts(): Promise<RootlesskitPortStatus[]> {
    return ((await this.call('GET', '/v1/ports')) as RootlesskitPortStatus[] | null) ?? [];
  }

  addPort(spec: RootlesskitPortSpec): Promise<RootlesskitPortStatus> {
    return this.call('POST', '/v1/ports', spec) as Promise<RootlesskitPortStatus>;
  }

  async removePort(id: number): Promise<void> {
    if (!Number.isInteger(id) || id < 0) throw new RootlesskitApiError(`invalid RootlessKit port id ${id}`);
    await this.call('DELETE', `/v1/ports/${id}`);
  }

  private call(method: string, path: string, body?: unknown): Promise<unknown> {
    const what = `RootlessKit API ${method} ${path} (${this.socketPath})`;
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          socketPath: this.socketPath, method, path, host: 'rootlesskit', timeout: this.timeoutMs,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new RootlesskitApiError(`${what}: ${e.message}`)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              let msg = text.trim();
              try {
                const j = JSON.parse(text) as { message?: unknown };
                if (typeof j.message === 'string') msg = j.message;
              } catch {
                // not JSON: the text as it is
              }
              return reject(new RootlesskitApiError(`${what}: ${status}: ${msg}`, status));
            }
            if (text.trim() === '') return resolve(undefined);
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new RootlesskitApiError(`${what}: the answer is not JSON: ${text.slice(0, 200)}`, status));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(new RootlesskitApiError(`${what}: ${e.message}`)));
      req.end(payload);
    });
  }
}
