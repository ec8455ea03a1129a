import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { BridgeError } from '../../errors.js';
import type { Health } from '../health.js';
import type { Logger } from '../logger.js';
import type { MetricsFactory } from '../metrics.js';

/** A module served on the node's HTTP port (e.g. the BTP JSON-RPC and websocket API). */
export interface HttpMount {
  /** Resolves true when it handled the request. */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Returns true when it took the websocket upgrade. */
  handleUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close?(): Promise<void>;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  log: Logger;
  metrics: MetricsFactory;
  health: Health;
  /** Body of `GET /status` (what `fednode status` prints). */
  status: () => unknown | Promise<unknown>;
  mounts?: HttpMount[];
}

export interface RunningHttpServer {
  readonly server: Server;
  /** The bound address, e.g. `http://127.0.0.1:8645`. */
  readonly url: string;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(code, { 'content-type': 'application/json' }).end(text + '\n');
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const log = opts.log.child({ module: 'http' });
  const requests = opts.metrics.counter('http_requests_total', 'HTTP requests by route and status', ['route', 'status']);
  const mounts = opts.mounts ?? [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<string> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' || req.method === 'HEAD') {
      switch (path) {
        case '/livez':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return path;
        case '/readyz': {
          const report = await opts.health.report();
          sendJson(res, report.ready ? 200 : 503, report);
          return path;
        }
        case '/metrics':
          res.writeHead(200, { 'content-type': opts.metrics.registry.contentType }).end(await opts.metrics.registry.metrics());
          return path;
        case '/status':
          sendJson(res, 200, await opts.status());
          return path;
      }
    }
    for (const m of mounts) if (await m.handleRequest(req, res)) return 'mount';
    sendJson(res, 404, { error: 'not found', path });
    return 'not_found';
  };

  const server = createServer((req, res) => {
    handle(req, res)
      .then((route) => requests.inc({ route, status: String(res.statusCode) }))
      .catch((err: unknown) => {
        log.error({ err, url: req.url }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.end();
        requests.inc({ route: 'error', status: '500' });
      });
  });
  server.on('upgrade', (req, socket, head) => {
    for (const m of mounts) if (m.handleUpgrade?.(req, socket, head)) return;
    socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
  });
  // Idle keep-alive sockets must not hold shutdown open.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new BridgeError({
          code: 'HTTP_LISTEN_FAILED',
          message: err.code === 'EADDRINUSE' ? `HTTP port ${opts.host}:${opts.port} is already in use (set http.port)` : `cannot listen on ${opts.host}:${opts.port}: ${err.message}`,
          host: opts.host,
          port: opts.port,
        }),
      );
    };
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${port}`;
  log.info({ url }, 'http server listening');

  return {
    server,
    url,
    close: async () => {
      for (const m of mounts) await m.close?.();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
