// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title CodeStore
/// @notice Write-once data kept as contract code ("SSTORE2"): reading N validator addresses costs
///         one EXTCODECOPY instead of N cold SLOADs, which dominates BTP proof verification.
library CodeStore {
    error CodeStoreWriteFailed();

    /// @notice Deploys `data` as code (behind a leading STOP byte so it cannot be called).
    function write(bytes memory data) internal returns (address ptr) {
        bytes memory code = abi.encodePacked(hex"00", data);
        // PUSH2 len, DUP1, PUSH1 12, PUSH1 0, CODECOPY, PUSH1 0, RETURN
        bytes memory init = abi.encodePacked(hex"61", uint16(code.length), hex"80600c6000396000f3", code);
        assembly ("memory-safe") { ptr := create(0, add(init, 32), mload(init)) }
        if (ptr == address(0)) revert CodeStoreWriteFailed();
    }

    /// @notice Reads back what {write} stored.
    function read(address ptr) internal view returns (bytes memory data) {
        uint256 size = ptr.code.length;
        if (size == 0) return data;
        data = new bytes(size - 1);
        assembly ("memory-safe") { extcodecopy(ptr, add(data, 32), 1, sub(size, 1)) }
    }

    /// @notice Stores an address list (20 bytes each).
    function writeAddresses(address[] memory list) internal returns (address) {
        bytes memory packed;
        for (uint256 i; i < list.length; ++i) packed = abi.encodePacked(packed, list[i]);
        return write(packed);
    }

    /// @notice Reads an address list written by {writeAddresses}.
    function readAddresses(address ptr) internal view returns (address[] memory list) {
        bytes memory raw = read(ptr);
        uint256 n = raw.length / 20;
        list = new address[](n);
        for (uint256 i; i < n; ++i) {
            address a;
            assembly ("memory-safe") { a := shr(96, mload(add(add(raw, 32), mul(i, 20)))) }
            list[i] = a;
        }
    }
}
