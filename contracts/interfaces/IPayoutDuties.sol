// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice What the payout coordinator tells the slashing contract: which Bitcoin sighashes the
/// home contract derived (signing anything else is equivocation, DESIGN.md §2 "Slashing"), which
/// outpoints were ever federation UTXOs, and who recorded witnesses for each approved batch
/// (missed duty). Implemented by `PayoutCoordinator`, read by the slasher.
interface IPayoutDuties {
    /// @return true if `sighash` is the BIP-143 sighash of an input of any version of any batch
    /// the contract closed (or fee-bumped, or a sweep).
    function isDerivedSighash(bytes32 sighash) external view returns (bool);

    /// @return true if the outpoint (txid in internal byte order, as in a BIP-143 preimage) was
    /// ever in the federation ledger (spent or unspent), including the bootstrap reserve.
    function wasFederationOutpoint(bytes32 txid, uint32 vout) external view returns (bool);

    /// @return approvedAt home block number of `BatchApproved` (0: not approved, no duty yet)
    /// @return epoch the registry epoch whose validators had the duty (the batch's signing set)
    /// @return signedBitmap bit i set when validator i of `epoch` (registry `epochValidators`
    ///         order, ascending) recorded a valid signature for every input holding its key
    ///         (recording after approval still counts, until the duty deadline)
    function batchDuty(uint256 batchId) external view returns (uint64 approvedAt, uint32 epoch, uint256 signedBitmap);
}
