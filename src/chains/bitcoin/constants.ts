/**
 * Bitcoin consensus and standardness limits that the federation scripts and
 * payout transactions must respect. Each is checked up front so a bad
 * configuration fails with an error naming the limit, not with a mempool
 * rejection after validators have already signed.
 */

/** BIP-16: a P2SH redeem script is pushed in scriptSig, so it is limited to MAX_SCRIPT_ELEMENT_SIZE. */
export const MAX_P2SH_REDEEM_SCRIPT_BYTES = 520;
/** Bitcoin Core policy (MAX_STANDARD_P2WSH_SCRIPT_SIZE): witness scripts above this are non-standard. */
export const MAX_STANDARD_P2WSH_SCRIPT_BYTES = 3600;
/** Consensus (MAX_OPS_PER_SCRIPT): non-push opcodes per executed script, CHECKMULTISIG keys included. */
export const MAX_OPS_PER_SCRIPT = 201;
/** Policy (MAX_STANDARD_P2WSH_STACK_ITEMS): witness items before the witness script. */
export const MAX_STANDARD_P2WSH_STACK_ITEMS = 100;
/** Policy (MAX_STANDARD_P2WSH_STACK_ITEM_SIZE): bytes per witness item before the witness script. */
export const MAX_STANDARD_P2WSH_STACK_ITEM_BYTES = 80;
/** Consensus (MAX_PUBKEYS_PER_MULTISIG): keys an OP_CHECKMULTISIG may take. */
export const MAX_MULTISIG_KEYS = 20;
/** The `thresh` template's practical cap: 67 keys use exactly 201 opcodes with the epoch tag. */
export const MAX_THRESH_KEYS = 67;
/** `multisig` is the template up to this many keys (OP_N small integers, fits bare P2SH too), `thresh` above. */
export const MULTISIG_TEMPLATE_MAX_KEYS = 15;
/** Policy (MAX_STANDARD_TX_WEIGHT). */
export const MAX_STANDARD_TX_WEIGHT = 400_000;
/** Dust threshold the protocol uses for every output it creates (Core's P2PKH dust at 3 sat/vB). */
export const DUST_SATS = 546n;
/** Policy: maximum bytes of an OP_RETURN output script (MAX_OP_RETURN_RELAY before Core 30). */
export const MAX_OP_RETURN_SCRIPT_BYTES = 83;
/** Policy: data carried by one OP_RETURN push. */
export const MAX_OP_RETURN_DATA_BYTES = 80;
/** The size fee estimates assume for every DER signature plus sighash byte (DESIGN §2). */
export const ESTIMATED_SIGNATURE_BYTES = 73;
/** BIP-143 hash type the federation signs with. */
export const SIGHASH_ALL = 0x01;
/** BIP-125: any nSequence below 0xfffffffe signals replaceability; 0xfffffffd also keeps locktime enabled. */
export const RBF_SEQUENCE = 0xfffffffd;
/** Payout transactions are version 2 (BIP-68 semantics; nothing relies on relative locks). */
export const PAYOUT_TX_VERSION = 2;
/** BIP-125 rule 4 with Core's default incremental relay fee: 1 sat/vB = 1000 sat/kvB. */
export const INCREMENTAL_RELAY_FEE_SAT_PER_KVB = 1000n;
