import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AbiCoder, Interface, Wallet, keccak256, toUtf8Bytes } from 'ethers';
import { loadArtifact } from '../../../../src/chains/ethereum/artifacts.js';
import type { EthRpc } from '../../../../src/chains/ethereum/rpc/client.js';
import type { SubmitRequest, TxSender } from '../../../../src/chains/ethereum/sender/sender.js';
import { BridgeError } from '../../../../src/errors.js';
import { openDatabase, type NodeDb } from '../../../../src/node/db/database.js';
import { silentLogger } from '../../../../src/node/logger.js';
import { createMetrics } from '../../../../src/node/metrics.js';
import { SignLog } from '../../../../src/node/signlog/signlog.js';
import { signDecision } from '../../../../src/chains/btp/sign.js';
import { Accountability, signLogSignatureSource, type AccountabilityOptions } from '../../../../src/node/validator/accountability/index.js';
import { btpEvidence, decision } from '../../../contracts/slashing-helpers.js';
import { NETWORK_TYPE_ID, SRC_UID } from '../../../contracts/helpers.js';

const slasherIface = new Interface(loadArtifact('Slasher').abi);
const key = keccak256(toUtf8Bytes('accountability-unit-byzantine'));
const validator = new Wallet(key).address;
const ev = btpEvidence(key, decision(40, 1), decision(40, 2), 40);

/** An EthRpc that answers the few views the module reads: evidence never used, head 1000. */
function fakeRpc(): EthRpc {
  return {
    chainId: 31337,
    blockNumber: async () => 1000,
    call: async (req: { data?: string }) => {
      const fn = slasherIface.parseTransaction({ data: req.data! })!;
      if (fn.name === 'btpEvidenceUsed') return AbiCoder.defaultAbiCoder().encode(['bool'], [false]);
      throw new Error(`unexpected call ${fn.name}`);
    },
  } as unknown as EthRpc;
}

/** A sender that plays a script of outcomes, one per submit. */
function scriptedSender(script: Array<'unavailable' | 'ok' | { revert: string; args: unknown[] }>): TxSender & { requests: SubmitRequest[] } {
  const requests: SubmitRequest[] = [];
  return {
    address: '0x00000000000000000000000000000000000000aa',
    requests,
    get: () => undefined,
    submit: async (req: SubmitRequest) => {
      requests.push(req);
      const step = script.shift();
      if (step === undefined || step === 'unavailable') throw new BridgeError({ code: 'ETH_RPC_UNAVAILABLE' });
      if (step !== 'ok') throw new BridgeError({ code: 'ETH_TX_REVERTED', revertData: slasherIface.encodeErrorResult(step.revert, step.args) });
      return { key: req.key, record: () => ({ state: 'pending' }), wait: async () => ({}) } as never;
    },
  } as unknown as TxSender & { requests: SubmitRequest[] };
}

function make(sender: TxSender, options: Partial<AccountabilityOptions> = {}, db?: NodeDb): Accountability {
  return new Accountability({
    rpc: fakeRpc(),
    sender,
    contracts: { slasher: '0x0000000000000000000000000000000000000001', bmv: '0x0000000000000000000000000000000000000002', registry: '0x0000000000000000000000000000000000000003' },
    self: '0x0000000000000000000000000000000000000004',
    network: { srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID },
    log: silentLogger(),
    metrics: createMetrics({ defaultMetrics: false }),
    options: { evidenceRetries: 3, ...options },
    ...(db !== undefined ? { db } : {}),
  });
}

describe('accountability evidence submission (fake chain)', () => {
  it('encodes submitBtpEquivocation for the slasher under one idempotency key per (validator, height)', async () => {
    const sender = scriptedSender(['ok']);
    expect(await make(sender).submitBtpEvidence(ev)).toBe('submitted');
    expect(sender.requests).toHaveLength(1);
    const r = sender.requests[0]!;
    expect(r.key).toBe(`slasher:btp-equivocation:${validator.toLowerCase()}:40`);
    const tx = slasherIface.parseTransaction({ data: r.data! })!;
    expect(tx.name).toBe('submitBtpEquivocation');
    expect(tx.args[0]).toBe(validator);
    expect(await r.alreadyDone!()).toBe(false);
  });

  it('reads the contract\'s refusal: already used is done, NoStake is final', async () => {
    expect(await make(scriptedSender([{ revert: 'EvidenceAlreadyUsed', args: [validator, '0x' + '00'.repeat(31) + '28'] }])).submitBtpEvidence(ev)).toBe('already-used');
    expect(await make(scriptedSender([{ revert: 'NoStake', args: [validator] }])).submitBtpEvidence(ev)).toBe('refused');
  });

  it('retries evidence whose submission failed on later ticks, a bounded number of times', async () => {
    const sender = scriptedSender(['unavailable', 'unavailable', 'ok']);
    const acc = make(sender);
    acc.acceptEvidence([ev]);
    for (let i = 0; i < 50 && acc.pendingEvidence === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(acc.pendingEvidence).toBe(1);
    await acc.tick(); // second attempt fails
    expect(acc.pendingEvidence).toBe(1);
    await acc.tick(); // third succeeds
    expect(acc.pendingEvidence).toBe(0);
    expect(sender.requests).toHaveLength(3);

    const never = scriptedSender([]);
    const acc2 = make(never);
    acc2.acceptEvidence([ev]);
    for (let i = 0; i < 50 && acc2.pendingEvidence === 0; i++) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 5; i++) await acc2.tick();
    expect(acc2.pendingEvidence).toBe(0);
    expect(never.requests).toHaveLength(1 + 3); // the first attempt + evidenceRetries
  });

  it('refuses another federation\'s evidence without sending anything', async () => {
    const sender = scriptedSender(['ok']);
    expect(await make(sender).submitBtpEvidence(btpEvidence(key, decision(40, 1, { src: '0x9.btc' }), decision(40, 2, { src: '0x9.btc' }), 40))).toBe('foreign-network');
    expect(sender.requests).toHaveLength(0);
  });

  it('keeps at most maxDuties open duties, dropping the oldest; a duty is tracked once', async () => {
    const acc = make(scriptedSender([]), { maxDuties: 2 });
    for (const h of [1n, 2n, 2n, 3n]) await acc.onBlockAccepted(h);
    expect(acc.openDuties()).toEqual([{ kind: 'block', id: 2n }, { kind: 'block', id: 3n }]);
    // No payout coordinator configured: batch duties are not kept.
    await acc.onBatchApproved(5n);
    expect(acc.openDuties()).toHaveLength(2);
    expect(acc.status()).toEqual({ blocks: 2, batches: 0, pendingEvidence: 0 });
  });

  it('refuses bad options', () => {
    expect(() => make(scriptedSender([]), { takeoverBlocks: 0 })).toThrow(/ACCOUNTABILITY_BAD_OPTIONS/);
  });

  it('keeps evidence that could not be sent in the database and submits it after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fednode-acc-unit-'));
    const db = await openDatabase(dir, { log: silentLogger() });
    try {
      const down = make(scriptedSender([]), { evidenceRetries: 1 }, db);
      down.acceptEvidence([ev]);
      for (let i = 0; i < 100 && down.pendingEvidence === 0; i++) await new Promise((r) => setTimeout(r, 5));
      await down.tick(); // the last retry fails: given up in memory, still stored
      expect(down.pendingEvidence).toBe(0);

      const upSender = scriptedSender(['ok']);
      const up = make(upSender, {}, db);
      await up.load();
      expect(up.pendingEvidence).toBe(1);
      await up.tick();
      expect(up.pendingEvidence).toBe(0);
      expect(upSender.requests.map((r) => r.key)).toEqual([`slasher:btp-equivocation:${validator.toLowerCase()}:40`]);

      const again = make(scriptedSender([]), {}, db);
      await again.load();
      expect(again.pendingEvidence).toBe(0); // deleted once handed to the sender
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('own signature from the sign-log: the same bytes for the signed decision, never another decision', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fednode-acc-sig-'));
    const db = await openDatabase(dir, { log: silentLogger() });
    try {
      const log = new SignLog(db);
      const d = '0x' + 'ab'.repeat(32);
      await log.authorizeBtp({ height: 5, decisionHash: d }, Date.now());
      const src = signLogSignatureSource(log, Buffer.from(key.slice(2), 'hex'));
      expect(await src(5n, d.toUpperCase().replace('0X', '0x'))).toEqual(signDecision(Buffer.from('ab'.repeat(32), 'hex'), Buffer.from(key.slice(2), 'hex')));
      expect(await src(5n, '0x' + 'cd'.repeat(32))).toBe('other-decision');
      expect(await src(6n, d)).toBeUndefined();
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
