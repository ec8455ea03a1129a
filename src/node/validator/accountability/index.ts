export { Accountability, DEFAULT_ACCOUNTABILITY_OPTIONS, type AccountabilityDeps, type AccountabilityOptions, type AccountabilityWatch, type EvidenceResult, type OwnSignatureSource } from './accountability.js';
export { AccountabilityChain, slasherOfRegistry, type AccountabilityContracts } from './chain.js';
export { signLogSignatureSource } from './own-signature.js';
export { checkBtpEvidence, defenceDecision, keeperDecision, keeperRotation, missingOf, submissionKey, type DutyView, type KeeperDecision } from './rules.js';
export { accountabilityFromServices } from './from-services.js';
