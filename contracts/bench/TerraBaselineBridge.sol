// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title TerraBaselineBridge
/// @notice Benchmark baseline in the style of the Terra-Bridge proposal: each validator sends its own
///         `submitSignature(deposit, signature)` transaction; the contract checks it with
///         `ecrecover`, records a bitmap vote, and mints on the last vote needed (N/2+1). Written
///         to be as cheap as that scheme allows (immutable threshold, one storage slot per deposit,
///         signer index passed in) so the comparison is fair.
contract TerraBaselineBridge {
    struct Deposit {
        bytes32 txid;
        uint32 vout;
        address recipient;
        uint64 amount;
    }

    uint256 public immutable threshold;
    mapping(address => uint256) public validatorIndex; // index + 1
    /// @notice Vote bitmap per deposit id; bit 255 marks a completed mint.
    mapping(bytes32 depositId => uint256) public votes;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Vote(bytes32 indexed depositId, address indexed validator);

    error NotValidator();
    error AlreadyVoted();
    error AlreadyMinted();

    constructor(address[] memory validators) {
        for (uint256 i; i < validators.length; ++i) validatorIndex[validators[i]] = i + 1;
        threshold = validators.length / 2 + 1;
    }

    /// @notice The id validators sign (raw keccak, no prefix).
    function depositId(Deposit calldata d) public pure returns (bytes32) {
        return keccak256(abi.encode(d.txid, d.vout, d.recipient, d.amount));
    }

    /// @notice Records one validator's signature over a deposit; mints at the threshold.
    /// @param d the deposit
    /// @param signature 65-byte R‖S‖V (V 27/28)
    function submitSignature(Deposit calldata d, bytes calldata signature) external {
        bytes32 id = depositId(d);
        address signer = ecrecover(id, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64]));
        uint256 idx = validatorIndex[signer];
        if (idx == 0) revert NotValidator();
        uint256 v = votes[id];
        if (v >> 255 != 0) revert AlreadyMinted();
        uint256 bit = 1 << (idx - 1);
        if (v & bit != 0) revert AlreadyVoted();
        v |= bit;
        emit Vote(id, signer);
        uint256 count;
        for (uint256 x = v; x != 0; x &= x - 1) count++;
        if (count >= threshold) {
            v |= 1 << 255;
            totalSupply += d.amount;
            unchecked { balanceOf[d.recipient] += d.amount; }
            emit Transfer(address(0), d.recipient, d.amount);
        }
        votes[id] = v;
    }
}
