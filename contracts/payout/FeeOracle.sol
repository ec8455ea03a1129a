// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Roles} from "../access/Roles.sol";
import {IPayoutRegistry} from "./IPayoutCoordinatorDeps.sol";
import {EpochScripts} from "./EpochScripts.sol";

/// @title FeeOracle
/// @notice The payout fee rate (sat per 1000 vB, docs/PROTOCOL.md §4.2): set by governance, or the
///         median of the current validators' submitted estimates, always clamped to governance
///         bounds. Split off the payout coordinator for the 24 KB code-size limit.
contract FeeOracle is Roles {
    IPayoutRegistry public immutable registry;
    EpochScripts public immutable scripts;

    uint64 public feeRate = 10_000;
    uint64 public minFeeRate = 1_000;
    uint64 public maxFeeRate = 1_000_000;
    mapping(address validator => uint64) public feeEstimates;

    event FeeRateSet(uint256 feeRate);
    event FeeBoundsSet(uint256 minFeeRate, uint256 maxFeeRate);
    event FeeEstimateSubmitted(address indexed validator, uint256 rate);

    error FeeRateOutOfBounds(uint256 rate, uint256 min, uint256 max);
    error InvalidFeeBounds();
    error NotValidator(address caller);
    error NoEstimates();

    constructor(address admin, IPayoutRegistry registry_, EpochScripts scripts_) Roles(admin) {
        registry = registry_;
        scripts = scripts_;
    }

    /// @notice Sets the fee rate (admin), within the bounds.
    function setFeeRate(uint64 rate) external onlyRole(ADMIN_ROLE) {
        if (rate < minFeeRate || rate > maxFeeRate) revert FeeRateOutOfBounds(rate, minFeeRate, maxFeeRate);
        feeRate = rate;
        emit FeeRateSet(rate);
    }

    /// @notice Sets the bounds (admin); the current rate is clamped into them.
    function setFeeBounds(uint64 min, uint64 max) external onlyRole(ADMIN_ROLE) {
        if (min == 0 || min > max) revert InvalidFeeBounds();
        minFeeRate = min;
        maxFeeRate = max;
        emit FeeBoundsSet(min, max);
        uint64 r = feeRate < min ? min : feeRate > max ? max : feeRate;
        if (r != feeRate) {
            feeRate = r;
            emit FeeRateSet(r);
        }
    }

    /// @notice A validator of the current epoch (its script must be built) submits its estimate.
    function submitFeeEstimate(uint64 rate) external {
        if (scripts.epochMember(registry.currentEpoch(), msg.sender) == 0) revert NotValidator(msg.sender);
        feeEstimates[msg.sender] = rate;
        emit FeeEstimateSubmitted(msg.sender, rate);
    }

    /// @notice Sets the rate to the median of the current validators' estimates (missing ones
    ///         ignored; the lower median for an even count), clamped. Anyone may call.
    function updateFeeRate() external returns (uint256 rate) {
        address[] memory vs = registry.epochValidators(registry.currentEpoch());
        uint256[] memory xs = new uint256[](vs.length);
        uint256 n;
        for (uint256 i; i < vs.length; ++i) {
            uint256 x = feeEstimates[vs[i]];
            if (x == 0) continue;
            uint256 j = n++;
            while (j > 0 && xs[j - 1] > x) {
                xs[j] = xs[j - 1];
                --j;
            }
            xs[j] = x;
        }
        if (n == 0) revert NoEstimates();
        rate = xs[(n - 1) / 2];
        if (rate < minFeeRate) rate = minFeeRate;
        if (rate > maxFeeRate) rate = maxFeeRate;
        feeRate = uint64(rate);
        emit FeeRateSet(rate);
    }
}
