// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {BitcoinTx} from "./BitcoinTx.sol";

/// @title Bip143
/// @notice BIP-143 SIGHASH_ALL digest of a segwit v0 input and the one-`ecrecover` check of a
///         federation witness signature (docs/PROTOCOL.md §5.1–5.2).
library Bip143 {
    /// @dev secp256k1 n / 2: BIP-146 LOW_S (and Ethereum's EIP-2) reject s above it.
    uint256 internal constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev The only hash type the federation signs (PROTOCOL.md §5.1). It is the last preimage
    ///      field, so a signature checked against {sighash} is a SIGHASH_ALL signature.
    uint32 internal constant SIGHASH_ALL = 1;

    /// @notice The fields of one input's preimage that differ between inputs.
    struct Input {
        bytes32 txid; // internal byte order, as in the outpoint
        uint32 vout;
        bytes scriptCode; // the witness script (P2WSH and P2SH-P2WSH alike; no OP_CODESEPARATOR)
        uint64 amount;
        uint32 sequence;
    }

    /// @notice sha256d(version ‖ hashPrevouts ‖ hashSequence ‖ outpoint ‖ cs(len) ‖ scriptCode ‖
    ///         amount ‖ nSequence ‖ hashOutputs ‖ locktime ‖ 01000000), all integers little-endian.
    function sighash(
        uint32 version,
        bytes32 hashPrevouts,
        bytes32 hashSequence,
        Input memory inp,
        bytes32 hashOutputs,
        uint32 locktime
    ) internal pure returns (bytes32) {
        BitcoinTx.Writer memory w = BitcoinTx.writer(4 + 32 + 32 + 36 + 5 + inp.scriptCode.length + 8 + 4 + 32 + 8);
        BitcoinTx.putLE(w, version, 4);
        BitcoinTx.put(w, hashPrevouts, 32);
        BitcoinTx.put(w, hashSequence, 32);
        BitcoinTx.put(w, inp.txid, 32);
        BitcoinTx.putLE(w, inp.vout, 4);
        BitcoinTx.putCompact(w, inp.scriptCode.length);
        BitcoinTx.putBytes(w, inp.scriptCode);
        BitcoinTx.putLE(w, inp.amount, 8);
        BitcoinTx.putLE(w, inp.sequence, 4);
        BitcoinTx.put(w, hashOutputs, 32);
        BitcoinTx.putLE(w, locktime, 4);
        BitcoinTx.putLE(w, SIGHASH_ALL, 4);
        return BitcoinTx.sha256d(BitcoinTx.done(w));
    }

    /// @notice The signer of a witness signature with exactly one `ecrecover`: address(0) when
    ///         r or s is zero, s is high (s > n/2: a malleated signature Bitcoin's policy
    ///         rejects) or the recovery id is not 0/1.
    function recover(bytes32 digest, uint8 recid, bytes32 r, bytes32 s) internal pure returns (address) {
        if (recid > 1 || r == 0 || s == 0 || uint256(s) > HALF_N) return address(0);
        return ecrecover(digest, 27 + recid, r, s);
    }
}
