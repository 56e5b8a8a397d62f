import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

/** TransportRequest is one HTTP request to a registry or token server. */
export interface TransportRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** tls tuning from hosts.toml. */
  skipVerify?: boolean;
  ca?: Buffer[];
}

/** TransportResponse is a response whose body has not been read yet. */
export interface TransportResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Transport is the seam through which the registry client speaks HTTP(S); tests may replace it. */
export interface Transport {
  request(req: TransportRequest): Promise<TransportResponse>;
}

/**
 * NodeTransport speaks HTTP/1.1 with keep-alive agents (one per TLS setting). It does not follow redirects:
 * the registry client does, so that credentials are never sent to another host.
 */
export class NodeTransport implements Transport {
  private readonly agents = new Map<string, http.Agent>();

  private agent(secure: boolean, req: TransportRequest): http.Agent {
    const key = `${secure}|${req.skipVerify ?? false}|${(req.ca ?? []).map((b) => b.length).join(',')}`;
    let a = this.agents.get(key);
    if (!a) {
      a = secure
        ? new https.Agent({
            keepAlive: true,
            maxSockets: 16,
            rejectUnauthorized: !req.skipVerify,
            ca: req.ca?.length ? [...rootCertificates, ...req.ca.map((b) => b.toString())] : undefined,
          })
        : new http.Agent({ keepAlive: true, maxSockets: 16 });
      this.agents.set(key, a);
    }
    return a;
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    const u = new URL(req.url);
    const secure = u.protocol === 'https:';
    const mod = secure ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(
        u,
        { method: req.method, headers: req.headers, agent: this.agent(secure, req), signal: req.signal },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      r.on('error', reject);
      r.end(req.body);
    });
  }

  /** close drops idle keep-alive connections. */
  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
