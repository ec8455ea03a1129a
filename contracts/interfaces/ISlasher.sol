// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IBmvParticipation
/// @notice What the slasher reads from the eth-type BMV (contracts/btp/BtpMessageVerifier.sol):
///         the participation record of each accepted BTP block and the constants a decision
///         must carry.
interface IBmvParticipation {
    /// @return signers bit i = validator i of the block's ProofContext has a recorded signature
    /// @return setId the ProofContext that verified the block
    /// @return acceptedAt home block number of acceptance (0: unknown block)
    function blockRecord(uint256 height) external view returns (uint256 signers, uint256 setId, uint256 acceptedAt);

    /// @notice ProofContext `setId` in ascending address order.
    function getValidators(uint256 setId) external view returns (address[] memory);

    /// @notice Registry epoch of ProofContext `setId`.
    function setEpoch(uint256 setId) external view returns (uint256);

    /// @notice Home blocks after acceptance during which `recordSignature` is open.
    function signatureWindow() external view returns (uint64);

    /// @notice The federation's SrcNetworkUID, e.g. `0x1.btc`.
    function getSrcNetworkId() external view returns (string memory);

    /// @notice The destination network type id (DstNetworkTypeID of every decision).
    function networkTypeId() external view returns (uint256);
}

/// @title ISlasher
/// @notice How nodes and keepers trigger slashing (docs/SLASHING.md). Anyone may call; evidence
///         submitters are rewarded with a share of the slashed stake.
interface ISlasher {
    /// @notice Slashes every validator of BTP block `height`'s set with no recorded signature, once
    ///         the duty deadline passed: `max(T, BMV signatureWindow)` home blocks after acceptance.
    /// @return missed number of validators found missing (each slashed up to the per-epoch cap)
    function reportMissedBlock(uint256 height) external returns (uint256 missed);

    /// @notice Same for an approved payout batch (IPayoutDuties.batchDuty), T blocks after approval.
    function reportMissedBatch(uint256 batchId) external returns (uint256 missed);

    /// @notice Equivocation (a): two signatures by `validator` over different
    ///         NetworkTypeSectionDecisions (ICON RLP preimages) for the same BTP height.
    function submitBtpEquivocation(
        address validator,
        bytes calldata decisionA,
        bytes calldata signatureA,
        bytes calldata decisionB,
        bytes calldata signatureB
    ) external;

    /// @notice Equivocation (b): `validator`'s signature (r‖s‖v, v ∈ {0,1}) over the sha256d of a
    ///         SIGHASH_ALL BIP-143 `preimage` that spends a federation outpoint with a sighash the
    ///         payout coordinator never derived.
    function submitBitcoinEquivocation(address validator, bytes calldata preimage, bytes calldata signature) external;

    /// @notice Pays the caller's accumulated submitter rewards.
    function claimReward() external;

    /// @notice Sends the treasury's accumulated share to the treasury address (anyone).
    function payTreasury() external;
}
