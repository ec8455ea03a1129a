// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title BTCT
/// @notice The pegged Bitcoin token: ERC-20 (EIP-20), 8 decimals so 1 unit = 1 satoshi. Only the
///         Bitcoin token service (fixed at deployment) can mint and burn.
contract BTCT {
    string public constant name = "Bitcoin Token";
    string public constant symbol = "BTCT";
    uint8 public constant decimals = 8;

    /// @notice The only account allowed to mint and burn.
    address public immutable service;

    uint256 public totalSupply;
    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error NotService(address caller);
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error InvalidRecipient(address to);

    constructor(address service_) {
        service = service_;
    }

    modifier onlyService() {
        if (msg.sender != service) revert NotService(msg.sender);
        _;
    }

    /// @notice Moves `value` to `to`.
    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    /// @notice Moves `value` from `from` to `to` using the caller's allowance.
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 a = allowance[from][msg.sender];
        if (a != type(uint256).max) {
            if (a < value) revert InsufficientAllowance(msg.sender, a, value);
            unchecked { allowance[from][msg.sender] = a - value; }
        }
        _move(from, to, value);
        return true;
    }

    /// @notice Sets `spender`'s allowance over the caller's tokens.
    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice Mints `value` to `to` (service only).
    function mint(address to, uint256 value) external onlyService {
        if (to == address(0)) revert InvalidRecipient(to);
        totalSupply += value;
        unchecked { balanceOf[to] += value; }
        emit Transfer(address(0), to, value);
    }

    /// @notice Mints many amounts in one call (service only). `packed` holds 32-byte words
    ///         `amount << 160 | recipient`; one totalSupply write for the whole batch.
    function mintBatch(uint256[] calldata packed) external onlyService {
        uint256 sum;
        for (uint256 i; i < packed.length; ++i) {
            uint256 w = packed[i];
            address to = address(uint160(w));
            uint256 value = w >> 160;
            unchecked {
                sum += value;
                balanceOf[to] += value;
            }
            emit Transfer(address(0), to, value);
        }
        totalSupply += sum;
    }

    /// @notice Burns `value` from `from` (service only; the service burns what a user sends to Bitcoin).
    function burn(address from, uint256 value) external onlyService {
        uint256 b = balanceOf[from];
        if (b < value) revert InsufficientBalance(from, b, value);
        unchecked {
            balanceOf[from] = b - value;
            totalSupply -= value;
        }
        emit Transfer(from, address(0), value);
    }

    function _move(address from, address to, uint256 value) internal {
        if (to == address(0)) revert InvalidRecipient(to);
        uint256 b = balanceOf[from];
        if (b < value) revert InsufficientBalance(from, b, value);
        unchecked {
            balanceOf[from] = b - value;
            balanceOf[to] += value;
        }
        emit Transfer(from, to, value);
    }
}
