import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Contract, Wallet, getBytes, hexlify, keccak256, parseEther, toUtf8Bytes } from 'ethers';
import { Transaction, payments } from 'bitcoinjs-lib';
import { encodeDepositOpReturn } from '../../src/chains/bitcoin/deposits.js';
import { federationScript, type FederationScript } from '../../src/chains/bitcoin/scripts.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { federationThreshold } from '../../src/node/devnet/deploy.js';
import { pino } from 'pino';
import { startHarness, waitFor, type Harness } from './harness.js';
import { epochInfo, freezeAndJumpClocks, joinExtraValidator, tipMedianTime, type ExtraNode } from './rotation-helpers.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 180_000 });

const EPOCH_DURATION_SEC = 60; // DEVNET_REGISTRY_PARAMS (the harness overrides only the activation margin)

/**
 * Epoch rotation end to end with live validators (docs/STATUS.md "known gaps"): a 5th validator
 * joins a running 4-validator federation; the next epoch is frozen and activates at the first
 * Bitcoin block whose MTP passes T; the BMV switches to the 5-validator set; a deposit to the new
 * 5-key script mints, a withdrawal is paid with change to that script; then a validator exits and
 * the set shrinks back to 4.
 */
describe('epoch rotation with live validators: join, sweep to the new script, transfers, exit', () => {
  let h: Harness;
  let fifth: ExtraNode | undefined;
  let user: Wallet;
  let script1: FederationScript;
  let script2: FederationScript;
  const compressed = (addr: string, keys: Map<string, string>): Uint8Array => getBytes(new Wallet(keys.get(addr.toLowerCase())!).signingKey.compressedPublicKey);
  const keyOf = new Map<string, string>();
  const logLines: string[] = [];

  beforeAll(async () => {
    // warnings and errors of every module, and the payout module's decisions (info), for the report below
    const keep = (line: string): boolean => !line.includes('"level":30') || line.includes('"module":"payouts"');
    h = await startHarness({ validators: 4, confirmations: 2, logger: pino({ level: 'info' }, { write: (line: string) => void (keep(line) && logLines.push(line)) }) });
    await Promise.all(h.nodes.map((_, i) => h.startNode(i)));
    for (const x of h.nodes) keyOf.set(x.address, x.signingKey);
    user = new Wallet(keccak256(toUtf8Bytes('e2e-rotation-user')), h.provider);
    const admin = new Wallet(h.chain.accounts[0]!, h.provider);
    await waitReceipt(h.provider, await admin.sendTransaction({ to: user.address, value: parseEther('10') }));
  });
  afterAll(async () => {
    const codes = new Map<string, number>();
    for (const l of logLines) {
      const m = /"code":"([A-Z_]+)"/.exec(l) ?? /"msg":"([^"]{0,80})/.exec(l);
      if (m) codes.set(m[1]!, (codes.get(m[1]!) ?? 0) + 1);
    }
    console.log('warnings/errors by code:', JSON.stringify([...codes]));
    await fifth?.stop();
    await h?.stop();
  });

  const registry = (): Contract => h.deployed.registry;
  const setOf = async (epoch: number): Promise<string[]> => ((await registry().getFunction('epochValidators')(BigInt(epoch))) as string[]).map((a) => a.toLowerCase());

  async function depositTo(script: FederationScript, recipient: string, sats: bigint): Promise<void> {
    await h.faucet.send([
      { script: encodeDepositOpReturn({ recipient: getBytes(recipient) }), valueSats: 0n },
      { script: script.p2wshOutput, valueSats: sats },
    ]);
    await h.mine(2);
  }

  /** Mines Bitcoin blocks (bcoin's clock already past T) until the registry's current epoch is `epoch`. */
  async function mineUntilActive(epoch: number, activationMtp: number): Promise<void> {
    let mined = 0;
    await waitFor(async () => {
      if (Number(await registry().getFunction('currentEpoch')()) === epoch) return true;
      if (mined < 30) {
        await h.mine(1);
        mined++;
      }
      return false;
    }, 120_000, `epoch ${epoch} to activate (T = ${activationMtp})`, 500);
    expect(await tipMedianTime(h)).toBeGreaterThanOrEqual(activationMtp);
  }

  it('deposit + mint with the 4 genesis validators', async () => {
    await h.deposit(user.address, 400_000n);
    await h.mine(2);
    await waitFor(async () => (await h.balance(user.address)) === 400_000n, 60_000, 'first deposit minted');
    expect(Number(await registry().getFunction('currentEpoch')())).toBe(0);
    expect(await setOf(0)).toHaveLength(4);
  });

  it('a 5th validator joins; the frozen epoch 1 activates on Bitcoin; the BMV switches to 5 validators', async () => {
    fifth = await joinExtraValidator(h, h.nodes.length + 1, 'e2e-validator-joiner');
    keyOf.set(fifth.address, fifth.signingKey);
    await waitFor(() => h.nodes[0]!.validator!.services.p2p.status().allowlistSize === 5, 20_000, 'the allowlist to include the joiner');

    const { epoch, activationMtp } = await freezeAndJumpClocks(h, EPOCH_DURATION_SEC);
    expect(epoch).toBe(1);
    const set1 = await setOf(1);
    expect(set1).toHaveLength(5);
    expect(set1).toContain(fifth.address);

    await mineUntilActive(1, activationMtp);
    const info = await epochInfo(registry(), 1);
    expect(info.active).toBe(true);
    const changed = await h.bmv.queryFilter(h.bmv.filters['ValidatorSetChanged']!());
    const last = h.bmv.interface.parseLog(changed.at(-1)!)!;
    expect(Number(last.args[1])).toBe(1);
    expect((last.args[3] as string[]).map((a) => a.toLowerCase())).toEqual(set1);
    // the BTP block b that carried NextProofContext was the old set's last (CONSENSUS.md §2.3)
    const b = Number(info.activationBtcHeight);
    expect(Number(last.args[2])).toBeGreaterThanOrEqual(b);
    const carrier = await h.bmv.queryFilter(h.bmv.filters['BlockAccepted']!(BigInt(Number(last.args[2]) - 1)));
    expect(carrier).toHaveLength(1);
    expect(h.bmv.interface.parseLog(carrier[0]!)!.args[4] as bigint).toBe((last.args[0] as bigint) - 1n);
    console.log(`epoch 1: BMV fromHeight ${Number(last.args[2])}, registry activationBtcHeight ${b}`);

    script1 = federationScript({ keys: set1.map((a) => compressed(a, keyOf)), threshold: federationThreshold(5), epoch: 1 });
  });

  // Regression (fixed in BtpMessageVerifier._switchSet): the BMV used to activate the registry
  // epoch at the MainHeight of the block carrying NextProofContext, one below the height the
  // validators derive (CONSENSUS.md §2.3), and every validator halted with
  // CONSENSUS_ACTIVATION_MISMATCH at the first height after the relay.
  it('after the rotation the validators keep deriving: the registry\'s activation height is the BMV\'s fromHeight', async () => {
    const changed = await h.bmv.queryFilter(h.bmv.filters['ValidatorSetChanged']!());
    const last = h.bmv.interface.parseLog(changed.at(-1)!)!;
    expect(Number((await epochInfo(registry(), 1)).activationBtcHeight)).toBe(Number(last.args[2]));
  });

  it('after the rotation a deposit to the 5-key script mints, signed by the new set; a withdrawal is paid with change to that script', async () => {
    const before = await h.balance(user.address);
    await depositTo(script1, user.address, 300_000n);
    await waitFor(async () => (await h.balance(user.address)) === before + 300_000n, 90_000, 'deposit to the epoch-1 script minted');
    // the BTP block that minted it was accepted with signatures of epoch 1's set
    const height = Number(await h.bmv.getFunction('getHeight')());
    expect(height).toBeGreaterThanOrEqual(Number((await epochInfo(registry(), 1)).activationBtcHeight));
    const accepted = await h.bmv.queryFilter(h.bmv.filters['BlockAccepted']!(BigInt(height)));
    expect(accepted).toHaveLength(1);
    const acc = h.bmv.interface.parseLog(accepted[0]!)!;
    const changed = await h.bmv.queryFilter(h.bmv.filters['ValidatorSetChanged']!());
    const set1Id = (changed.map((l) => h.bmv.interface.parseLog(l)!).find((l) => Number(l.args[1]) === 1)!.args[0]) as bigint;
    expect(acc.args[4]).toBe(set1Id);
    expect(Number(acc.args[3])).toBeGreaterThanOrEqual(federationThreshold(5));
    expect(acc.args[2] as bigint).toBeLessThan(1n << 5n); // bitmap over the 5-validator ProofContext
    await waitFor(async () => (await fifth!.validator.status()).btp.lastSignedHeight >= height, 30_000, 'the joiner to sign the block');

    // withdrawal
    const payeeKey = new Wallet(keccak256(toUtf8Bytes('e2e-rotation-payee')));
    const payee = payments.p2wpkh({ pubkey: Buffer.from(getBytes(payeeKey.signingKey.compressedPublicKey)), network: h.btc.network });
    const payout = h.deployed.bridge.payout;
    const fromBlock = await h.provider.getBlockNumber();
    await waitReceipt(h.provider, await (h.deployed.bridge.bsh.connect(user) as Contract).getFunction('transferToForeign')(payee.address!, 200_000n));
    const paid = await waitFor(async () => {
      const logs = await payout.queryFilter(payout.filters['BatchConfirmed']!(), fromBlock);
      for (const l of logs) {
        const txid = Buffer.from(getBytes(payout.interface.parseLog(l)!.args[2] as string)).reverse().toString('hex');
        const tx = Transaction.fromHex(await h.btc.rpc.getRawTransaction(txid));
        if (tx.outs.some((o) => Buffer.from(o.script).equals(Buffer.from(payee.output!)))) return { tx, batchId: payout.interface.parseLog(l)!.args[0] as bigint };
      }
      await h.mine(1);
      return undefined;
    }, 150_000, 'the withdrawal to be paid and confirmed', 1_000);
    const out = paid.tx.outs.find((o) => Buffer.from(o.script).equals(Buffer.from(payee.output!)))!;
    expect(out.value > 0 && out.value <= 200_000).toBe(true);
    // the change goes to epoch 1's P2WSH, the script the coordinator built for epoch 1
    expect(await h.deployed.bridge.epochScripts.getFunction('epochScript')(1n)).toBe(hexlify(script1.witnessScript));
    expect(paid.tx.outs.some((o) => hexlify(o.script) === hexlify(script1.p2wshOutput))).toBe(true);
    // witnesses recorded by validators of the new set, the joiner among the possible signers
    const witnesses = await payout.queryFilter(payout.filters['WitnessRecorded']!(paid.batchId));
    const wSigners = new Set(witnesses.map((l) => (payout.interface.parseLog(l)!.args[2] as string).toLowerCase()));
    expect(wSigners.size).toBeGreaterThanOrEqual(federationThreshold(4));
    const set1 = await setOf(1);
    const operatorsOfSet1 = new Set([...h.nodes.map((x) => x.operator.address.toLowerCase()), fifth!.operator.address.toLowerCase(), ...set1]);
    for (const s of wSigners) expect(operatorsOfSet1.has(s)).toBe(true);
  });

  it('a validator exits: epoch 2 is frozen without it, activates, and the set is back to 4', async () => {
    const leaver = h.nodes[3]!;
    await waitReceipt(h.provider, await (registry().connect(new Wallet(leaver.operator.privateKey, h.provider)) as Contract).getFunction('unstake')());
    const { epoch, activationMtp } = await freezeAndJumpClocks(h, EPOCH_DURATION_SEC);
    expect(epoch).toBe(2);
    const set2 = await setOf(2);
    expect(set2).toHaveLength(4);
    expect(set2).not.toContain(leaver.address);
    expect(set2).toContain(fifth!.address);
    await mineUntilActive(2, activationMtp);
    const changed = await h.bmv.queryFilter(h.bmv.filters['ValidatorSetChanged']!());
    const last = h.bmv.interface.parseLog(changed.at(-1)!)!;
    expect(Number(last.args[1])).toBe(2);
    expect((last.args[3] as string[]).map((a) => a.toLowerCase())).toEqual(set2);

    // and a deposit to epoch 2's script still mints
    script2 = federationScript({ keys: set2.map((a) => compressed(a, keyOf)), threshold: federationThreshold(4), epoch: 2 });
    const before = await h.balance(user.address);
    await depositTo(script2, user.address, 150_000n);
    await waitFor(async () => (await h.balance(user.address)) === before + 150_000n, 90_000, 'deposit to the epoch-2 script minted');

  });

  it('after the exit, closeSweep moves the older epochs\' coins to epoch 2\'s script: the live validators sign, approve, broadcast; it confirms', async () => {
    const payout = h.deployed.bridge.payout;
    const fromBlock = await h.provider.getBlockNumber();
    // The validator that left is gone: the old inputs must reach their epoch's quorum without it.
    const leaver = h.nodes[3]!;
    await h.stopNode(3);
    // closeSweep refuses while deposits are not imported or a batch is in flight: the keepers catch up (bounded)
    await waitFor(async () => {
      try {
        await payout.getFunction('closeSweep').staticCall();
        return true;
      } catch (e) {
        if (/DepositsNotImported|BatchInFlight/.test(String((e as Error).message) + JSON.stringify((e as { data?: unknown }).data ?? ''))) return false;
        const data = (e as { data?: string }).data;
        const parsed = typeof data === 'string' ? payout.interface.parseError(data) : null;
        if (parsed && (parsed.name === 'DepositsNotImported' || parsed.name === 'BatchInFlight')) return false;
        throw e;
      }
    }, 60_000, 'closeSweep to be callable (deposits imported, nothing in flight)', 500);
    const closer = new Wallet(h.chain.accounts[0]!, h.provider);
    const rcpt = await waitReceipt(h.provider, await (payout.connect(closer) as Contract).getFunction('closeSweep')());
    const closed = rcpt.logs.map((l) => { try { return payout.interface.parseLog(l); } catch { return null; } }).find((l) => l?.name === 'BatchClosed')!;
    const batchId = closed.args[0] as bigint;
    const sweepTx = Transaction.fromHex((closed.args[3] as string).slice(2));
    const sweepTxid = sweepTx.getId();
    const inputs = await payout.getFunction('batchInputs')(batchId) as unknown[];
    console.log(`sweep batch ${batchId}: txid ${sweepTxid}, ${sweepTx.ins.length} inputs, inputs view ${JSON.stringify(inputs, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
    expect(sweepTx.outs).toHaveLength(2);
    expect(hexlify(sweepTx.outs[0]!.script)).toBe(hexlify(script2.p2wshOutput));
    const [, , , epochs] = inputs as [string[], bigint[], bigint[], bigint[]];
    expect(epochs.every((e) => Number(e) < 2)).toBe(true); // only older epochs' coins (the reserve rides along)

    const approvedLog = async (): Promise<unknown> => (await payout.queryFilter(payout.filters['BatchApproved']!(batchId), fromBlock))[0];
    try {
      await waitFor(approvedLog, 120_000, `sweep batch ${batchId} to be approved on chain`, 1_000);
    } catch (e) {
      const lines = logLines.filter((l) => l.includes('"module":"payouts"') || l.includes('"level":50'));
      console.log(`payout decisions (${lines.length} lines):\n${lines.slice(-80).join('')}`);
      throw e;
    }
    // broadcast by a validator (in the mempool or mined), then mined and confirmed at depth k by a BTP block
    await waitFor(async () => {
      try {
        await h.btc.rpc.getRawTransaction(sweepTxid);
        return true;
      } catch {
        return false;
      }
    }, 60_000, 'the sweep to be broadcast to Bitcoin', 500);
    const confirmed = await waitFor(async () => {
      const logs = await payout.queryFilter(payout.filters['BatchConfirmed']!(batchId), fromBlock);
      if (logs.length > 0) return logs[0];
      await h.mine(1);
      return undefined;
    }, 120_000, `sweep batch ${batchId} to be confirmed`, 1_000);
    const txidOnChain = Buffer.from(getBytes(payout.interface.parseLog(confirmed)!.args[2] as string)).reverse().toString('hex');
    const mined = Transaction.fromHex(await h.btc.rpc.getRawTransaction(txidOnChain));
    expect(mined.outs[0]!.value).toBe(sweepTx.outs[0]!.value);
    expect(hexlify(mined.outs[0]!.script)).toBe(hexlify(script2.p2wshOutput));
    expect(mined.ins.map((i) => `${Buffer.from(i.hash).reverse().toString('hex')}:${i.index}`)).toEqual(sweepTx.ins.map((i) => `${Buffer.from(i.hash).reverse().toString('hex')}:${i.index}`));
    expect(await payout.getFunction('inFlight')()).toBe(0n);
    // the sweep's output is the new reserve, locked by epoch 2's script
    const [reserveNow] = (await payout.getFunction('ledgerUtxos')(0n, 1n)) as { txid: string; word: bigint }[];
    expect(Buffer.from(getBytes(reserveNow!.txid)).reverse().toString('hex')).toBe(txidOnChain);
    expect(Number((BigInt(reserveNow!.word) >> 64n) & 0xffffffffn)).toBe(2);
    // every old input reached its own epoch's quorum, signed by members of that epoch still running (not the leaver)
    const scriptOf = new Map<number, FederationScript>([[1, script1]]);
    const recorded = (await payout.queryFilter(payout.filters['WitnessRecorded']!(batchId), fromBlock)).map((l) => payout.interface.parseLog(l)!);
    for (const [i, e] of epochs.entries()) {
      const members = await setOf(Number(e));
      const signers = new Set(recorded.filter((r) => (r.args[3] as { input: bigint }[]).some((x) => Number(x.input) === i)).map((r) => (r.args[2] as string).toLowerCase()));
      for (const sgn of signers) expect(members).toContain(sgn);
      expect(signers.has(leaver.address)).toBe(false);
      expect(signers.size).toBeGreaterThanOrEqual(scriptOf.get(Number(e))?.threshold ?? federationThreshold(members.length));
    }
  });
});
