import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildBlock, type BtpChainState, type BuiltBlock } from '../../../src/chains/btp/builder.js';
import { decodeHeader, encodeProof, encodeProofContext } from '../../../src/chains/btp/codec.js';
import { toHex } from '../../../src/chains/btp/bytes.js';
import { createBtpRpc, type BtpRpc } from '../../../src/node/rpc/btp-rpc.js';
import { MemoryBtpStore } from '../../../src/node/rpc/store.js';
import { silentLogger } from '../../../src/node/logger.js';
import { createMetrics } from '../../../src/node/metrics.js';
import { makeValidators, NID, NTID, proofFor, SRC } from '../../chains/btp/helpers.js';

const vs = makeValidators(4);
const addresses = vs.map((v) => v.address);
let store: MemoryBtpStore;
let rpc: BtpRpc;
let server: Server;
let base: string;
const metrics = createMetrics({ defaultMetrics: false });
let chain: BtpChainState;
const built: BuiltBlock[] = [];

function addBlock(height: number, messages: string[], withProof = true): BuiltBlock {
  const b = buildBlock(chain, { srcNetworkUid: SRC, networkTypeId: NTID, height, messages: messages.map((m) => new TextEncoder().encode(m)) })!;
  store.addBlock({ height, networkId: NID, header: b.headerBytes, proof: withProof ? encodeProof(proofFor(b, vs, vs)) : null, messages: b.messages });
  chain = b.nextState;
  built.push(b);
  return b;
}

beforeAll(async () => {
  store = new MemoryBtpStore({
    srcNetworkUid: SRC,
    networkTypeId: NTID,
    networkId: NID,
    networkTypeName: 'eth',
    networkName: 'btc-regtest',
    initialProofContext: encodeProofContext({ validators: addresses }),
  });
  chain = { networkId: NID, lastNetworkSectionHash: null, nextMessageSn: 0, validators: addresses };
  addBlock(100, []);
  addBlock(105, ['a', 'b']);
  addBlock(107, ['c']);
  rpc = createBtpRpc({ store, log: silentLogger(), maxBodyBytes: 10_000, metrics });
  server = createServer((req, res) => {
    void rpc.handleRequest(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (!rpc.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await rpc.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface RpcReply {
  result?: unknown;
  error?: { code: number; message: string };
  id?: unknown;
}

async function post(body: unknown, path = '/api/v3'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function call(method: string, params?: unknown): Promise<RpcReply> {
  return (await post({ jsonrpc: '2.0', id: 7, method, ...(params === undefined ? {} : { params }) })).json as RpcReply;
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

describe('BTP JSON-RPC methods over HTTP', () => {
  it('btp_getSourceInformation', async () => {
    const r = await call('btp_getSourceInformation');
    expect(r.result).toEqual({ srcNetworkUID: SRC, networkTypeIDs: ['0x2'] });
    expect(r.id).toBe(7);
  });

  it('btp_getNetworkInfo, latest and at a height', async () => {
    const r = await call('btp_getNetworkInfo', { id: '0x1' });
    expect(r.result).toMatchObject({
      startHeight: '0x64',
      networkTypeID: '0x2',
      networkTypeName: 'eth',
      nextMessageSN: '0x3',
      nextProofContextChanged: '0x0',
      lastNSHash: toHex(built[2]!.networkSectionHash),
      prevNSHash: toHex(built[1]!.networkSectionHash),
      networkID: '0x1',
    });
    const old = await call('btp_getNetworkInfo', { id: '0x1', height: '0x64' });
    expect(old.result).toMatchObject({ nextMessageSN: '0x0', nextProofContextChanged: '0x1', prevNSHash: null });
  });

  it('btp_getNetworkTypeInfo', async () => {
    const r = await call('btp_getNetworkTypeInfo', { id: '0x2' });
    expect(r.result).toEqual({ networkTypeName: 'eth', nextProofContext: toHex(encodeProofContext({ validators: addresses })), openNetworkIDs: ['0x1'], networkTypeID: '0x2' });
  });

  it('btp_getHeader, btp_getProof, btp_getMessages return base64', async () => {
    const p = { height: '0x69', networkID: '0x1' };
    const header = (await call('btp_getHeader', p)).result as string;
    expect(header).toBe(b64(built[1]!.headerBytes));
    expect(decodeHeader(Buffer.from(header, 'base64')).mainHeight).toBe(105);
    expect((await call('btp_getProof', p)).result).toBe(b64(encodeProof(proofFor(built[1]!, vs, vs))));
    expect((await call('btp_getMessages', p)).result).toEqual([b64(Buffer.from('a')), b64(Buffer.from('b'))]);
    expect((await call('btp_getMessages', { height: '0x65', networkID: '0x1' })).result).toEqual([]);
  });

  it('counts requests by method and outcome', async () => {
    await call('btp_getSourceInformation');
    await call('btp_getHeader', { height: 'x' });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/fednode_btp_rpc_requests_total\{method="btp_getSourceInformation",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/fednode_btp_rpc_requests_total\{method="btp_getHeader",outcome="bad_params"\} [1-9]/);
  });

  it('the channel path and batches work', async () => {
    const { json } = await post(
      [
        { jsonrpc: '2.0', id: 1, method: 'btp_getSourceInformation' },
        { jsonrpc: '2.0', id: 2, method: 'btp_nope' },
      ],
      '/api/v3/icon_dex',
    );
    const replies = json as RpcReply[];
    expect(replies.map((r) => r.id)).toEqual([1, 2]);
    expect(replies[1]!.error!.code).toBe(-32601);
  });

  it.each([
    ['btp_getNetworkInfo', undefined],
    ['btp_getNetworkInfo', []],
    ['btp_getNetworkInfo', 'x'],
    ['btp_getNetworkInfo', {}],
    ['btp_getNetworkInfo', { id: 1 }],
    ['btp_getNetworkInfo', { id: '1' }],
    ['btp_getNetworkInfo', { id: '0x1', height: 'ten' }],
    ['btp_getNetworkTypeInfo', { height: '0x1' }],
    ['btp_getNetworkTypeInfo', { id: '-0x2' }],
    ['btp_getMessages', { networkID: '0x1' }],
    ['btp_getMessages', { height: '0x69' }],
    ['btp_getMessages', { height: '0x69', networkID: '0xzz' }],
    ['btp_getHeader', { height: '0x69' }],
    ['btp_getHeader', { height: '0x' + 'f'.repeat(20), networkID: '0x1' }],
    ['btp_getProof', { height: 105, networkID: '0x1' }],
    ['btp_getProof', null],
  ])('%s with params %j -> -32602', async (method, params) => {
    const body = { jsonrpc: '2.0', id: 1, method, ...(params === undefined ? {} : { params }) };
    const r = (await post(body)).json as RpcReply;
    expect(r.error?.code).toBe(-32602);
  });

  it.each([
    ['btp_getNetworkInfo', { id: '0x9' }],
    ['btp_getNetworkTypeInfo', { id: '0x9' }],
    ['btp_getMessages', { height: '0x69', networkID: '0x9' }],
    ['btp_getHeader', { height: '0x66', networkID: '0x1' }],
    ['btp_getProof', { height: '0x66', networkID: '0x1' }],
  ])('%s for %j that does not exist -> -32000', async (method, params) => {
    expect((await call(method, params)).error?.code).toBe(-32000);
  });

  it('protocol errors: parse error, invalid request, unknown method, oversize body, other paths', async () => {
    expect(((await post('{nope')).json as RpcReply).error!.code).toBe(-32700);
    expect(((await post({ id: 1, method: 'btp_getHeader' })).json as RpcReply).error!.code).toBe(-32600);
    expect(((await post([])).json as RpcReply).error!.code).toBe(-32600);
    expect(((await post(42)).json as RpcReply).error!.code).toBe(-32600);
    expect((await call('toString')).error!.code).toBe(-32601);
    const big = await post({ jsonrpc: '2.0', id: 1, method: 'btp_getHeader', params: { pad: 'x'.repeat(20_000) } });
    expect(big.status).toBe(413);
    expect((await fetch(base + '/other', { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(base + '/api/v3')).status).toBe(404);
  });
});

/** Collects JSON messages of a websocket. */
function monitor(path: string): { ws: WebSocket; next: () => Promise<Record<string, unknown>>; closed: Promise<void> } {
  const ws = new WebSocket(base.replace('http', 'ws') + path);
  const queue: Record<string, unknown>[] = [];
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      const t = setTimeout(() => reject(new Error('no message within 15 s')), 15_000);
      waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  return { ws, next, closed };
}

const opened = (ws: WebSocket): Promise<void> => new Promise((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));

describe('BTP websocket monitor', () => {
  it('replies {code:0}, streams {header, proof} per block from the height, then new blocks and progress', async () => {
    const m = monitor('/api/v3/icon_dex/btp');
    await opened(m.ws);
    m.ws.send(JSON.stringify({ height: '0x65', networkID: '0x1', proofFlag: '0x1', progressInterval: '0x3' }));
    expect(await m.next()).toEqual({ code: 0 });
    const n1 = await m.next();
    expect(n1.header).toBe(b64(built[1]!.headerBytes));
    expect(n1.proof).toBe(b64(encodeProof(proofFor(built[1]!, vs, vs))));
    expect((await m.next()).header).toBe(b64(built[2]!.headerBytes));
    // a new block without proof is held back until its proof is collected
    const b = addBlock(110, ['d'], false);
    store.setLatestHeight(111);
    store.setProof(110, encodeProof(proofFor(b, vs, vs)));
    const n3 = await m.next();
    expect(n3.header).toBe(b64(b.headerBytes));
    expect(typeof n3.proof).toBe('string');
    // no block for a while: progress every 3 heights
    store.setLatestHeight(113);
    expect(await m.next()).toEqual({ progress: '0x71' });
    m.ws.close();
    await m.closed;
  });

  it('without proofFlag sends headers only', async () => {
    const m = monitor('/api/v3/btp');
    await opened(m.ws);
    m.ws.send(JSON.stringify({ height: '0x0', networkID: '0x1' }));
    expect(await m.next()).toEqual({ code: 0 });
    const n = await m.next();
    expect(n).toEqual({ header: b64(built[0]!.headerBytes) });
    m.ws.close();
    await m.closed;
  });

  it.each([
    ['not json', '{'],
    ['missing height', JSON.stringify({ networkID: '0x1' })],
    ['missing networkID', JSON.stringify({ height: '0x1' })],
    ['bad height', JSON.stringify({ height: 1, networkID: '0x1' })],
    ['bad proofFlag', JSON.stringify({ height: '0x1', networkID: '0x1', proofFlag: '0x2' })],
    ['bad progressInterval', JSON.stringify({ height: '0x1', networkID: '0x1', progressInterval: 'often' })],
    ['array', JSON.stringify([1])],
  ])('%s -> {code:-32602} and close', async (_what, request) => {
    const m = monitor('/api/v3/icon_dex/btp');
    await opened(m.ws);
    m.ws.send(request);
    const reply = await m.next();
    expect(reply.code).toBe(-32602);
    await m.closed;
  });

  it('unknown network -> {code:-32000}', async () => {
    const m = monitor('/api/v3/icon_dex/btp');
    await opened(m.ws);
    m.ws.send(JSON.stringify({ height: '0x1', networkID: '0x7' }));
    expect((await m.next()).code).toBe(-32000);
    await m.closed;
  });

  it('other upgrade paths are not taken', async () => {
    const ws = new WebSocket(base.replace('http', 'ws') + '/api/v3/x/y');
    await expect(opened(ws)).rejects.toBeDefined();
  });
});
