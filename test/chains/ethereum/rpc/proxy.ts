/**
 * A switchable loopback HTTP proxy in front of a real JSON-RPC node, to make an endpoint fail in
 * the ways real ones do: refuse/reset connections, hang (time out), or answer HTTP 503.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ProxyMode = 'pass' | 'reset' | 'hang' | 'http503';

export interface RpcProxy {
  url: string;
  mode: ProxyMode;
  /** Requests forwarded to the node. */
  forwarded: number;
  /** JSON-RPC methods answered by a connection reset even in `pass` mode. */
  failMethods: Set<string>;
  close(): Promise<void>;
}

export async function startRpcProxy(target: string): Promise<RpcProxy> {
  const sockets = new Set<Socket>();
  const proxy: RpcProxy = { url: '', mode: 'pass', forwarded: 0, failMethods: new Set(), close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = ((): string => { try { return String((JSON.parse(Buffer.concat(chunks).toString()) as { method?: unknown }).method); } catch { return ''; } })();
      if (proxy.mode === 'reset' || proxy.failMethods.has(method)) { req.socket.destroy(); return; }
      if (proxy.mode === 'hang') return; // the client's timeout ends it
      if (proxy.mode === 'http503') { res.writeHead(503).end('unavailable'); return; }
      proxy.forwarded++;
      fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks), signal: AbortSignal.timeout(10_000) })
        .then(async (r) => { res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()); })
        .catch(() => req.socket.destroy());
    });
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}

/** A loopback URL where nothing listens (connections are refused). */
export async function deadUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

/** Polls `cond` until true or the bound expires; returns the last value. */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return false;
}
