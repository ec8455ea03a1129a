// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IBtpMessageVerifier
/// @notice The BMC's view of an eth-type BMV.
interface IBtpMessageVerifier {
    /// @notice Verifies a relay message and returns the newly proven messages (already-delivered
    ///         ones are skipped) with, for each, the MainHeight of the BTP block it belongs to.
    /// @return messages the messages packed: for each, its length (u32 big-endian) then its bytes
    /// @return heights one MainHeight per message, in the same order
    /// @param bmc BTP address of the calling BMC
    /// @param prev BTP address of the previous BMC (its network must be the source network)
    /// @param sn the BMC's receive sequence for the link (must equal the next message SN)
    /// @param relayMsg RLP relay message `[[ [type, bytes], ... ]]`
    function handleRelayMessage(string calldata bmc, string calldata prev, uint256 sn, bytes calldata relayMsg)
        external
        returns (bytes memory messages, uint256[] memory heights);

    /// @notice The source network's UID, e.g. `0x1.btc`.
    function getSrcNetworkId() external view returns (string memory);
}
