import { Block, Transaction, payments, type Network } from 'bitcoinjs-lib';
import { BridgeError } from '../../../errors.js';
import type { BitcoinRpcClient } from '../rpc.js';
import { publicKeyOf, signSighash } from '../signer.js';
import { equalBytes } from '../bytes.js';
import { txidToInternal } from '../payout.js';

/** bcoin (and Core) regtest: segwit and CSV are active from height 432 (3 BIP-9 windows of 144). */
export const REGTEST_SEGWIT_HEIGHT = 432;
/** Coinbase outputs are spendable after 100 confirmations (consensus COINBASE_MATURITY). */
export const COINBASE_MATURITY = 100;

export interface FaucetCoin {
  readonly txid: string;
  readonly vout: number;
  readonly valueSats: bigint;
}

export interface SentOutput {
  readonly txid: string;
  readonly vout: number;
  readonly valueSats: bigint;
  readonly outputScript: Uint8Array;
}

export interface SendResult {
  readonly txid: string;
  readonly hex: string;
  readonly outputs: readonly SentOutput[];
}

/**
 * A regtest wallet whose key is held by the caller: mines to its own
 * P2WPKH address, remembers the coinbases, and pays arbitrary outputs with
 * transactions built and signed through bitcoinjs-lib (BIP-143 P2WPKH).
 */
export class RegtestFaucet {
  readonly address: string;
  readonly outputScript: Uint8Array;
  readonly #rpc: BitcoinRpcClient;
  readonly #privateKey: Uint8Array;
  readonly #publicKey: Uint8Array;
  /** Blocks mined to us whose coinbase we have not looked at yet, oldest first. */
  readonly #coinbaseBlocks: { hash: string; height: number }[] = [];
  /** Spendable coins (matured coinbases already fetched, and our own change). */
  readonly #coins: FaucetCoin[] = [];
  /** Fee rate used for faucet transactions, sat/vB. */
  feeRateSatPerVb = 5n;

  constructor(rpc: BitcoinRpcClient, network: Network, privateKey: Uint8Array) {
    this.#rpc = rpc;
    this.#privateKey = privateKey;
    this.#publicKey = publicKeyOf(privateKey);
    const p = payments.p2wpkh({ pubkey: this.#publicKey, network });
    this.address = p.address!;
    this.outputScript = p.output!;
  }

  /** Mines until segwit/CSV are active and some coinbases have matured (the node judges segwit spends only then). */
  async bootstrap(minHeight = REGTEST_SEGWIT_HEIGHT + 20): Promise<void> {
    const height = await this.#rpc.getBlockCount();
    if (height < minHeight) await this.mine(minHeight - height);
  }

  /** Mines `n` blocks to the faucet address and returns their hashes. */
  async mine(n: number): Promise<string[]> {
    const start = await this.#rpc.getBlockCount();
    const hashes = await this.#rpc.generateToAddress(n, this.address);
    hashes.forEach((hash, i) => this.#coinbaseBlocks.push({ hash, height: start + 1 + i }));
    return hashes;
  }

  /** Mines `n` blocks to some other address (e.g. to confirm without growing the faucet). */
  async mineTo(address: string, n: number): Promise<string[]> {
    return this.#rpc.generateToAddress(n, address);
  }

  /**
   * Pays `outputs` (in this order) from one faucet coin, change last.
   * Returns the broadcast transaction; the node's rejection is a BridgeError.
   */
  async send(outputs: readonly { script: Uint8Array; valueSats: bigint }[]): Promise<SendResult> {
    const need = outputs.reduce((s, o) => s + o.valueSats, 0n);
    const coin = await this.#takeCoin(need + 100_000n);
    const build = (fee: bigint): Transaction => {
      const tx = new Transaction();
      tx.version = 2;
      tx.addInput(txidToInternal(coin.txid), coin.vout, 0xfffffffe);
      for (const o of outputs) tx.addOutput(o.script, o.valueSats);
      tx.addOutput(this.outputScript, coin.valueSats - need - fee);
      const scriptCode = payments.p2pkh({ pubkey: this.#publicKey }).output!;
      const sighash = tx.hashForWitnessV0(0, scriptCode, coin.valueSats, Transaction.SIGHASH_ALL);
      tx.setWitness(0, [signSighash(sighash, this.#privateKey).der, this.#publicKey]);
      return tx;
    };
    const draft = build(0n);
    const tx = build(BigInt(draft.virtualSize()) * this.feeRateSatPerVb);
    const hex = tx.toHex();
    let txid: string;
    try {
      txid = await this.#rpc.sendRawTransaction(hex);
    } catch (e) {
      this.#coins.unshift(coin);
      throw e;
    }
    const change = tx.outs.length - 1;
    this.#coins.push({ txid, vout: change, valueSats: tx.outs[change]!.value });
    return { txid, hex, outputs: tx.outs.map((o, vout) => ({ txid, vout, valueSats: o.value, outputScript: o.script })) };
  }

  async #takeCoin(minValue: bigint): Promise<FaucetCoin> {
    const idx = this.#coins.findIndex((c) => c.valueSats >= minValue);
    if (idx >= 0) return this.#coins.splice(idx, 1)[0]!;
    const tip = await this.#rpc.getBlockCount();
    // Bounded: at most every block mined to us is examined once.
    while (this.#coinbaseBlocks.length > 0 && this.#coinbaseBlocks[0]!.height + COINBASE_MATURITY <= tip) {
      const { hash } = this.#coinbaseBlocks.shift()!;
      const block = Block.fromHex(await this.#rpc.getBlockHex(hash));
      const cb = block.transactions![0]!;
      cb.outs.forEach((o, vout) => {
        if (equalBytes(o.script, this.outputScript) && o.value >= minValue) this.#coins.push({ txid: cb.getId(), vout, valueSats: o.value });
      });
      const found = this.#coins.findIndex((c) => c.valueSats >= minValue);
      if (found >= 0) return this.#coins.splice(found, 1)[0]!;
    }
    throw new BridgeError({ code: 'BTC_FAUCET_EMPTY', minValue, hint: 'mine more blocks to the faucet' });
  }
}
