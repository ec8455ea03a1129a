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

/// @title IStakeSlashing
/// @notice What the Slasher (contracts/slashing/Slasher.sol) may do to stakes in the registry;
///         only the slasher address set once in the registry may call the mutating functions.
interface IStakeSlashing {
    /// @notice Takes up to `amount` of `signer`'s stake (bonded or unbonding) and sends it to the
    ///         caller (the slasher).
    /// @return taken what was actually taken (at most the remaining stake)
    function slash(address signer, uint256 amount) external returns (uint256 taken);

    /// @notice Marks `signer` ejected: it leaves at the next freeze and is never selected again.
    function eject(address signer) external;

    /// @notice `signer`'s slashable stake (bonded or unbonding) and whether it was ejected.
    function stakeOf(address signer) external view returns (uint256 amount, bool ejected);
}
