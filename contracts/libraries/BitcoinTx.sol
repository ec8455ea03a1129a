// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title BitcoinTx
/// @notice Bitcoin serialisation helpers for the payout coordinator: a preallocated byte writer,
///         little-endian integers, CompactSize, double SHA-256, the federation witness script
///         (docs/PROTOCOL.md §1) and the weight estimate (docs/PROTOCOL.md §4.3).
library BitcoinTx {
    /// @dev A byte buffer with a write cursor. `buf` is allocated with 32 bytes of slack so a
    ///      word write at the cursor never runs past the allocation; {done} sets the real length.
    struct Writer {
        bytes buf;
        uint256 len;
    }

    error WriterOverflow();

    function writer(uint256 capacity) internal pure returns (Writer memory w) {
        w.buf = new bytes(capacity + 32);
    }

    /// @notice Writes the first `n` (≤ 32) bytes of `data`.
    function put(Writer memory w, bytes32 data, uint256 n) internal pure {
        bytes memory b = w.buf;
        uint256 at = w.len;
        if (at + n + 32 > b.length) revert WriterOverflow();
        assembly ("memory-safe") {
            mstore(add(add(b, 32), at), data)
        }
        w.len = at + n;
    }

    function putByte(Writer memory w, uint256 v) internal pure {
        put(w, bytes32(v << 248), 1);
    }

    /// @notice Little-endian unsigned integer of `n` bytes (Bitcoin's integer encoding).
    function putLE(Writer memory w, uint256 v, uint256 n) internal pure {
        put(w, bytes32(reverseLE(v, n) << (256 - 8 * n)), n);
    }

    function putBytes(Writer memory w, bytes memory data) internal pure {
        bytes memory b = w.buf;
        uint256 at = w.len;
        uint256 n = data.length;
        if (at + n + 32 > b.length) revert WriterOverflow();
        assembly ("memory-safe") {
            mcopy(add(add(b, 32), at), add(data, 32), n)
        }
        w.len = at + n;
    }

    /// @notice CompactSize (BIP-144 serialisation of counts and lengths).
    function putCompact(Writer memory w, uint256 n) internal pure {
        if (n < 0xfd) {
            putByte(w, n);
        } else if (n <= 0xffff) {
            putByte(w, 0xfd);
            putLE(w, n, 2);
        } else {
            putByte(w, 0xfe);
            putLE(w, n, 4);
        }
    }

    /// @notice The written bytes (shrinks the buffer in place; the writer must not be used after).
    function done(Writer memory w) internal pure returns (bytes memory b) {
        b = w.buf;
        uint256 n = w.len;
        assembly ("memory-safe") {
            mstore(b, n)
        }
    }

    /// @notice The low `n` bytes of `v` in reverse order (big-endian ⇄ little-endian).
    function reverseLE(uint256 v, uint256 n) internal pure returns (uint256 r) {
        for (uint256 i; i < n; ++i) {
            r = (r << 8) | (v & 0xff);
            v >>= 8;
        }
    }

    function compactSizeLength(uint256 n) internal pure returns (uint256) {
        return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
    }

    /// @notice SHA256(SHA256(b)): txids, BIP-143 hashes and sighashes.
    function sha256d(bytes memory b) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(sha256(b)));
    }

    // ------------------------------------------------------------------ weights (PROTOCOL.md §4.3)

    /// @notice fixedW(i, o) = 4 × (4 + cs(i) + cs(o) + 4) + 2 (version, counts, locktime, marker+flag).
    function fixedWeight(uint256 nIn, uint256 nOut) internal pure returns (uint256) {
        return 4 * (8 + compactSizeLength(nIn) + compactSizeLength(nOut)) + 2;
    }

    /// @notice outW(script) = 4 × (8 + cs(len) + len).
    function outputWeight(uint256 scriptLen) internal pure returns (uint256) {
        return 4 * (8 + compactSizeLength(scriptLen) + scriptLen);
    }

    /// @notice inW = 4 × (36 + cs(ss) + ss + 4) + witnessBytes, ss = 0 (P2WSH) or 35 (P2SH-P2WSH).
    function inputWeight(uint256 witnessSize, bool p2sh) internal pure returns (uint256) {
        return (p2sh ? 4 * 76 : 4 * 41) + witnessSize;
    }

    /// @notice witnessBytes = cs(items) + m × 74 + empties + cs(len ws) + len ws, with the
    ///         73-byte signature assumption (multisig: 1 empty, m + 2 items; thresh: N − m empties,
    ///         N + 1 items).
    function witnessBytes(uint256 n, uint256 m, uint256 wsLen) internal pure returns (uint256) {
        bool multisig = n <= 15;
        uint256 empties = multisig ? 1 : n - m;
        uint256 items = multisig ? m + 2 : n + 1;
        return compactSizeLength(items) + m * 74 + empties + compactSizeLength(wsLen) + wsLen;
    }

    // ------------------------------------------------------------------ scripts (PROTOCOL.md §1)

    /// @notice Minimal script number push: OP_0 for 0, OP_1..OP_16, else a push of the minimal
    ///         little-endian sign-magnitude bytes (e.g. 17 → 01 11, 128 → 02 80 00).
    function putScriptNum(Writer memory w, uint256 v) internal pure {
        if (v == 0) return putByte(w, 0x00);
        if (v <= 16) return putByte(w, 0x50 + v);
        uint256 n;
        uint256 x = v;
        while (x != 0) {
            x >>= 8;
            ++n;
        }
        bool pad = (v >> (8 * n - 8)) & 0x80 != 0;
        putByte(w, pad ? n + 1 : n);
        putLE(w, v, n);
        if (pad) putByte(w, 0x00);
    }

    /// @notice The federation witness script of an epoch (PROTOCOL.md §1.2–1.3):
    ///         `<epoch> DROP` then `multisig` (N ≤ 15: `<m> <K1..KN> <N> CHECKMULTISIG`) or
    ///         `thresh` (16..67: `<K1> CHECKSIG (SWAP <Ki> CHECKSIG ADD)×(N−1) <m> GREATERTHANOREQUAL`).
    /// @param prefixes the first byte (0x02/0x03) of each compressed key, in script (BIP-67) order
    /// @param xs the x coordinate of each key, same order
    function federationScript(uint256 epoch, uint256 m, uint8[] memory prefixes, bytes32[] memory xs)
        internal
        pure
        returns (bytes memory)
    {
        uint256 n = xs.length;
        Writer memory w = writer(16 + n * 37);
        putScriptNum(w, epoch);
        putByte(w, 0x75); // OP_DROP
        if (n <= 15) {
            putScriptNum(w, m);
            for (uint256 i; i < n; ++i) {
                putByte(w, 0x21);
                putByte(w, prefixes[i]);
                put(w, xs[i], 32);
            }
            putScriptNum(w, n);
            putByte(w, 0xae); // OP_CHECKMULTISIG
        } else {
            for (uint256 i; i < n; ++i) {
                if (i != 0) putByte(w, 0x7c); // OP_SWAP
                putByte(w, 0x21);
                putByte(w, prefixes[i]);
                put(w, xs[i], 32);
                putByte(w, 0xac); // OP_CHECKSIG
                if (i != 0) putByte(w, 0x93); // OP_ADD
            }
            putScriptNum(w, m);
            putByte(w, 0xa2); // OP_GREATERTHANOREQUAL
        }
        return done(w);
    }
}
