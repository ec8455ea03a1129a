// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IValidatorRegistry
/// @notice What the BMV and the token service read from the staking registry.
interface IValidatorRegistry {
    /// @notice The epoch whose set currently signs BTP blocks.
    function currentEpoch() external view returns (uint256);

    /// @notice Signing addresses of `epoch` in canonical (ascending) order; empty if unknown.
    function epochValidators(uint256 epoch) external view returns (address[] memory);

    /// @notice True once `epoch`'s set has been frozen.
    function isFrozen(uint256 epoch) external view returns (bool);

    /// @notice Called by the BMV when the BTP block carrying `epoch`'s ProofContext is accepted;
    ///         `btcHeight` is that block's MainHeight (the new set signs every later height).
    function activateEpoch(uint256 epoch, uint256 btcHeight) external;
}
