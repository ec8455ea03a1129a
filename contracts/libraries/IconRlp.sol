// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IconRlp
/// @notice Decoder and encoder for ICON's RLP variant used by BTP 2.0 (DESIGN.md §3): Ethereum RLP
///         framing, nil written as the long-form empty list `0xf8 0x00`, integers as signed
///         two's-complement minimal big-endian with zero as the single byte `0x00`.
/// @dev Items are views into memory (pointer to payload and its length); nothing is copied
///      unless asked for, which keeps relay-message decoding cheap.
library IconRlp {
    struct Item {
        uint256 ptr; // memory pointer to the payload
        uint256 len; // payload length in bytes
        bool isList;
    }

    error RlpMalformed();
    error RlpNotList();
    error RlpNotBytes();
    error RlpBadLength(uint256 expected, uint256 actual);
    error RlpNegativeInt();

    /// @notice Low-level step: the item at `ptr` (buffer end `end`) without allocating.
    /// @return payload pointer to the payload
    /// @return len payload length
    /// @return next_ pointer just past the item
    /// @return isList_ true for a list
    function next(uint256 ptr, uint256 end)
        internal
        pure
        returns (uint256 payload, uint256 len, uint256 next_, bool isList_)
    {
        bool bad;
        assembly ("memory-safe") {
            switch lt(ptr, end)
            case 0 { bad := 1 }
            default {
                let b0 := byte(0, mload(ptr))
                switch lt(b0, 0x80)
                case 1 {
                    payload := ptr
                    len := 1
                }
                default {
                    switch lt(b0, 0xb8)
                    case 1 {
                        payload := add(ptr, 1)
                        len := sub(b0, 0x80)
                    }
                    default {
                        switch lt(b0, 0xc0)
                        case 1 {
                            let ll := sub(b0, 0xb7)
                            if gt(ll, 4) { bad := 1 }
                            len := shr(sub(256, mul(8, ll)), mload(add(ptr, 1)))
                            payload := add(add(ptr, 1), ll)
                        }
                        default {
                            isList_ := 1
                            switch lt(b0, 0xf8)
                            case 1 {
                                payload := add(ptr, 1)
                                len := sub(b0, 0xc0)
                            }
                            default {
                                let ll := sub(b0, 0xf7)
                                if gt(ll, 4) { bad := 1 }
                                len := shr(sub(256, mul(8, ll)), mload(add(ptr, 1)))
                                payload := add(add(ptr, 1), ll)
                            }
                        }
                    }
                }
                next_ := add(payload, len)
                if gt(next_, end) { bad := 1 }
            }
        }
        if (bad) revert RlpMalformed();
    }

    /// @dev Decodes the item starting at `ptr` within a buffer ending at `end`.
    function _at(uint256 ptr, uint256 end) private pure returns (Item memory it, uint256 next_) {
        (it.ptr, it.len, next_, it.isList) = next(ptr, end);
    }

    /// @notice The top-level item of `b`.
    function toItem(bytes memory b) internal pure returns (Item memory it) {
        uint256 start;
        assembly ("memory-safe") { start := add(b, 32) }
        uint256 next;
        (it, next) = _at(start, start + b.length);
        if (next != start + b.length) revert RlpMalformed();
    }

    /// @notice The RLP item encoded inside a byte-string item's payload (a view, no copy).
    function inner(Item memory it) internal pure returns (Item memory out) {
        if (it.isList) revert RlpNotBytes();
        uint256 end = it.ptr + it.len;
        uint256 next_;
        (out.ptr, out.len, next_, out.isList) = next(it.ptr, end);
        if (next_ != end) revert RlpMalformed();
    }

    /// @notice The children of a list item.
    function toList(Item memory it) internal pure returns (Item[] memory out) {
        if (!it.isList) revert RlpNotList();
        uint256 end = it.ptr + it.len;
        uint256 n;
        uint256 p = it.ptr;
        while (p < end) {
            (,, p,) = next(p, end);
            unchecked { ++n; }
        }
        out = new Item[](n);
        p = it.ptr;
        for (uint256 i; i < n; ) {
            Item memory x = out[i];
            (x.ptr, x.len, p, x.isList) = next(p, end);
            unchecked { ++i; }
        }
    }

    /// @notice True for nil (`0xf800`) and the empty list: ICON writes absent values as nil.
    function isNil(Item memory it) internal pure returns (bool) {
        return it.isList && it.len == 0;
    }

    /// @notice An ICON integer as uint256 (negative values are rejected).
    function toUint(Item memory it) internal pure returns (uint256 v) {
        if (it.isList) revert RlpNotBytes();
        uint256 n = it.len;
        if (n == 0) return 0;
        if (n > 33) revert RlpMalformed();
        uint256 p = it.ptr;
        uint256 first;
        assembly ("memory-safe") { first := byte(0, mload(p)) }
        if (first >= 0x80) revert RlpNegativeInt();
        if (n == 33) {
            // a 0x00 sign byte ahead of a full 32-byte magnitude
            if (first != 0) revert RlpMalformed();
            p += 1;
            n = 32;
        }
        assembly ("memory-safe") { v := shr(sub(256, mul(8, n)), mload(p)) }
    }

    function toBytes32(Item memory it) internal pure returns (bytes32 v) {
        if (it.isList) revert RlpNotBytes();
        if (it.len != 32) revert RlpBadLength(32, it.len);
        uint256 p = it.ptr;
        assembly ("memory-safe") { v := mload(p) }
    }

    function toAddress(Item memory it) internal pure returns (address a) {
        if (it.isList) revert RlpNotBytes();
        if (it.len != 20) revert RlpBadLength(20, it.len);
        uint256 p = it.ptr;
        assembly ("memory-safe") { a := shr(96, mload(p)) }
    }

    /// @notice A copy of a byte-string item's payload.
    function toBytes(Item memory it) internal pure returns (bytes memory out) {
        if (it.isList) revert RlpNotBytes();
        out = new bytes(it.len);
        uint256 src = it.ptr;
        uint256 dst;
        assembly ("memory-safe") { dst := add(out, 32) }
        _copy(src, dst, it.len);
    }

    /// @notice keccak256 of the payload, without copying.
    function payloadHash(Item memory it) internal pure returns (bytes32 h) {
        uint256 p = it.ptr;
        uint256 n = it.len;
        assembly ("memory-safe") { h := keccak256(p, n) }
    }

    /// @notice A byte-string item's payload as a view: its memory pointer and length.
    function bytesView(Item memory it) internal pure returns (uint256 ptr, uint256 len) {
        if (it.isList) revert RlpNotBytes();
        return (it.ptr, it.len);
    }

    function _copy(uint256 src, uint256 dst, uint256 n) internal pure {
        assembly ("memory-safe") { mcopy(dst, src, n) }
    }

    // ---------------------------------------------------------------- encoding (ICON variant)

    bytes internal constant NIL = hex"f800";

    /// @notice ICON integer: minimal two's-complement big-endian; zero is `0x00`; a set top bit gets a
    ///         leading `0x00` so the value stays positive (0x80 → `0x820080`).
    function encUint(uint256 v) internal pure returns (bytes memory) {
        if (v < 0x80) return abi.encodePacked(uint8(v));
        uint256 n;
        for (uint256 t = v; t != 0; t >>= 8) n++;
        bool pad = (v >> (8 * n - 1)) & 1 == 1;
        uint256 total = pad ? n + 1 : n;
        bytes memory body = new bytes(total);
        for (uint256 i; i < n; ++i) body[total - 1 - i] = bytes1(uint8(v >> (8 * i)));
        return abi.encodePacked(_strHeader(total), body);
    }

    function encBytes32(bytes32 v) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0xa0), v);
    }

    /// @notice A byte string (also used for ICON strings).
    function encBytes(bytes memory b) internal pure returns (bytes memory) {
        if (b.length == 1 && uint8(b[0]) < 0x80) return b;
        return abi.encodePacked(_strHeader(b.length), b);
    }

    function encList(bytes memory payload) internal pure returns (bytes memory) {
        return abi.encodePacked(_header(0xc0, payload.length), payload);
    }

    function _strHeader(uint256 len) private pure returns (bytes memory) {
        return _header(0x80, len);
    }

    function _header(uint256 base, uint256 len) private pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(uint8(base + len));
        uint256 n;
        for (uint256 t = len; t != 0; t >>= 8) n++;
        bytes memory h = new bytes(1 + n);
        h[0] = bytes1(uint8(base + 55 + n));
        for (uint256 i; i < n; ++i) h[n - i] = bytes1(uint8(len >> (8 * i)));
        return h;
    }
}
