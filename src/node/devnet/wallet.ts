/**
 * The demo's Bitcoin user: a P2WPKH key with a list of coins it knows about (funded by the devnet
 * at start). Pays arbitrary outputs from one unspent coin (change back to itself) and finds the
 * outputs later blocks pay to it. Regtest only; no coin selection beyond "first coin big enough".
 */
import { Block, Transaction, payments, type Network } from 'bitcoinjs-lib';
import { BridgeError } from '../../errors.js';
import { equalBytes } from '../../chains/bitcoin/bytes.js';
import { txidToInternal } from '../../chains/bitcoin/payout.js';
import type { BitcoinRpcClient } from '../../chains/bitcoin/rpc.js';
import { publicKeyOf, signSighash } from '../../chains/bitcoin/signer.js';

export interface WalletCoin {
  txid: string;
  vout: number;
  valueSats: bigint;
}

export class DemoWallet {
  readonly address: string;
  readonly outputScript: Uint8Array;
  readonly #publicKey: Uint8Array;
  feeRateSatPerVb = 5n;

  constructor(
    readonly rpc: BitcoinRpcClient,
    network: Network,
    readonly privateKey: Uint8Array,
    readonly coins: WalletCoin[] = [],
  ) {
    this.#publicKey = publicKeyOf(privateKey);
    const p = payments.p2wpkh({ pubkey: this.#publicKey, network });
    this.address = p.address!;
    this.outputScript = p.output!;
  }

  /** Sum of the known coins still unspent (confirmed or in the mempool). */
  async balance(): Promise<bigint> {
    let sum = 0n;
    for (const c of this.coins) {
      const out = await this.rpc.getTxOut(c.txid, c.vout, true);
      if (out !== undefined) sum += out.valueSats;
    }
    return sum;
  }

  /** Pays `outputs` in order from the first unspent coin that covers them, change last. */
  async send(outputs: readonly { script: Uint8Array; valueSats: bigint }[]): Promise<{ txid: string; fee: bigint }> {
    const need = outputs.reduce((s, o) => s + o.valueSats, 0n);
    let coin: WalletCoin | undefined;
    for (const c of this.coins) {
      if (c.valueSats < need + 10_000n) continue;
      if ((await this.rpc.getTxOut(c.txid, c.vout, true)) !== undefined) {
        coin = c;
        break;
      }
    }
    if (coin === undefined) {
      throw new BridgeError({ code: 'DEMO_WALLET_EMPTY', message: `the demo wallet ${this.address} has no unspent coin of ${need + 10_000n} sat or more (restart the devnet with --reset)` });
    }
    const c = coin;
    const scriptCode = payments.p2pkh({ pubkey: this.#publicKey }).output!;
    const build = (fee: bigint): Transaction => {
      const tx = new Transaction();
      tx.version = 2;
      tx.addInput(txidToInternal(c.txid), c.vout, 0xfffffffe);
      for (const o of outputs) tx.addOutput(o.script, o.valueSats);
      tx.addOutput(this.outputScript, c.valueSats - need - fee);
      const sighash = tx.hashForWitnessV0(0, scriptCode, c.valueSats, Transaction.SIGHASH_ALL);
      tx.setWitness(0, [signSighash(sighash, this.privateKey).der, this.#publicKey]);
      return tx;
    };
    const fee = BigInt(build(0n).virtualSize()) * this.feeRateSatPerVb;
    const tx = build(fee);
    const txid = await this.rpc.sendRawTransaction(tx.toHex());
    this.coins.push({ txid, vout: tx.outs.length - 1, valueSats: tx.outs[tx.outs.length - 1]!.value });
    return { txid, fee };
  }

  /** Outputs paying this wallet in blocks `from..to` (inclusive), excluding transactions in `exclude`. */
  async scanReceived(from: number, to: number, exclude: ReadonlySet<string> = new Set()): Promise<WalletCoin[]> {
    const found: WalletCoin[] = [];
    for (let h = from; h <= to; h++) {
      const block = Block.fromHex(await this.rpc.getBlockHex(await this.rpc.getBlockHash(h)));
      for (const tx of block.transactions ?? []) {
        const txid = tx.getId();
        if (exclude.has(txid)) continue;
        tx.outs.forEach((o, vout) => {
          if (equalBytes(o.script, this.outputScript)) found.push({ txid, vout, valueSats: o.value });
        });
      }
    }
    return found;
  }
}
