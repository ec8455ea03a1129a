/**
 * The federation's genesis file: what every validator needs to derive the same BTP blocks from the
 * first Bitcoin height on. Fixed when the federation is deployed (`fednode devnet` writes it; a
 * public federation publishes it next to its config preset), like a blockchain client's genesis.
 * The node checks it against the contracts at start (addresses, chain id, the BMV's first header).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BridgeError } from '../../errors.js';

const hex = z.string().regex(/^0x([0-9a-f]{2})*$/, { message: 'expected lowercase 0x-hex bytes' });
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, { message: 'expected a 0x-prefixed 20-byte address' });
const txid = z.string().regex(/^[0-9a-f]{64}$/, { message: 'expected a 64-character display txid' });

export const genesisSchema = z
  .object({
    format: z.literal('fednode-genesis'),
    version: z.literal(1),
    /** Config `network` name (gossip topics). */
    network: z.string().min(1),
    /** Home (EVM) chain id. */
    chainId: z.number().int().min(1),
    contracts: z
      .object({ staking: address, bmc: address, bmv: address, bsh: address, btct: address, payout: address.optional() })
      .strict(),
    /** `0x<id>.btc` (docs/BTP.md). */
    srcNetworkUid: z.string().min(1),
    networkTypeId: z.number().int().min(0),
    networkId: z.number().int().min(0),
    /** BTPMessage `src`: the BMC link's `prev`, e.g. `btp://0x10.btc/federation`. */
    srcBtpAddress: z.string().min(1),
    /** BTPMessage `dst`: the home BMC's BTP address. */
    dstBtpAddress: z.string().min(1),
    /** The BTPBlockHeader given to the BMV's constructor (its NextProofContext is epoch 0's set). */
    firstBlockHeader: hex,
    bitcoin: z
      .object({
        network: z.enum(['mainnet', 'testnet', 'signet', 'regtest']),
        /** First Bitcoin height derived (epoch 0 is current from here). */
        startHeight: z.number().int().min(0),
        /** The bootstrap reserve (funded by the operators, never minted), or null. */
        reserve: z
          .object({ txid, vout: z.number().int().min(0), amount: z.number().int().min(546), epoch: z.number().int().min(0), kind: z.enum(['p2wsh', 'p2sh-p2wsh']) })
          .strict()
          .nullable(),
      })
      .strict(),
    /** Epoch 0: its frozen set (ascending addresses) and threshold. */
    epoch0: z.object({ validators: z.array(address).min(1), threshold: z.number().int().min(1) }).strict(),
    /**
     * Derivation parameters used while the registry has none scheduled (`paramAt` keys `minDeposit`,
     * `oldAddressWindow`); every validator reads the same file, so they derive the same blocks.
     */
    derivation: z
      .object({ minDepositSats: z.number().int().min(0).default(10_000), oldAddressWindow: z.number().int().min(0).default(6) })
      .strict()
      .optional(),
    /** Home block to start reading contract events from (the deployment block); 0 when absent. */
    homeStartBlock: z.number().int().min(0).optional(),
  })
  .strict();

export type FederationGenesis = z.output<typeof genesisSchema>;

/** Parses genesis JSON; every problem is listed by path (`GENESIS_INVALID`). */
export function parseGenesis(json: unknown, source = 'genesis'): FederationGenesis {
  const r = genesisSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new BridgeError({ code: 'GENESIS_INVALID', message: `invalid genesis in ${source}: ${problems.join('; ')}`, source, problems });
  }
  return r.data;
}

/** Reads and parses a genesis file (`GENESIS_NOT_FOUND`, `GENESIS_INVALID`). */
export async function readGenesis(path: string): Promise<FederationGenesis> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BridgeError({ code: 'GENESIS_NOT_FOUND', message: `cannot read genesis file ${path}: ${(err as Error).message}`, path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BridgeError({ code: 'GENESIS_INVALID', message: `genesis file ${path} is not JSON: ${(err as Error).message}`, path });
  }
  return parseGenesis(json, path);
}

/** Canonical text form (2-space JSON, trailing newline). */
export function formatGenesis(g: FederationGenesis): string {
  return `${JSON.stringify(genesisSchema.parse(g), null, 2)}\n`;
}
