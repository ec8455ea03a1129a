import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BitcoinRpcClient, feeRateFromEstimate } from '../../../src/chains/bitcoin/rpc.js';
import { isBridgeError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/node/metrics.js';

type Handler = (body: { method: string; params: unknown[]; id: number }, req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function serve(handler: Handler): Promise<string> {
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => handler(JSON.parse(data) as Parameters<Handler>[0], req, res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`;
}

const reply = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('BitcoinRpcClient', () => {
  it('sends JSON-RPC 1.0 with basic auth and returns the result', async () => {
    let seen: { method: string; params: unknown[]; auth?: string } | undefined;
    const url = await serve((body, req, res) => {
      seen = { method: body.method, params: body.params, auth: req.headers.authorization };
      reply(res, 200, { result: 'ab'.repeat(32), error: null, id: body.id });
    });
    const rpc = new BitcoinRpcClient({ url, username: 'u', password: 'p' });
    expect(await rpc.getBlockHash(7)).toBe('ab'.repeat(32));
    expect(seen).toEqual({ method: 'getblockhash', params: [7], auth: 'Basic ' + Buffer.from('u:p').toString('base64') });
  });

  it('retries transport failures, then succeeds', async () => {
    let calls = 0;
    const url = await serve((body, _req, res) => {
      calls++;
      if (calls < 3) {
        res.writeHead(503);
        res.end('busy');
        return;
      }
      reply(res, 200, { result: 12, error: null, id: body.id });
    });
    const metrics = createMetrics({ defaultMetrics: false });
    const rpc = new BitcoinRpcClient({ url, retries: 2, retryDelayMs: 1, metrics });
    expect(await rpc.getBlockCount()).toBe(12);
    expect(calls).toBe(3);
    const text = await metrics.registry.metrics();
    expect(text).toContain('fednode_btc_rpc_failures_total{method="getblockcount",code="BTC_RPC_UNAVAILABLE"} 2');
    expect(text).toContain('fednode_btc_rpc_seconds_count{method="getblockcount"} 3');
  });

  it('does not retry an RPC error and reports Core-style rejections as BTC_TX_REJECTED', async () => {
    let calls = 0;
    const url = await serve((body, _req, res) => {
      calls++;
      reply(res, 500, { result: null, error: { code: -26, message: 'mandatory-script-verify-flag-failed (EVAL_FALSE)' }, id: body.id });
    });
    const rpc = new BitcoinRpcClient({ url, retries: 3, retryDelayMs: 1 });
    await expect(rpc.sendRawTransaction('00')).rejects.toSatisfy(
      (e: unknown) => isBridgeError(e, 'BTC_TX_REJECTED') && e.context['rpcCode'] === -26 && String(e.context['reason']).includes('EVAL_FALSE'),
    );
    expect(calls).toBe(1);
  });

  it('maps a missing mempool entry (-5) to undefined', async () => {
    const url = await serve((body, _req, res) => reply(res, 500, { result: null, error: { code: -5, message: 'Transaction not in mempool' }, id: body.id }));
    expect(await new BitcoinRpcClient({ url }).getMempoolEntry('00'.repeat(32))).toBeUndefined();
  });

  it('times out each attempt and reports BTC_RPC_TIMEOUT after the retries', async () => {
    let calls = 0;
    const url = await serve(() => {
      calls++; // never answers
    });
    const rpc = new BitcoinRpcClient({ url, timeoutMs: 100, retries: 1, retryDelayMs: 1 });
    await expect(rpc.getBlockCount()).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'BTC_RPC_TIMEOUT') && e.context['method'] === 'getblockcount');
    expect(calls).toBe(2);
    server!.closeAllConnections();
  });

  it('reports an unreachable node as BTC_RPC_UNAVAILABLE', async () => {
    const url = await serve(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const rpc = new BitcoinRpcClient({ url, retries: 1, retryDelayMs: 1 });
    await expect(rpc.getBlockCount()).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'BTC_RPC_UNAVAILABLE'));
  });

  it('sends a JSON-RPC batch in one request and returns the results in call order', async () => {
    let requests = 0;
    server = createServer((req, res) => {
      requests++;
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        const calls = JSON.parse(data) as Array<{ method: string; params: unknown[]; id: number }>;
        // Replies out of order: the client matches them by id.
        const out = calls.map((c) => (c.method === 'getblockhash' && c.params[0] === 99
          ? { id: c.id, result: null, error: { code: -8, message: 'Block height out of range' } }
          : { id: c.id, result: c.method === 'getblockcount' ? 120 : c.method === 'getbestblockhash' ? 'be'.repeat(32) : `${String(c.params[0])}`.padStart(64, '0'), error: null }));
        reply(res, 200, out.reverse());
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const rpc = new BitcoinRpcClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
    expect(await rpc.getTip()).toEqual({ hash: 'be'.repeat(32), height: 120 });
    expect(await rpc.getBlockHashes([7, 8])).toEqual(['7'.padStart(64, '0'), '8'.padStart(64, '0')]);
    expect(requests).toBe(2);
    await expect(rpc.getBlockHashes([8, 99])).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'BTC_RPC_ERROR') && e.context['rpcCode'] === -8);
    expect(requests).toBe(3); // an error reply is not retried
    rpc.close();
  });

  it('refuses a malformed RPC URL at construction', () => {
    expect(() => new BitcoinRpcClient({ url: 'not a url' })).toThrow(expect.objectContaining({ code: 'BTC_RPC_BAD_URL' }));
  });

  it('converts estimatesmartfee (BTC/kvB) to integer sat/kvB', () => {
    expect(feeRateFromEstimate({ feerate: 0.00012345, blocks: 2 })).toBe(12_345n);
    expect(feeRateFromEstimate({ feerate: 0.0001, blocks: 2 })).toBe(10_000n);
    expect(feeRateFromEstimate({ errors: ['Insufficient data'], blocks: 0 })).toBeUndefined();
  });
});
