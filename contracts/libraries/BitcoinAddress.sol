// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title BitcoinAddress
/// @notice Parses a Bitcoin address into its output script: segwit v0 bech32 (BIP-173; P2WPKH and
///         P2WSH) for a configured human-readable part (`bc`, `tb`, `bcrt`, bcoin regtest `rb`)
///         and base58check P2PKH/P2SH for configured version bytes.
library BitcoinAddress {
    /// @dev reason: 1 charset/case, 2 hrp, 3 checksum, 4 witness version, 5 program length,
    ///      6 padding, 7 base58 length/overflow, 8 base58 checksum, 9 base58 version
    error InvalidBitcoinAddress(uint8 reason);

    struct Network {
        bytes hrp; // lowercase bech32 human-readable part
        uint8 p2pkhVersion;
        uint8 p2shVersion;
    }

    bytes internal constant BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    bytes internal constant BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    /// @notice The output script paying `addr` on `net`; reverts {InvalidBitcoinAddress}.
    function toScript(string calldata addr, Network memory net) internal pure returns (bytes memory) {
        bytes calldata a = bytes(addr);
        uint256 sep = type(uint256).max;
        for (uint256 i = a.length; i > 0; --i) {
            if (a[i - 1] == "1") {
                sep = i - 1;
                break;
            }
        }
        // A bech32 address starts with its hrp and "1"; base58 P2PKH may also start with "1", so the
        // hrp decides which parser applies.
        if (sep != type(uint256).max && sep == net.hrp.length && _hrpMatches(a, net.hrp)) {
            return _bech32(a, sep, net.hrp);
        }
        return _base58(a, net);
    }

    function _hrpMatches(bytes calldata a, bytes memory hrp) private pure returns (bool) {
        for (uint256 i; i < hrp.length; ++i) {
            uint8 c = uint8(a[i]);
            if (c >= 0x41 && c <= 0x5a) c += 32;
            if (c != uint8(hrp[i])) return false;
        }
        return true;
    }

    function _polymodStep(uint256 chk, uint256 v) private pure returns (uint256) {
        uint256 top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ v;
        if (top & 1 != 0) chk ^= 0x3b6a57b2;
        if (top & 2 != 0) chk ^= 0x26508e6d;
        if (top & 4 != 0) chk ^= 0x1ea119fa;
        if (top & 8 != 0) chk ^= 0x3d4233dd;
        if (top & 16 != 0) chk ^= 0x2a1462b3;
        return chk;
    }

    function _bech32(bytes calldata a, uint256 sep, bytes memory hrp) private pure returns (bytes memory) {
        uint256 n = a.length;
        if (n > 90 || n < sep + 7) revert InvalidBitcoinAddress(1);
        bool lower;
        bool upper;
        uint256 chk = 1;
        for (uint256 i; i < hrp.length; ++i) chk = _polymodStep(chk, uint8(hrp[i]) >> 5);
        chk = _polymodStep(chk, 0);
        for (uint256 i; i < hrp.length; ++i) chk = _polymodStep(chk, uint8(hrp[i]) & 31);
        uint256 dlen = n - sep - 1;
        uint8[] memory data = new uint8[](dlen);
        for (uint256 i; i < dlen; ++i) {
            uint8 c = uint8(a[sep + 1 + i]);
            if (c >= 0x41 && c <= 0x5a) {
                upper = true;
                c += 32;
            } else if (c >= 0x61 && c <= 0x7a) {
                lower = true;
            }
            uint8 v = _charsetIndex(c);
            data[i] = v;
            chk = _polymodStep(chk, v);
        }
        for (uint256 i; i < sep; ++i) {
            uint8 c = uint8(a[i]);
            if (c >= 0x41 && c <= 0x5a) upper = true;
            else if (c >= 0x61 && c <= 0x7a) lower = true;
        }
        if (lower && upper) revert InvalidBitcoinAddress(1);
        if (data[0] != 0) revert InvalidBitcoinAddress(4); // only witness v0 (BIP-173 checksum)
        if (chk != 1) revert InvalidBitcoinAddress(3);
        // 5-bit groups → bytes, no padding allowed beyond 4 zero bits (BIP-173)
        uint256 acc;
        uint256 bits;
        bytes memory prog = new bytes(((dlen - 7) * 5) / 8);
        uint256 k;
        for (uint256 i = 1; i < dlen - 6; ++i) {
            acc = (acc << 5) | data[i];
            bits += 5;
            if (bits >= 8) {
                bits -= 8;
                prog[k++] = bytes1(uint8(acc >> bits));
                acc &= (1 << bits) - 1;
            }
        }
        if (bits >= 5 || acc != 0) revert InvalidBitcoinAddress(6);
        if (k != 20 && k != 32) revert InvalidBitcoinAddress(5);
        assembly ("memory-safe") { mstore(prog, k) }
        return abi.encodePacked(uint8(0x00), uint8(k), prog);
    }

    function _charsetIndex(uint8 c) private pure returns (uint8) {
        bytes memory cs = BECH32_CHARSET;
        for (uint256 j; j < 32; ++j) if (uint8(cs[j]) == c) return uint8(j);
        revert InvalidBitcoinAddress(1);
    }

    function _base58(bytes calldata a, Network memory net) private pure returns (bytes memory) {
        uint256 n = a.length;
        if (n < 26 || n > 35) revert InvalidBitcoinAddress(7);
        bytes memory alpha = BASE58_ALPHABET;
        uint256 num;
        uint256 zeros;
        bool leading = true;
        for (uint256 i; i < n; ++i) {
            uint8 c = uint8(a[i]);
            uint256 d = 58;
            for (uint256 j; j < 58; ++j) {
                if (uint8(alpha[j]) == c) {
                    d = j;
                    break;
                }
            }
            if (d == 58) revert InvalidBitcoinAddress(1);
            if (leading && d == 0) zeros++;
            else leading = false;
            num = num * 58 + d;
            if (num >> 200 != 0) revert InvalidBitcoinAddress(7); // more than 25 bytes
        }
        // the 25-byte payload must have exactly `zeros` leading zero bytes
        uint256 lz;
        for (uint256 i; i < 25 && (num >> (8 * (24 - i))) & 0xff == 0; ++i) lz++;
        if (lz != zeros) revert InvalidBitcoinAddress(7);
        bytes memory raw = abi.encodePacked(bytes25(uint200(num)));
        bytes memory body = new bytes(21);
        for (uint256 i; i < 21; ++i) body[i] = raw[i];
        bytes32 h = sha256(abi.encodePacked(sha256(body)));
        if (bytes4(h) != bytes4(uint32(num))) revert InvalidBitcoinAddress(8);
        bytes20 hash160 = bytes20(uint160(num >> 32));
        uint8 ver = uint8(raw[0]);
        if (ver == net.p2pkhVersion) return abi.encodePacked(hex"76a914", hash160, hex"88ac");
        if (ver == net.p2shVersion) return abi.encodePacked(hex"a914", hash160, hex"87");
        revert InvalidBitcoinAddress(9);
    }
}
