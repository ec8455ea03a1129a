import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { MetricsFactory } from '../metrics.js';
import { BadParams, formatBase64, formatBytes, formatInt, intParam, paramsObject } from './params.js';
import type { BtpStore, StoredBtpBlock } from './store.js';

/**
 * ICON's BTP 2.0 JSON-RPC extension (goloop doc/btp2_extension.md and
 * server/v3 api_v3.go) over a {@link BtpStore}: `POST /api/v3[/:channel]`
 * methods and the `/api/v3/:channel/btp` websocket monitor. Mount it on the
 * node's HTTP server (it returns false for paths it does not own).
 */
export interface BtpRpcOptions {
  store: BtpStore;
  log: Logger;
  /** Largest accepted request body. */
  maxBodyBytes?: number;
  /** Blocks read from the store per monitor step. */
  monitorBatch?: number;
  /** When given: `fednode_btp_rpc_requests_total{method,outcome}` and `fednode_btp_monitors` gauge. */
  metrics?: MetricsFactory;
}

export interface BtpRpc {
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
/** Every other failure (unknown network, no block at that height, store errors). */
export const RPC_SERVER_ERROR = -32000;

const DEFAULTS = { maxBodyBytes: 1 << 20, monitorBatch: 64 };

const RPC_PATH = /^\/api\/v3(\/[A-Za-z0-9_-]+)?\/?$/;
const MONITOR_PATH = /^\/api\/v3(\/[A-Za-z0-9_-]+)?\/btp\/?$/;

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Handler = (params: unknown) => Promise<unknown>;

interface JsonRpcRequest {
  jsonrpc?: unknown;
  method?: unknown;
  params?: unknown;
  id?: unknown;
}

function notFound(what: string): RpcError {
  return new RpcError(RPC_SERVER_ERROR, `NotFound: ${what}`);
}

function blockParams(params: unknown): { height: number; networkId: number } {
  const p = paramsObject(params, false);
  return { height: intParam(p, 'height', true), networkId: intParam(p, 'networkID', true) };
}

function methods(store: BtpStore): Record<string, Handler> {
  const requireBlock = async (params: unknown): Promise<StoredBtpBlock> => {
    const { height, networkId } = blockParams(params);
    const b = await store.block(networkId, height);
    if (b === undefined) throw notFound(`network ${formatInt(networkId)}`);
    if (b === null) throw notFound(`no BTP block at height ${formatInt(height)} for network ${formatInt(networkId)}`);
    return b;
  };
  return {
    btp_getNetworkInfo: async (params) => {
      const p = paramsObject(params, false);
      const id = intParam(p, 'id', true);
      const info = await store.networkInfo(id, intParam(p, 'height', false));
      if (info === undefined) throw notFound(`network ${formatInt(id)}`);
      return {
        startHeight: formatInt(info.startHeight),
        networkTypeID: formatInt(info.networkTypeId),
        networkTypeName: info.networkTypeName,
        networkName: info.networkName,
        open: info.open ? '0x1' : '0x0',
        nextMessageSN: formatInt(info.nextMessageSn),
        nextProofContextChanged: info.nextProofContextChanged ? '0x1' : '0x0',
        prevNSHash: formatBytes(info.prevNSHash),
        lastNSHash: formatBytes(info.lastNSHash),
        networkID: formatInt(info.networkId),
      };
    },
    btp_getNetworkTypeInfo: async (params) => {
      const p = paramsObject(params, false);
      const id = intParam(p, 'id', true);
      const info = await store.networkTypeInfo(id, intParam(p, 'height', false));
      if (info === undefined) throw notFound(`network type ${formatInt(id)}`);
      return {
        networkTypeName: info.networkTypeName,
        nextProofContext: formatBytes(info.nextProofContext),
        openNetworkIDs: info.openNetworkIds.map(formatInt),
        networkTypeID: formatInt(info.networkTypeId),
      };
    },
    btp_getMessages: async (params) => {
      const { height, networkId } = blockParams(params);
      const b = await store.block(networkId, height);
      if (b === undefined) throw notFound(`network ${formatInt(networkId)}`);
      return b === null ? [] : b.messages.map(formatBase64);
    },
    btp_getHeader: async (params) => formatBase64((await requireBlock(params)).header),
    btp_getProof: async (params) => {
      const b = await requireBlock(params);
      if (b.proof === null) throw notFound(`proof not collected yet at height ${formatInt(b.height)}`);
      return formatBase64(b.proof);
    },
    btp_getSourceInformation: async () => {
      const si = await store.sourceInformation();
      return { srcNetworkUID: si.srcNetworkUid, networkTypeIDs: si.networkTypeIds.map(formatInt) };
    },
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorBody(id: unknown, code: number, message: string): unknown {
  return { jsonrpc: '2.0', id: id ?? null, error: { code, message } };
}

export function createBtpRpc(options: BtpRpcOptions): BtpRpc {
  const opts = { ...DEFAULTS, ...options };
  const log = opts.log.child({ module: 'btp-rpc' });
  const table = methods(opts.store);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const monitors = new Set<WebSocket>();
  const requests = opts.metrics?.counter('btp_rpc_requests_total', 'BTP JSON-RPC requests by method and outcome', ['method', 'outcome']);
  const monitorGauge = opts.metrics?.gauge('btp_monitors', 'Open BTP websocket monitors');
  const count = (method: string, outcome: string): void => requests?.inc({ method: Object.hasOwn(table, method) ? method : 'unknown', outcome });

  const call = async (reqObj: unknown): Promise<unknown> => {
    if (typeof reqObj !== 'object' || reqObj === null || Array.isArray(reqObj)) {
      return errorBody(null, RPC_INVALID_REQUEST, 'invalid request');
    }
    const r = reqObj as JsonRpcRequest;
    if (r.jsonrpc !== '2.0' || typeof r.method !== 'string') return errorBody(r.id, RPC_INVALID_REQUEST, 'invalid request');
    const handler = Object.hasOwn(table, r.method) ? table[r.method] : undefined;
    if (handler === undefined) {
      count(r.method, 'method_not_found');
      return errorBody(r.id, RPC_METHOD_NOT_FOUND, `method not found: ${r.method}`);
    }
    try {
      const result = await handler(r.params);
      count(r.method, 'ok');
      return { jsonrpc: '2.0', id: r.id ?? null, result };
    } catch (err) {
      if (err instanceof BadParams) {
        count(r.method, 'bad_params');
        return errorBody(r.id, RPC_INVALID_PARAMS, `Bad params: ${err.message}`);
      }
      if (err instanceof RpcError) {
        count(r.method, 'error');
        return errorBody(r.id, err.code, err.message);
      }
      count(r.method, 'error');
      log.error({ err, method: r.method }, 'BTP RPC method failed');
      return errorBody(r.id, RPC_SERVER_ERROR, 'server error');
    }
  };

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!RPC_PATH.test(path) || req.method !== 'POST') return false;
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const text = await readBody(req, opts.maxBodyBytes);
    if (text === null) {
      send(413, errorBody(null, RPC_INVALID_REQUEST, 'request too large'));
      return true;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      send(200, errorBody(null, RPC_PARSE_ERROR, 'parse error'));
      return true;
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) send(200, errorBody(null, RPC_INVALID_REQUEST, 'empty batch'));
      else send(200, await Promise.all(parsed.map(call)));
    } else {
      send(200, await call(parsed));
    }
    return true;
  };

  const startMonitor = (ws: WebSocket): void => {
    monitors.add(ws);
    monitorGauge?.set(monitors.size);
    let started = false;
    ws.on('close', () => {
      monitors.delete(ws);
      monitorGauge?.set(monitors.size);
    });
    ws.on('error', (err) => log.debug({ err }, 'monitor socket error'));
    ws.once('message', (data: RawData) => {
      let req: { height: number; networkId: number; proofFlag: boolean; progressInterval: number };
      try {
        const p = paramsObject(JSON.parse(data.toString()), false);
        const flag = intParam(p, 'proofFlag', false) ?? 0;
        if (flag > 1) throw new BadParams('proofFlag must be 0x0 or 0x1');
        req = {
          height: intParam(p, 'height', true),
          networkId: intParam(p, 'networkID', true),
          proofFlag: flag === 1,
          progressInterval: intParam(p, 'progressInterval', false) ?? 0,
        };
      } catch (err) {
        const message = err instanceof BadParams ? `Bad params: ${err.message}` : 'Bad params: not JSON';
        ws.send(JSON.stringify({ code: RPC_INVALID_PARAMS, message }), () => ws.close(1000));
        return;
      }
      void opts.store.networkInfo(req.networkId).then(
        (info) => {
          if (info === undefined) {
            ws.send(JSON.stringify({ code: RPC_SERVER_ERROR, message: `NotFound: network ${formatInt(req.networkId)}` }), () => ws.close(1000));
            return;
          }
          ws.send(JSON.stringify({ code: 0 }));
          started = true;
          runMonitor(ws, req);
        },
        (err: unknown) => {
          log.error({ err }, 'monitor start failed');
          ws.send(JSON.stringify({ code: RPC_SERVER_ERROR, message: 'server error' }), () => ws.close(1011));
        },
      );
    });
    // a monitor that never sends its request is dropped
    const timer = setTimeout(() => {
      if (!started && ws.readyState === ws.OPEN) ws.close(1008, 'no request');
    }, 30_000);
    ws.on('close', () => clearTimeout(timer));
  };

  /** Streams {header, proof?} per block from the requested height, then {progress} every `progressInterval` heights. */
  const runMonitor = (ws: WebSocket, req: { height: number; networkId: number; proofFlag: boolean; progressInterval: number }): void => {
    let cursor = req.height;
    let lastProgress = req.height - 1;
    let running = false;
    let again = false;
    const step = async (): Promise<void> => {
      for (;;) {
        const blocks = await opts.store.blocksFrom(req.networkId, cursor, opts.monitorBatch);
        for (const b of blocks) {
          if (ws.readyState !== ws.OPEN) return;
          if (req.proofFlag && b.proof === null) return; // wait until the proof is collected
          const note: Record<string, string> = { header: formatBase64(b.header) };
          if (req.proofFlag && b.proof !== null) note.proof = formatBase64(b.proof);
          ws.send(JSON.stringify(note));
          cursor = b.height + 1;
          lastProgress = b.height;
        }
        if (blocks.length < opts.monitorBatch) break;
      }
      if (req.progressInterval > 0 && ws.readyState === ws.OPEN) {
        const latest = await opts.store.latestHeight();
        if (latest - lastProgress >= req.progressInterval) {
          ws.send(JSON.stringify({ progress: formatInt(latest) }));
          lastProgress = latest;
        }
      }
    };
    const pump = (): void => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      step()
        .catch((err: unknown) => {
          log.error({ err }, 'monitor step failed');
          ws.close(1011);
        })
        .finally(() => {
          running = false;
          if (again && ws.readyState === ws.OPEN) {
            again = false;
            pump();
          }
        });
    };
    const unsubscribe = opts.store.subscribe(pump);
    ws.on('close', unsubscribe);
    pump();
  };

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!MONITOR_PATH.test(path)) return false;
    wss.handleUpgrade(req, socket, head, (ws) => startMonitor(ws));
    return true;
  };

  const close = async (): Promise<void> => {
    for (const ws of monitors) ws.terminate();
    monitors.clear();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };

  return { handleRequest, handleUpgrade, close };
}
