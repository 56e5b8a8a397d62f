import { request } from 'node:http';
import { isAbsolute, join } from 'node:path';

/**
 * A client of RootlessKit's REST API: HTTP on the unix socket `<rootlesskit --state-dir>/api.sock`, which RootlessKit
 * names to its child in ROOTLESSKIT_STATE_DIR (as nerdctl and containerd's rootless set-up reach it). fune uses the
 * port manager: `GET /v1/ports`, `POST /v1/ports` with a spec (the status with its id back), `DELETE
 * /v1/ports/<id>`. With `--port-driver=builtin`, a port added there is a listener of RootlessKit's parent in the
 * host's network namespace (as the user) whose connections RootlessKit's child dials, inside the namespace, to
 * childIP:childPort (childIP 127.0.0.1 when not given). A refusal is a non-2xx status with `{"message": ...}`.
 */

/** RootlesskitPortSpec is one exposed port as the API spells it. */
export interface RootlesskitPortSpec {
  /** tcp, udp, sctp (or tcp4, tcp6, ...). */
  proto: string;
  /** parentIP is where RootlessKit listens on the host ("0.0.0.0" or "" for every address). */
  parentIP: string;
  parentPort: number;
  /** childIP is what is dialled in the namespace; absent: 127.0.0.1. */
  childIP?: string;
  childPort: number;
}

/** RootlesskitPortStatus is an exposed port and its id. */
export interface RootlesskitPortStatus {
  id: number;
  spec: RootlesskitPortSpec;
}

/** RootlesskitPorts is what fune asks of RootlessKit's port manager (a fake in unit tests). */
export interface RootlesskitPorts {
  listPorts(): Promise<RootlesskitPortStatus[]>;
  addPort(spec: RootlesskitPortSpec): Promise<RootlesskitPortStatus>;
  removePort(id: number): Promise<void>;
}

/** RootlesskitApiError is a refusal of the API (its HTTP status and message) or a failure to reach it (status 0). */
export class RootlesskitApiError extends Error {
  override readonly name = 'RootlesskitApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** rootlesskitApiSocket gives the API socket of the RootlessKit this process runs under (its child), or undefined. */
export function rootlesskitApiSocket(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.ROOTLESSKIT_STATE_DIR;
  return dir && isAbsolute(dir) ? join(dir, 'api.sock') : undefined;
}

/** RootlesskitApiClient speaks to the API socket at `socketPath` (one connection per call). */
export class RootlesskitApiClient implements RootlesskitPorts {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 30_000,
  ) {}

  async listPorts(): Promise<RootlesskitPortStatus[]> {
    return ((await this.call('GET', '/v1/ports')) as RootlesskitPortStatus[] | null) ?? [];
  }

  async addPort(spec: RootlesskitPortSpec): Promise<RootlesskitPortStatus> {
    return (await this.call('POST', '/v1/ports', spec)) as RootlesskitPortStatus;
  }

  async removePort(id: number): Promise<void> {
    await this.call('DELETE', `/v1/ports/${id}`);
  }

  private call(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath, method, path, host: 'rootlesskit', agent: false, timeout: this.timeoutMs,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new RootlesskitApiError(`RootlessKit API ${method} ${path}: ${e.message}`, 0)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(json);
            const msg = (json as { message?: unknown } | undefined)?.message;
            reject(new RootlesskitApiError(`RootlessKit refused ${method} ${path} (HTTP ${status}): ${typeof msg === 'string' ? msg : text.trim()}`, status));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(new RootlesskitApiError(`RootlessKit API ${method} ${path} on ${this.socketPath}: ${e.message}`, 0)));
      req.end(payload);
    });
  }
}
