// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice What the payout coordinator reads from and asks of the Bitcoin token service.
interface IPayoutBsh {
    function utxos(bytes32 outpoint) external view returns (uint256);
    function heightDepositCount(uint256 btpHeight) external view returns (uint256);
    function depositHeights(uint256 i) external view returns (uint64);
    function depositHeightCount() external view returns (uint256);
    function depositedTotal() external view returns (uint256);
    function nextWithdrawalId() external view returns (uint64);
    function withdrawnNetTotal() external view returns (uint192);
    function withdrawals(uint256 id) external view returns (address from, uint256 amount, uint8 status, bytes memory script);
    function refundWithdrawal(uint256 id) external;
    function setFederationScript(bytes memory script, bool isFederation) external;
    function token() external view returns (address);
}

/// @notice What the payout coordinator reads from the validator registry.
interface IPayoutRegistry {
    function currentEpoch() external view returns (uint256);
    function epochValidators(uint256 epoch) external view returns (address[] memory);
    function compressedKey(address signer) external view returns (bytes memory);
}

interface ISupply {
    function totalSupply() external view returns (uint256);
}
