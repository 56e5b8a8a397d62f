import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/index.js';
import { PromMetrics, type PromMetricsOptions } from './prom.js';

/** MetricsServer is the `[metrics]` HTTP endpoint: `GET /metrics` in the Prometheus text format. */
export interface MetricsServer {
  metrics: PromMetrics;
  /** url is `http://host:port` once listening (the real port when 0 was asked for). */
  url: string;
  close(): Promise<void>;
}

/** MetricsServerOptions say where to listen and what the metrics read at scrape time. */
export interface MetricsServerOptions extends PromMetricsOptions {
  host: string;
  port: number;
  log: Logger;
}

/**
 * startMetricsServer makes the daemon's metrics and serves them over plain HTTP on `host:port` (loopback is the
 * usual choice: the endpoint has no authentication, like containerd's and CRI-O's). Only `GET /metrics` (and HEAD)
 * is served; other paths are 404, other methods 405.
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const metrics = new PromMetrics(o);
  const srv = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('405 method not allowed\n');
    metrics.text().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        o.log.warn({ err }, 'collecting metrics failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  srv.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (e) => reject(new Error(`metrics endpoint ${o.host}:${o.port}: ${e.message}`, { cause: e })));
    srv.listen(o.port, o.host, () => {
      srv.removeAllListeners('error');
      resolve();
    });
  });
  const a = srv.address() as AddressInfo;
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  o.log.info({ url: `${url}/metrics` }, 'metrics server listening');
  return {
    metrics,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      }),
  };
}
