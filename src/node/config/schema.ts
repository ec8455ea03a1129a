import { z } from 'zod';

/**
 * The node's configuration schema: the single source of truth for config
 * keys, their types, defaults and validation messages. Environment variable
 * names (`FEDNODE_*`) and `--set` flag paths are derived from it.
 */

const httpUrl = z.string().superRefine((value, ctx) => {
  let ok = false;
  try {
    const u = new URL(value);
    ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    ok = false;
  }
  if (!ok) ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got ${JSON.stringify(value)}` });
});

const evmAddress = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, { message: 'expected a 0x-prefixed 20-byte hex address' });

const multiaddr = z
  .string()
  .regex(/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+\/tcp\/\d{1,5}(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/, {
    message: 'expected a TCP multiaddr like /ip4/127.0.0.1/tcp/9651[/p2p/<peer id>]',
  });

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().min(1);

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const BITCOIN_NETWORKS = ['mainnet', 'testnet', 'signet', 'regtest'] as const;

export const configSchema = z
  .object({
    /** Network name: part of gossip topic names and of the BTP network address. */
    network: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { message: 'expected a lowercase name like "devnet"' }).default('devnet'),
    /** Data directory; relative paths are resolved against the config file's directory. */
    dataDir: z.string().min(1).default('.'),
    /** Federation genesis file (src/node/genesis); relative paths are resolved against the data directory. */
    genesisFile: z.string().min(1).default('genesis.json'),
    log: z
      .object({
        level: z.enum(LOG_LEVELS).default('info'),
        /** auto: readable on a TTY, JSON lines otherwise. */
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        /** Loopback by default: /metrics and the admin endpoints are not for the internet. */
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8645),
      })
      .strict()
      .prefault({}),
    keys: z
      .object({
        /** Keystore name (in <dataDir>/keys) or a path to a keystore file. */
        signingKey: z.string().min(1).default('validator'),
        /** File holding the keystore password (one line). */
        passwordFile: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    bitcoin: z
      .object({
        network: z.enum(BITCOIN_NETWORKS).default('regtest'),
        rpcUrl: httpUrl.default('http://127.0.0.1:18443'),
        rpcUser: z.string().optional(),
        rpcPassword: z.string().optional(),
        /** Blocks a deposit or payout needs before it enters a BTP block. */
        confirmations: positiveInt.default(6),
        pollIntervalMs: z.number().int().min(50).default(1000),
        /** Override the bech32 prefix (bcoin's regtest uses "rb", Core's "bcrt"). */
        bech32Prefix: z.string().regex(/^[a-z]{1,16}$/).optional(),
      })
      .strict()
      .prefault({}),
    ethereum: z
      .object({
        /** Several URLs: the node fails over in order. */
        rpcUrls: z.array(httpUrl).min(1, { message: 'expected at least one RPC URL' }).default(['http://127.0.0.1:8545']),
        chainId: positiveInt.default(31337),
        confirmations: positiveInt.default(1),
        pollIntervalMs: z.number().int().min(50).default(1000),
        /** Operator account key (pays gas, owns the stake): keystore name or path. */
        operatorKey: z.string().min(1).optional(),
        contracts: z
          .object({
            staking: evmAddress.optional(),
            bmc: evmAddress.optional(),
            bmv: evmAddress.optional(),
            bsh: evmAddress.optional(),
            btct: evmAddress.optional(),
            /** Payout coordinator (UTXO ledger, batches, witnesses; docs/CONTRACTS.md). */
            payout: evmAddress.optional(),
            /** Slasher (missed duty, equivocation evidence; docs/SLASHING.md). */
            slasher: evmAddress.optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    p2p: z
      .object({
        listen: z.array(multiaddr).default(['/ip4/0.0.0.0/tcp/9651']),
        /** Peers dialled at start and redialled with backoff. */
        bootstrap: z.array(multiaddr).default([]),
        /** Peer ids admitted without a stake (monitoring nodes). */
        observers: z.array(z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,60}$/, { message: 'expected a base58 libp2p peer id' })).default([]),
      })
      .strict()
      .prefault({}),
    /** The validator's pipeline (docs/VALIDATOR.md). Times in milliseconds. */
    validator: z
      .object({
        /** How often the registry (sets, epochs, peer ids) is read. */
        homePollIntervalMs: z.number().int().min(50).default(2_000),
        /** Aggregator clock: quorum/final events and submissions are checked this often. */
        tickIntervalMs: z.number().int().min(5).default(50),
        /** After quorum, keep collecting signatures this long (ends early when all signed). */
        collectAfterQuorumMs: z.number().int().min(0).default(250),
        /** Rotation: the next submitter takes over after this long. */
        takeoverTimeoutMs: z.number().int().min(100).default(15_000),
        /** Own signatures of blocks not yet relayed are gossiped again this often (late or restarted peers). */
        regossipIntervalMs: z.number().int().min(100).default(2_000),
        /** Wait after a relay attempt that failed (e.g. the previous height not accepted yet). */
        relayRetryMs: z.number().int().min(10).default(1_000),
        /** Largest relay message per transaction. */
        maxRelayBytes: z.number().int().min(1_024).default(512 * 1024),
        /** /readyz turns false when the derived height is this many blocks behind the confirmed Bitcoin tip. */
        maxLagBlocks: z.number().int().min(1).default(6),
        /** /readyz turns false when every derivation attempt has failed for this long (docs/OPERATIONS.md). */
        derivationStuckMs: z.number().int().min(1_000).default(30_000),
        /** Heartbeats (p2p kind 3: version, chain heights, last signed height) are published this often. */
        heartbeatIntervalMs: z.number().int().min(100).default(5_000),
      })
      .strict()
      .prefault({}),
    btp: z
      .object({
        /**
         * Source network UID of the federation, `0x<id>.btc` (docs/BTP.md).
         * Defaults to the id pinned for `bitcoin.network`; set it only for a
         * federation that deliberately uses another id.
         */
        srcNetworkUid: z.string().regex(/^0x[0-9a-f]+\.[a-z0-9]+$/, { message: 'expected a network UID like "0x1.btc"' }).optional(),
        networkTypeId: z.number().int().min(0).default(2),
        networkId: z.number().int().min(0).default(1),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type FednodeConfig = z.output<typeof configSchema>;
export type FednodeConfigInput = z.input<typeof configSchema>;

/** Config paths whose values are secrets: redacted by `config dump` and never logged. */
export const SECRET_PATHS: readonly string[] = ['bitcoin.rpcPassword'];
