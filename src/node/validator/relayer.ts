import { Interface, hexlify } from 'ethers';
import { loadArtifact } from '../../chains/ethereum/artifacts.js';
import type { EthRpc } from '../../chains/ethereum/rpc/client.js';
import type { SubmissionHandle, TxSender } from '../../chains/ethereum/sender/sender.js';
import type { Logger } from '../logger.js';

/**
 * Submits BTP relay messages to the home BMC through the crash-safe
 * `TxSender`: one idempotency key per height (`relay:<height>[:part]`), and
 * `alreadyDone` asks the BMV whether the height is accepted (eth_call), so a
 * node that restarts or loses the rotation race sends nothing twice.
 */
export interface RelayerOptions {
  rpc: EthRpc;
  sender: TxSender;
  bmc: string;
  bmv: string;
  /** The source BMC's BTP address (`handleRelayMessage(prev, …)`), the genesis `srcBtpAddress`. */
  prev: string;
  log: Logger;
}

export class Relayer {
  readonly #o: RelayerOptions;
  readonly #bmc = new Interface(loadArtifact('BtpMessageCenter').abi);
  readonly #bmv = new Interface(loadArtifact('BtpMessageVerifier').abi);

  constructor(opts: RelayerOptions) {
    this.#o = opts;
  }

  /** The BMV's last accepted BTP height. */
  async bmvHeight(): Promise<number> {
    const out = await this.#o.rpc.call({ to: this.#o.bmv, data: this.#bmv.encodeFunctionData('getHeight') });
    return Number(this.#bmv.decodeFunctionResult('getHeight', out)[0] as bigint);
  }

  /**
   * Submits one relay message of `height`. Resolves once the transaction is signed and recorded
   * (the sender broadcasts and follows it); throws when the gas estimate reverts (e.g. the
   * previous block is not accepted yet), which records nothing.
   */
  async submit(height: number, part: number, relayMessage: Uint8Array): Promise<SubmissionHandle> {
    const key = part === 0 ? `relay:${height}` : `relay:${height}:${part}`;
    const h = await this.#o.sender.submit({
      key,
      to: this.#o.bmc,
      data: this.#bmc.encodeFunctionData('handleRelayMessage', [this.#o.prev, hexlify(relayMessage)]),
      alreadyDone: async () => (await this.bmvHeight()) >= height && part === 0,
    });
    this.#o.log.info({ height, key }, 'relay submitted');
    return h;
  }
}
