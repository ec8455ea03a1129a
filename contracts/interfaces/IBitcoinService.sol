// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IBitcoinService
/// @notice The BMC → Bitcoin token service dispatch (a batched form of BTP's handleBTPMessage).
interface IBitcoinService {
    /// @notice Handles the payloads of consecutive messages of one BTP block.
    /// @param relayer who submitted the relay message (rewarded from fees)
    /// @param btpHeight MainHeight of the BTP block the messages belong to
    /// @param firstSn BTP SN of the first message
    /// @param payloads the BTPMessage payloads, in SN order
    function handleBTPMessages(address relayer, uint256 btpHeight, uint256 firstSn, bytes[] calldata payloads) external;
}
