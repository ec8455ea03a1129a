import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payments } from 'bitcoinjs-lib';
import { isBridgeError } from '../../../src/errors.js';
import { BtcWatcher, type EmittedBlock } from '../../../src/chains/bitcoin/watcher.js';
import { MemoryWatcherStore, clearWatcherHalt } from '../../../src/chains/bitcoin/watcher-store.js';
import { encodeDepositOpReturn, extractBlockRecords, type FederationView } from '../../../src/chains/bitcoin/deposits.js';
import { federationAddress } from '../../../src/chains/bitcoin/scripts.js';
import { bytesToHex } from '../../../src/chains/bitcoin/bytes.js';
import { startRegtest, testFederation, type Regtest } from '../../fixtures/bitcoin/regtest.js';
import { testKeys } from '../../fixtures/bitcoin/keys.js';

describe('watcher and deposits against bcoin regtest', () => {
  let rt: Regtest;
  let otherAddress: string;
  let thirdAddress: string;
  beforeAll(async () => {
    rt = await startRegtest();
    otherAddress = payments.p2wpkh({ pubkey: testKeys(1, 'miner-b')[0]!.publicKey, network: rt.node.network }).address!;
    thirdAddress = payments.p2wpkh({ pubkey: testKeys(1, 'miner-c')[0]!.publicKey, network: rt.node.network }).address!;
  });
  afterAll(async () => {
    await rt?.node.stop();
  });

  function watcherFrom(startHeight: number, store = new MemoryWatcherStore()) {
    const w = new BtcWatcher({ rpc: rt.node.rpc, store, confirmations: 3, startHeight });
    const blocks: EmittedBlock[] = [];
    const reorgs: { height: number; oldHash: string; newHash: string }[] = [];
    w.on('block', (b) => blocks.push(b));
    w.on('reorg', (r) => reorgs.push(r));
    return { w, blocks, reorgs, store };
  }

  it('finds deposits to P2WSH and P2SH-P2WSH addresses with the right recipient and amount', async () => {
    const fed = testFederation(3, 2, 1);
    const view: FederationView = { depositScripts: [fed.script], allScripts: [fed.script], minDepositSats: 10_000n };
    // The addresses a user would be shown (bcoin's regtest prefixes) decode to the scripts paid.
    expect(federationAddress(fed.script, 'p2wsh', rt.node.network)).toMatch(/^rb1q/);
    const start = (await rt.node.rpc.getBlockCount()) + 1;
    const { w, blocks } = watcherFrom(start);
    const alice = new Uint8Array(20).fill(0xa1);
    const bob = new Uint8Array(20).fill(0xb0);
    const a = await rt.faucet.send([{ script: fed.script.p2wshOutput, valueSats: 123_456n }, { script: encodeDepositOpReturn({ recipient: alice }), valueSats: 0n }]);
    const b = await rt.faucet.send([{ script: encodeDepositOpReturn({ recipient: bob }), valueSats: 0n }, { script: fed.script.p2shP2wshOutput, valueSats: 654_321n }]);
    await rt.faucet.mine(3);
    await w.poll();
    expect(blocks.map((x) => x.height)).toEqual([start]);
    const records = extractBlockRecords(blocks[0]!.transactions, start, view);
    const summary = records.map((r) => (r.type === 'deposit-mint' ? [bytesToHex(r.txid.slice().reverse()), r.vout, r.amountSats, bytesToHex(r.recipient)] : r.type));
    expect(summary).toEqual(
      expect.arrayContaining([
        [a.txid, 0, 123_456n, bytesToHex(alice)],
        [b.txid, 1, 654_321n, bytesToHex(bob)],
      ]),
    );
    expect(records).toHaveLength(2);
  });

  it('emits at k confirmations, follows a reorg of unemitted blocks, halts on one reaching an emitted block', async () => {
    const start = (await rt.node.rpc.getBlockCount()) + 1;
    const { w, blocks, reorgs, store } = watcherFrom(start);
    await rt.faucet.mine(6);
    await w.poll();
    expect(blocks.map((b) => b.height)).toEqual([start, start + 1, start + 2, start + 3]);
    for (const b of blocks) expect(b.hash).toBe(await rt.node.rpc.getBlockHash(b.height));

    // Replace the two unemitted blocks with a longer branch.
    const oldTip = await rt.node.rpc.getBlockHash(start + 5);
    await rt.node.rpc.invalidateBlock(await rt.node.rpc.getBlockHash(start + 4));
    expect(await rt.node.rpc.getBlockCount()).toBe(start + 3);
    await rt.faucet.mineTo(otherAddress, 3);
    await w.poll();
    expect(reorgs.map((r) => r.height)).toEqual([start + 4, start + 5]);
    expect(reorgs[1]!.oldHash).toBe(oldTip);
    expect(blocks.map((b) => b.height)).toEqual([start, start + 1, start + 2, start + 3, start + 4]);
    expect(blocks[4]!.hash).toBe(await rt.node.rpc.getBlockHash(start + 4));
    expect(blocks[4]!.prevHash).toBe(blocks[3]!.hash);

    // A restarted watcher resumes from the store without re-emitting.
    const again = watcherFrom(start, store);
    await again.w.poll();
    expect(again.blocks).toEqual([]);

    // Now reorganise an emitted block away.
    const halts: unknown[] = [];
    w.on('halt', (e) => halts.push(e));
    await rt.node.rpc.invalidateBlock(await rt.node.rpc.getBlockHash(start + 3));
    // Mined to yet another address so no new block can coincide with an invalidated one.
    await rt.faucet.mineTo(thirdAddress, 5);
    await expect(w.poll()).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'BTC_REORG_REACHED_EMITTED_BLOCK'));
    expect(halts).toHaveLength(1);
    expect(blocks).toHaveLength(5);
    const saved = await store.load();
    expect(saved?.halted?.height).toBe(start + 4);
    // It stays halted, also across a restart.
    await expect(w.poll()).rejects.toThrow(/BTC_REORG_REACHED_EMITTED_BLOCK/);
    await expect(watcherFrom(start, store).w.poll()).rejects.toThrow(/BTC_REORG_REACHED_EMITTED_BLOCK/);

    // Only the operator's explicit step resumes it, from the height they choose.
    await clearWatcherHalt(store, start + 3);
    const resumed = watcherFrom(start, store);
    await resumed.w.poll();
    expect(resumed.blocks[0]!.height).toBe(start + 3);
    expect(resumed.blocks[0]!.hash).toBe(await rt.node.rpc.getBlockHash(start + 3));
    await expect(clearWatcherHalt(store, 1)).rejects.toThrow(/BTC_WATCHER_NOT_HALTED/);
  });
});
