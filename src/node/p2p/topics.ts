/**
 * Gossip topics. Names are versioned per network so that two federations (or a
 * testnet and a mainnet node) sharing a machine never mix traffic, and a wire
 * format change gets a new topic instead of a flag day.
 */
export const MESSAGE_KINDS = ['attestation', 'payout-witness', 'heartbeat', 'reobserve'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** Numeric kind carried inside the signed envelope (binds a signature to one topic). */
export const KIND_CODE: Readonly<Record<MessageKind, number>> = {
  attestation: 1,
  'payout-witness': 2,
  heartbeat: 3,
  reobserve: 4,
};

/**
 * Wire version per kind (the last topic segment). Attestation 2 gained the NetworkTypeSection
 * hash (docs/P2P.md §4.2). Every kind moved up one when gossipsub went from StrictSign to
 * StrictNoSign (the envelope signature authenticates the origin, P2P.md §1): the two framings
 * cannot talk to each other, so they never share a topic.
 */
export const TOPIC_VERSIONS: Readonly<Record<MessageKind, number>> = {
  attestation: 3,
  'payout-witness': 2,
  heartbeat: 2,
  reobserve: 2,
};

/** Network names are embedded in topics and signatures: keep them short and plain. */
const NETWORK_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function isValidNetworkName(network: string): boolean {
  return NETWORK_NAME.test(network);
}

/** `/fednode/<network>/<kind>/<version>`, e.g. `/fednode/devnet/attestation/3`. */
export function topicName(network: string, kind: MessageKind): string {
  return `/fednode/${network}/${kind}/${TOPIC_VERSIONS[kind]}`;
}

export function topicsOf(network: string): Record<MessageKind, string> {
  return {
    attestation: topicName(network, 'attestation'),
    'payout-witness': topicName(network, 'payout-witness'),
    heartbeat: topicName(network, 'heartbeat'),
    reobserve: topicName(network, 'reobserve'),
  };
}
