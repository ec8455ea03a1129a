/** BTP 2.0 "eth" network type: pure codec, merkle proofs, signing, builder and verifier. */
export * from './bytes.js';
export * from './rlp.js';
export * from './types.js';
export * from './codec.js';
export * from './hashes.js';
export * from './merkle.js';
export * from './secp256k1.js';
export * from './sign.js';
export * from './builder.js';
export * from './verifier.js';
export * from './json.js';
export * from './network-uid.js';
