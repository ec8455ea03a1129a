// Property (fast-check, real EVM): after every operation — deposits (minted, deferred by a cap,
// unclaimed, refunds queued as withdrawals), withdrawals, closing a batch (with dust refunds), fee bumps and confirmations —
// the ledger's UTXOs sum to at least the BTCT supply, and to at least supply + withdrawals still
// owed (PROTOCOL.md §4.5: L ≥ B, and fee bumps only spend the surplus).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Contract, Wallet, getBytes, keccak256, toUtf8Bytes } from 'ethers';
import { networks, payments } from 'bitcoinjs-lib';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import type { BtcRecord } from '../../src/chains/bitcoin/records.js';
import { deliverRecords, importAll, mine, revertTo, setupPayout, snapshot, startEnv, stopEnv, type Env, type PayoutFixture } from './helpers.js';

const N = 4;

type Op =
  | { t: 'deposit'; amount: bigint; p2sh: boolean; kind: 'mint' | 'unclaimed' | 'refund' }
  | { t: 'withdraw'; amount: bigint }
  | { t: 'close' }
  | { t: 'bump' }
  | { t: 'confirm' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('deposit' as const), amount: fc.bigInt({ min: 1_000n, max: 2_000_000n }), p2sh: fc.boolean(), kind: fc.constantFrom('mint' as const, 'mint' as const, 'unclaimed' as const, 'refund' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('withdraw' as const), amount: fc.bigInt({ min: 601n, max: 800_000n }) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'bump' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'confirm' as const }) },
);

describe('ledger invariant: Σ ledger UTXOs ≥ BTCT supply after every operation', () => {
  let env: Env;
  let f: PayoutFixture;
  let user: Wallet;
  let seq = 0;
  const done = { deposit: 0, withdraw: 0, close: 0, bump: 0, confirm: 0 };

  beforeAll(async () => {
    env = await startEnv(2 + N + 2);
    f = await setupPayout(env, N, { payout: { bumpAfterBlocks: 2 } });
    user = env.wallets[2 + N]!;
    await waitReceipt(env.provider, await f.d.payout.getFunction('initReserve')(keccak256(toUtf8Bytes('reserve')), 0, 500_000n, 0));
    await waitReceipt(env.provider, await f.d.bsh.getFunction('setFee')(false, 0, 300, 0)); // withdrawal fee
    await waitReceipt(env.provider, await f.d.bsh.getFunction('setFailedTransferFee')(100));
    await waitReceipt(env.provider, await f.d.bsh.getFunction('setMaxSupply')(6_000_000n)); // some deposits are deferred
  });
  afterAll(async () => stopEnv(env));

  async function apply(op: Op): Promise<void> {
    const c = f.d.payout;
    if (op.t === 'deposit') {
      const txid = getBytes(keccak256(toUtf8Bytes(`dep-${seq++}`)));
      const base = { txid, vout: seq % 3, amountSats: op.amount, epoch: 0, ...(op.p2sh ? { outputKind: 'p2sh-p2wsh' as const } : {}) };
      const rec: BtcRecord = op.kind === 'mint' ? { type: 'deposit-mint', ...base, recipient: getBytes(user.address) }
        : op.kind === 'unclaimed' ? { type: 'deposit-unclaimed', ...base }
          : { type: 'deposit-refund', ...base, refundScript: payments.p2wpkh({ hash: Buffer.alloc(20, 7), network: networks.regtest }).output! };
      await deliverRecords(env, f, [rec]);
      await importAll(env, f);
      done.deposit++;
    } else if (op.t === 'withdraw') {
      const bal = (await f.d.btct.getFunction('balanceOf')(user.address)) as bigint;
      const amount = op.amount > bal ? bal : op.amount;
      if (amount <= 600n) return;
      const address = payments.p2wpkh({ hash: Buffer.alloc(20, seq++ % 250), network: networks.regtest }).address!;
      await waitReceipt(env.provider, await (f.d.bsh.connect(user) as Contract).getFunction('transferToForeign')(address, amount));
      done.withdraw++;
    } else if (op.t === 'close') {
      await closeIfPossible();
    } else if (op.t === 'bump') {
      // a bump needs a batch in flight: close one first when there is none
      if ((await c.getFunction('inFlight')()) === 0n) await closeIfPossible();
      const id = (await c.getFunction('inFlight')()) as bigint;
      if (id === 0n) return;
      await mine(env.provider, 2);
      try {
        await c.getFunction('bumpFee').staticCall(id);
      } catch {
        return; // BumpExceedsSurplus / BumpChangeBelowDust: the contract refuses
      }
      await waitReceipt(env.provider, await c.getFunction('bumpFee')(id));
      done.bump++;
    } else {
      const id = (await c.getFunction('inFlight')()) as bigint;
      if (id === 0n) return;
      const [, latest] = await c.getFunction('batchInfo')(id);
      await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: getBytes(latest.txid as string), batchId: id, btcHeight: 1 }]);
      done.confirm++;
    }
  }

  async function closeIfPossible(): Promise<void> {
    const c = f.d.payout;
    if ((await c.getFunction('inFlight')()) !== 0n) return;
    try {
      await c.getFunction('closeBatch').staticCall();
    } catch {
      return; // NothingToPay: no withdrawal fits
    }
    await waitReceipt(env.provider, await c.getFunction('closeBatch')());
    done.close++;
  }

  async function check(): Promise<void> {
    const l = (await f.d.payout.getFunction('ledgerTotal')()) as bigint;
    const supply = (await f.d.btct.getFunction('totalSupply')()) as bigint;
    const owed = ((await f.d.bsh.getFunction('withdrawnNetTotal')()) as bigint) - ((await f.d.payout.getFunction('settledWithdrawals')()) as bigint);
    expect(l).toBeGreaterThanOrEqual(supply);
    expect(l).toBeGreaterThanOrEqual(supply + owed);
    expect(await f.d.bsh.getFunction('paused')()).toBe(false);
  }

  it('holds for random operation sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 6, maxLength: 16 }), async (ops) => {
        const snap = await snapshot(env.provider);
        const saved = { height: f.height, state: f.fed.state, recorded: new Map(f.recorded) };
        try {
          for (const op of ops) {
            await apply(op);
            await check();
          }
        } finally {
          await revertTo(env.provider, snap);
          f.height = saved.height;
          f.fed.state = saved.state;
          f.recorded = saved.recorded;
        }
      }),
      { numRuns: 8, seed: 20261122, endOnFailure: true },
    );
    // the sequences reached every kind of operation (not only no-ops)
    for (const [k, v] of Object.entries(done)) expect(v, k).toBeGreaterThan(0);
  });
});
