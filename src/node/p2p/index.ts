/**
 * fednode peer-to-peer layer: the only module that knows libp2p. The rest of
 * the node uses this interface, so a move to libp2p v3 + @libp2p/gossipsub
 * stays inside this folder. `src/polyfill.ts` must be imported first.
 */
export { loadOrCreateNetworkKey, NETWORK_KEY_FILE } from './network-key.js';
export { createP2pHost, P2P_DEFAULTS } from './host.js';
export type { InboundMeta, MessageHandler, P2pHost, P2pHostOptions, P2pStatus } from './host.js';
export { createLocalEnvelopeSigner, ENVELOPE_DOMAIN, envelopeDigest } from './envelope.js';
export type { EnvelopeSigner } from './envelope.js';
export type { PeerAllowlist, ValidatorPeer } from './peer-set.js';
export type {
  Attestation,
  Envelope,
  Heartbeat,
  InputSignature,
  MessageBodies,
  MessageBody,
  ObservedChain,
  PayoutWitness,
  ReobservationRequest,
} from './messages.js';
export { MESSAGE_KINDS, topicName, topicsOf } from './topics.js';
export type { MessageKind } from './topics.js';
export type { Verdict } from './validation.js';
