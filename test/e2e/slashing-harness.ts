/**
 * What the slashing e2e needs on top of the federation harness (test/e2e/harness.ts, used
 * read-only): starting a validator with an `onEvidence` hook, and the accountability module built
 * from a running validator's services — the way the composition root is to construct it
 * (docs/ACCOUNTABILITY.md §5).
 */
import { Contract, getBytes } from 'ethers';
import { loadArtifact } from '../../src/chains/ethereum/artifacts.js';
import type { BtpEquivocationEvidence } from '../../src/consensus/equivocation.js';
import { openDatabase } from '../../src/node/db/database.js';
import { Health } from '../../src/node/health.js';
import { silentLogger, type Logger } from '../../src/node/logger.js';
import { accountabilityFromServices, type Accountability, type AccountabilityOptions } from '../../src/node/validator/accountability/index.js';
import { createValidator, type Validator } from '../../src/node/validator/validator.js';
import { FAST_P2P, type Harness } from './harness.js';

/** Like `Harness.startNode(i)`, with the validator's `onEvidence` hook set. */
export async function startNodeWithEvidence(h: Harness, i: number, onEvidence: (ev: BtpEquivocationEvidence[]) => void, log: Logger = silentLogger()): Promise<void> {
  const x = h.nodes[i]!;
  if (x.validator !== undefined) return;
  x.db = await openDatabase(x.dir, { log });
  x.health = new Health();
  x.validator = createValidator({
    config: x.config,
    genesis: h.deployed.genesis,
    signingKey: getBytes(x.signingKey),
    networkKey: x.networkKey,
    operator: x.operator,
    db: x.db,
    log: log.child({ validator: i }),
    metrics: x.metrics,
    health: x.health,
    bitcoinRpc: h.btc.rpc,
    p2p: FAST_P2P,
    onEvidence,
    // The test drives its own accountability modules beside the validators.
    duties: { accountability: false },
  });
  await x.validator.start();
}

/** The accountability module of a started validator, as the composition root builds it (not started). */
export async function accountabilityOf(v: Validator, options: Partial<AccountabilityOptions> = {}): Promise<Accountability> {
  const a = await accountabilityFromServices(v.services, { options });
  if (a === undefined) throw new Error('the federation was deployed without a Slasher');
  return a;
}

export function slasherContract(h: Harness): Contract {
  return new Contract(h.deployed.slasherAddress!, loadArtifact('Slasher').abi, h.provider);
}

export function registryContract(h: Harness): Contract {
  return new Contract(h.deployed.addresses.staking, loadArtifact('ValidatorRegistry').abi, h.provider);
}
