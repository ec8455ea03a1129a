// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title BareERC20
/// @notice Benchmark comparator: the smallest ERC-20 mint (one `mint(to, amount)` per transaction).
contract BareERC20 {
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    address public immutable minter;

    event Transfer(address indexed from, address indexed to, uint256 value);

    error NotMinter();

    constructor() {
        minter = msg.sender;
    }

    /// @notice Mints `amount` to `to` (minter only).
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter();
        totalSupply += amount;
        unchecked { balanceOf[to] += amount; }
        emit Transfer(address(0), to, amount);
    }
}
