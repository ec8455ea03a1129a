/**
 * What the slashing e2e needs on top of the federation harness (test/e2e/harness.ts, used
 * read-only): starting a validator with an `onEvidence` hook, and the accountability module built
 * from a running validator's services — the way the composition root is to construct it
 * (docs/ACCOUNTABILITY.md §5).
 */
import { Contract } from 'ethers';
import { loadArtifact } from '../../src/chains/ethereum/artifacts.js';
import type { BtpEquivocationEvidence } from '../../src/consensus/equivocation.js';
import { accountabilityFromServices, type Accountability, type AccountabilityOptions } from '../../src/node/validator/accountability/index.js';
import type { Validator } from '../../src/node/validator/validator.js';
import type { Harness } from './harness.js';

/** `Harness.startNode(i)` with the validator's `onEvidence` hook set (the test drives its own accountability modules). */
export async function startNodeWithEvidence(h: Harness, i: number, onEvidence: (ev: BtpEquivocationEvidence[]) => void): Promise<void> {
  await h.startNode(i, { onEvidence, duties: { accountability: false } });
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
