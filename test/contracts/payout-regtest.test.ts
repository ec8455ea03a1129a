// End to end on both real chains: federation UTXOs funded on bcoin regtest and recorded on the
// home contract through BTP messages; the coordinator closes the batch, validators' witness
// signatures are recorded on chain; the node reads them back from the WitnessRecorded events,
// assembles the transaction (assemblePayout) and bcoin accepts and mines it; the confirmation
// settles the batch on the home chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction, payments, script as bscript } from 'bitcoinjs-lib';
import { getBytes, hexlify, type Result } from 'ethers';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { federationScript, type FederationScript } from '../../src/chains/bitcoin/scripts.js';
import { type FederationUtxo } from '../../src/chains/bitcoin/payout.js';
import { assemblePayout, signPayoutInputs } from '../../src/chains/bitcoin/payout-signing.js';
import { BITCOIN_ADDRESS_PARAMS } from '../../src/chains/ethereum/contracts.js';
import { witnessSigArg } from '../../src/chains/ethereum/bindings.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { fundFederation, startRegtest, type Regtest } from '../fixtures/bitcoin/regtest.js';
import { testKeys as btcKeys } from '../fixtures/bitcoin/keys.js';
import { deliverRecords, eventsOf, importAll, setupPayout, startEnv, stopEnv, type Env, type PayoutFixture } from './helpers.js';

const N = 4;
const M = N / 2 + 1;
const internal = (display: string): Uint8Array => Uint8Array.from(Buffer.from(display, 'hex').reverse());

describe('payout batch signed on the home contract, mined by bcoin regtest', () => {
  let env: Env;
  let rt: Regtest;
  let f: PayoutFixture;
  let script0: FederationScript;

  beforeAll(async () => {
    rt = await startRegtest();
    env = await startEnv(2 + N + 2);
    f = await setupPayout(env, N, { bitcoin: BITCOIN_ADDRESS_PARAMS['bcoin-regtest'], payout: { feeRateSatPerKvB: 2_000n } });
    script0 = federationScript({ keys: f.signingKeys.map((k) => secp256k1.getPublicKey(getBytes(k), true)), threshold: M, epoch: 0 });
  });
  afterAll(async () => {
    await stopEnv(env);
    await rt?.node.stop();
  });

  it('quorum witnesses recorded on chain, read back from events, assembled and mined; the confirmation settles the batch', async () => {
    const user = env.wallets[2 + N]!;
    // the federation's coins on Bitcoin: the bootstrap reserve and two deposits (P2WSH, P2SH-P2WSH)
    const reserve = await fundFederation(rt, script0, 'p2wsh', 20_000n);
    const d1 = await fundFederation(rt, script0, 'p2wsh', 300_000n);
    const d2 = await fundFederation(rt, script0, 'p2sh-p2wsh', 200_000n);
    await waitReceipt(env.provider, await f.d.payout.getFunction('initReserve')(hexlify(internal(reserve.txid)), reserve.vout, reserve.amountSats, 0));
    for (const d of [d1, d2]) {
      await deliverRecords(env, f, [{ type: 'deposit-mint', txid: internal(d.txid), vout: d.vout, amountSats: d.amountSats, epoch: 0, recipient: getBytes(user.address), ...(d.kind === 'p2sh-p2wsh' ? { outputKind: 'p2sh-p2wsh' as const } : {}) }]);
    }
    await importAll(env, f);
    // a withdrawal to a bcoin-regtest address
    const payee = payments.p2wpkh({ pubkey: btcKeys(1, 'payee')[0]!.publicKey, network: rt.node.network });
    const bsh = f.d.bsh.connect(user);
    await waitReceipt(env.provider, await bsh.getFunction('transferToForeign')(payee.address!, 450_000n));
    const closed = await waitReceipt(env.provider, await f.d.payout.getFunction('closeBatch')());
    const [ev] = eventsOf(f.d.payout, closed, 'BatchClosed');
    const batchId = ev![0] as bigint;
    const unsigned = Transaction.fromHex((ev![3] as string).slice(2));

    // the inputs, as the node re-derives them from the contract's view
    const [txids, vouts, amounts] = (await f.d.payout.getFunction('batchInputs')(batchId)) as Result;
    const known = [reserve, d1, d2];
    const inputs: FederationUtxo[] = (txids as string[]).map((t, i) => {
      const u = known.find((k) => hexlify(internal(k.txid)) === t && k.vout === Number(vouts[i]))!;
      expect(u.amountSats).toBe(amounts[i]);
      return u;
    });
    expect(inputs.map((u) => u.kind)).toEqual(['p2wsh', 'p2wsh', 'p2sh-p2wsh']);

    // M validators each submit their own signatures (Terra-Bridge style)
    for (let k = 0; k < M; k++) {
      const sigs = signPayoutInputs(unsigned, inputs, getBytes(f.signingKeys[k]!)).map(witnessSigArg);
      await waitReceipt(env.provider, await f.d.payout.getFunction('submitSignature')(batchId, 0, sigs));
    }
    const approvals = await f.d.payout.queryFilter(f.d.payout.filters['BatchApproved']!(batchId));
    expect(approvals).toHaveLength(1);

    // any validator: read the witnesses back from the events and assemble
    const logs = await f.d.payout.queryFilter(f.d.payout.filters['WitnessRecorded']!(batchId));
    const collected = new Map<number, Map<number, Uint8Array>>();
    for (const log of logs) {
      const parsed = f.d.payout.interface.parseLog(log)!;
      expect(parsed.args[1]).toBe(0n);
      for (const s of parsed.args[3] as Result[]) {
        const compact = Buffer.concat([Buffer.from(getBytes(s[3] as string)), Buffer.from(getBytes(s[4] as string))]);
        const der = bscript.signature.encode(compact, 1);
        const input = Number(s[0]);
        if (!collected.has(input)) collected.set(input, new Map());
        collected.get(input)!.set(Number(s[1]), der);
      }
    }
    const signed = assemblePayout(unsigned, inputs, collected);
    const txid = await rt.node.rpc.sendRawTransaction(signed.toHex());
    expect(`0x${Buffer.from(txid, 'hex').reverse().toString('hex')}`).toBe(ev![2]);
    expect(await rt.node.rpc.getMempoolEntry(txid)).toBeDefined();
    await rt.faucet.mine(1);
    expect(await rt.node.rpc.getMempoolEntry(txid)).toBeUndefined();
    const paid = await rt.node.rpc.getTxOut(txid, 1);
    expect(paid?.confirmations).toBe(1);
    expect(paid?.valueSats).toBeLessThan(450_000n);

    // the BTP block for that height carries PAYOUT_CONFIRMED: the change becomes the reserve
    const height = await rt.node.rpc.getBlockCount();
    const r = await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: internal(txid), batchId, btcHeight: height }]);
    expect(eventsOf(f.d.payout, r, 'BatchConfirmed')).toHaveLength(1);
    const [res] = (await f.d.payout.getFunction('ledgerUtxos')(0, 1)) as Result;
    expect(res.txid).toBe(ev![2]);
    const change = await rt.node.rpc.getTxOut(txid, 0);
    expect(BigInt.asUintN(64, res.word as bigint)).toBe(change!.valueSats);
  });
});
