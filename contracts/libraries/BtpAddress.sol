// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title BtpAddress
/// @notice Helpers for BTP addresses `btp://<network>/<account>` (e.g. `btp://0x1.btc/bc1q…`).
library BtpAddress {
    error InvalidBtpAddress();

    /// @notice keccak256 of the `<network>` part.
    function networkHash(string memory btpAddr) internal pure returns (bytes32 h) {
        bytes memory b = bytes(btpAddr);
        uint256 n = b.length;
        // "btp://" prefix
        if (n < 7 || b[0] != "b" || b[1] != "t" || b[2] != "p" || b[3] != ":" || b[4] != "/" || b[5] != "/") {
            revert InvalidBtpAddress();
        }
        uint256 end = 6;
        while (end < n && b[end] != "/") end++;
        if (end == 6) revert InvalidBtpAddress();
        assembly ("memory-safe") { h := keccak256(add(add(b, 32), 6), sub(end, 6)) }
    }
}
