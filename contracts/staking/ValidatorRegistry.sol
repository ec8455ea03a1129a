// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Roles} from "../access/Roles.sol";
import {CodeStore} from "../libraries/CodeStore.sol";
import {IValidatorRegistry, IStakeSlashing} from "../interfaces/IValidatorRegistry.sol";

/// @title ValidatorRegistry
/// @notice Staking and the federation's validator sets by epoch (DESIGN.md §2 "Validator set
///         changes"). Stake changes take effect at the next epoch: {freezeNextEpoch} fixes the next
///         set (top stakes, churn-capped, ascending address order = the BTP ProofContext order) and
///         its activation time T; the set takes over at the first Bitcoin block whose
///         median-time-past is ≥ T, which the BMV reports through {activateEpoch} when it accepts the
///         BTP block carrying that NextProofContext. Parameters that affect BTP derivation are
///         scheduled by the same MTP rule ({scheduleParam}).
contract ValidatorRegistry is IValidatorRegistry, IStakeSlashing, Roles {
    struct Validator {
        address operator;
        uint96 stake;
        uint64 unbondingSince; // 0 while bonded
        bool registered;
        bool ejected; // equivocated: leaves at the next freeze, never selected again (DESIGN.md §2 "Slashing")
        uint32 lastEpochPlus1; // 1 + the last epoch whose set includes it (0: never in a set)
        bytes32 pubX;
        bytes32 pubY;
        bytes peerId;
    }

    struct Epoch {
        address setPtr; // CodeStore of the ascending address list
        uint64 frozenAt; // home timestamp
        uint64 activationMtp; // T: first Bitcoin block with MTP ≥ T
        uint64 activationBtcHeight; // set when the BMV accepts the switch
        bool frozen;
        bool active;
        uint64 activatedAt; // home timestamp of the switch (the previous set's duty winds down from here)
    }

    struct ParamEntry {
        uint64 activationMtp;
        uint256 value;
    }

    /// @notice Only this contract (the BMV) may report epoch activation.
    address public verifier;
    /// @notice Only this contract (the Slasher, set once) may slash stakes and eject validators.
    address public slasher;

    uint256 public minStake;
    uint64 public unbondingPeriod;
    uint32 public maxActive;
    uint32 public maxChurn;
    /// @notice Minimum seconds between a freeze and its activation time T (the scheduling margin).
    uint64 public activationMargin;
    /// @notice Minimum seconds between two freezes.
    uint64 public epochDuration;
    uint32 public constant MAX_CANDIDATES = 512;
    uint32 public constant MAX_SET = 160;

    mapping(address signer => Validator) internal _validators;
    mapping(address operator => address signer) public signerOf;
    address[] public candidates;

    mapping(uint256 epoch => Epoch) internal _epochs;
    uint256 public currentEpoch;
    bool public bootstrapped;

    mapping(bytes32 key => ParamEntry[]) internal _params;

    event Staked(address indexed signer, address indexed operator, uint256 amount, bytes compressedKey, bytes peerId);
    event StakeAdded(address indexed signer, uint256 amount, uint256 total);
    event UnstakeRequested(address indexed signer, uint256 availableAt);
    event StakeWithdrawn(address indexed signer, address indexed operator, uint256 amount);
    event EpochFrozen(uint256 indexed epoch, uint256 activationMtp, address[] validators);
    event EpochActivated(uint256 indexed epoch, uint256 btcHeight);
    event ParamScheduled(bytes32 indexed key, uint256 value, uint256 activationMtp);
    event VerifierSet(address verifier);
    event SlasherSet(address slasher);
    /// @notice `amount` of `signer`'s stake (bonded or unbonding) went to the slasher.
    event Slashed(address indexed signer, uint256 amount, uint256 remaining);
    /// @notice `signer` leaves at the next freeze and is never selected again.
    event Ejected(address indexed signer);
    event StakingParamsSet(uint256 minStake, uint256 unbondingPeriod, uint256 maxActive, uint256 maxChurn, uint256 activationMargin, uint256 epochDuration);

    error AlreadyRegistered(address signer);
    error OperatorHasValidator(address operator);
    error NotOperator(address caller);
    error StakeTooLow(uint256 amount, uint256 minimum);
    error InvalidPublicKey();
    error InvalidProofOfPossession();
    error TooManyCandidates();
    error AlreadyUnbonding();
    error NotUnbonding();
    error UnbondingNotOver(uint256 availableAt);
    error StillInValidatorSet(uint256 epoch);
    error NextEpochAlreadyFrozen(uint256 epoch);
    error EpochTooSoon(uint256 earliest);
    error EmptyValidatorSet();
    error NotVerifier(address caller);
    error EpochNotActivatable(uint256 epoch);
    error AlreadyBootstrapped();
    error NotBootstrapped();
    error ActivationTooSoon(uint256 activationMtp, uint256 earliest);
    error ActivationNotIncreasing();
    error VerifierAlreadySet();
    error InvalidStakingParams();
    error TransferFailed();
    error NotSlasher(address caller);
    error SlasherAlreadySet();
    error ValidatorEjected(address signer);

    /// @param admin ADMIN_ROLE holder (staking parameters, bootstrap, scheduled parameters)
    constructor(
        address admin,
        uint256 minStake_,
        uint64 unbondingPeriod_,
        uint32 maxActive_,
        uint32 maxChurn_,
        uint64 activationMargin_,
        uint64 epochDuration_
    ) Roles(admin) {
        _setParams(minStake_, unbondingPeriod_, maxActive_, maxChurn_, activationMargin_, epochDuration_);
    }

    // ------------------------------------------------------------------ staking

    /// @notice The digest a signing key signs to prove possession: keccak256("fednode:pop" ‖
    ///         chainId ‖ registry ‖ operator), signed raw (no EIP-191 prefix) like BTP decisions.
    function popDigest(address operator) public view returns (bytes32) {
        return keccak256(abi.encodePacked("fednode:pop", block.chainid, address(this), operator));
    }

    /// @notice Registers the caller as operator of a validator and stakes `msg.value`.
    /// @param publicKey the signing key's 64-byte uncompressed secp256k1 public key (x ‖ y)
    /// @param peerId the libp2p peer id (network key) bytes
    /// @param pop 65-byte R‖S‖V signature by the signing key over {popDigest}(msg.sender)
    function stake(bytes calldata publicKey, bytes calldata peerId, bytes calldata pop) external payable {
        if (publicKey.length != 64) revert InvalidPublicKey();
        address signer = address(uint160(uint256(keccak256(publicKey))));
        if (_validators[signer].registered) revert AlreadyRegistered(signer);
        if (_validators[signer].ejected) revert ValidatorEjected(signer);
        if (signerOf[msg.sender] != address(0)) revert OperatorHasValidator(msg.sender);
        if (msg.value < minStake) revert StakeTooLow(msg.value, minStake);
        if (candidates.length >= MAX_CANDIDATES) revert TooManyCandidates();
        if (_recover(popDigest(msg.sender), pop) != signer) revert InvalidProofOfPossession();
        _validators[signer] = Validator({
            operator: msg.sender,
            stake: uint96(msg.value),
            unbondingSince: 0,
            registered: true,
            ejected: false,
            lastEpochPlus1: 0,
            pubX: bytes32(publicKey[0:32]),
            pubY: bytes32(publicKey[32:64]),
            peerId: peerId
        });
        signerOf[msg.sender] = signer;
        candidates.push(signer);
        emit Staked(signer, msg.sender, msg.value, compressedKey(signer), peerId);
    }

    /// @notice Adds `msg.value` to the caller's bonded stake.
    function addStake() external payable {
        address signer = signerOf[msg.sender];
        if (signer == address(0)) revert NotOperator(msg.sender);
        Validator storage v = _validators[signer];
        if (v.unbondingSince != 0) revert AlreadyUnbonding();
        v.stake += uint96(msg.value);
        emit StakeAdded(signer, msg.value, v.stake);
    }

    /// @notice Starts unbonding the caller's whole stake; it leaves the set at a later freeze.
    function unstake() external {
        address signer = signerOf[msg.sender];
        if (signer == address(0)) revert NotOperator(msg.sender);
        Validator storage v = _validators[signer];
        if (v.unbondingSince != 0) revert AlreadyUnbonding();
        v.unbondingSince = uint64(block.timestamp);
        emit UnstakeRequested(signer, block.timestamp + unbondingPeriod);
    }

    /// @notice Pays out an unbonded (possibly slashed) stake. The validator's signing duty for the
    ///         scripts it belongs to, and its slashability, last through its unbonding period
    ///         (DESIGN.md §2 "Validator set changes"), so the period runs from the later of
    ///         {unstake} and the activation of the first epoch without it; it must be in neither
    ///         the current nor the frozen next set.
    function withdrawStake() external {
        address signer = signerOf[msg.sender];
        if (signer == address(0)) revert NotOperator(msg.sender);
        Validator storage v = _validators[signer];
        if (v.unbondingSince == 0) revert NotUnbonding();
        uint256 availableAt = uint256(v.unbondingSince) + unbondingPeriod;
        if (block.timestamp < availableAt) revert UnbondingNotOver(availableAt);
        uint256 last = v.lastEpochPlus1;
        if (last != 0) {
            // a member of epoch last-1's set: out only once epoch `last` (frozen without it) is
            // active, and its duty for last-1's script runs a further unbonding period from then
            if (currentEpoch < last) revert StillInValidatorSet(last - 1);
            availableAt = uint256(_epochs[last].activatedAt) + unbondingPeriod;
            if (block.timestamp < availableAt) revert UnbondingNotOver(availableAt);
        }
        uint256 amount = v.stake;
        v.stake = 0;
        v.registered = false;
        delete signerOf[msg.sender];
        _removeCandidate(signer);
        emit StakeWithdrawn(signer, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice When `signer`'s stake can be withdrawn under {withdrawStake}'s rule (0: not
    ///         unbonding). While it is still in the current or the frozen next set, `inSet` is
    ///         true and `availableAt` only a lower bound (its duty runs an unbonding period past
    ///         the activation of the first epoch without it).
    function withdrawableAt(address signer) external view returns (uint256 availableAt, bool inSet) {
        Validator storage v = _validators[signer];
        if (v.unbondingSince == 0) return (0, false);
        availableAt = uint256(v.unbondingSince) + unbondingPeriod;
        uint256 last = v.lastEpochPlus1;
        if (last == 0) return (availableAt, false);
        if (currentEpoch < last) return (availableAt, true);
        uint256 afterLeaving = uint256(_epochs[last].activatedAt) + unbondingPeriod;
        if (afterLeaving > availableAt) availableAt = afterLeaving;
    }

    // ------------------------------------------------------------------ slashing

    /// @notice Takes up to `amount` of `signer`'s stake, bonded or unbonding (unbonding stake
    ///         stays slashable, DESIGN.md §2), and sends it to the slasher, which splits it
    ///         between the evidence submitter and the treasury (docs/SLASHING.md).
    /// @return taken the amount actually taken (the stake may be smaller)
    function slash(address signer, uint256 amount) external returns (uint256 taken) {
        if (msg.sender != slasher) revert NotSlasher(msg.sender);
        Validator storage v = _validators[signer];
        uint256 s = v.stake;
        taken = amount < s ? amount : s;
        if (taken == 0) return 0;
        v.stake = uint96(s - taken);
        emit Slashed(signer, taken, s - taken);
        (bool ok,) = msg.sender.call{value: taken}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Ejects an equivocating validator: it starts unbonding now (if it was not), leaves
    ///         the set at the next freeze whatever the churn budget, and its key can never be
    ///         selected or registered again. A set already frozen keeps it (BTP derivation has
    ///         scheduled it); its duty there and its slashability continue.
    function eject(address signer) external {
        if (msg.sender != slasher) revert NotSlasher(msg.sender);
        Validator storage v = _validators[signer];
        if (v.ejected) return;
        v.ejected = true;
        if (v.unbondingSince == 0 && v.registered) {
            v.unbondingSince = uint64(block.timestamp);
            emit UnstakeRequested(signer, block.timestamp + unbondingPeriod);
        }
        emit Ejected(signer);
    }

    // ------------------------------------------------------------------ epochs

    /// @notice Freezes epoch 0 from the current stakers and activates it at once (admin, once).
    function bootstrap() external onlyRole(ADMIN_ROLE) {
        if (bootstrapped) revert AlreadyBootstrapped();
        bootstrapped = true;
        address[] memory set = _selectSet(new address[](0), type(uint32).max);
        _freeze(0, set, uint64(block.timestamp));
        _epochs[0].active = true;
        _epochs[0].activatedAt = uint64(block.timestamp);
        emit EpochActivated(0, 0);
    }

    /// @notice Freezes the next epoch's set and schedules it for the first Bitcoin block with
    ///         MTP ≥ now + activationMargin. Anyone may call once `epochDuration` has passed.
    /// @return epoch the frozen epoch number
    function freezeNextEpoch() external returns (uint256 epoch) {
        if (!bootstrapped) revert NotBootstrapped();
        epoch = currentEpoch + 1;
        if (_epochs[epoch].frozen) revert NextEpochAlreadyFrozen(epoch);
        uint256 earliest = uint256(_epochs[currentEpoch].frozenAt) + epochDuration;
        if (block.timestamp < earliest) revert EpochTooSoon(earliest);
        address[] memory set = _selectSet(CodeStore.readAddresses(_epochs[currentEpoch].setPtr), maxChurn);
        _freeze(epoch, set, uint64(block.timestamp + activationMargin));
    }

    /// @inheritdoc IValidatorRegistry
    function activateEpoch(uint256 epoch, uint256 btcHeight) external {
        if (msg.sender != verifier) revert NotVerifier(msg.sender);
        if (epoch != currentEpoch + 1 || !_epochs[epoch].frozen) revert EpochNotActivatable(epoch);
        currentEpoch = epoch;
        _epochs[epoch].active = true;
        _epochs[epoch].activationBtcHeight = uint64(btcHeight);
        _epochs[epoch].activatedAt = uint64(block.timestamp);
        emit EpochActivated(epoch, btcHeight);
    }

    function _freeze(uint256 epoch, address[] memory set, uint64 activationMtp) internal {
        if (set.length == 0) revert EmptyValidatorSet();
        _sortAscending(set);
        Epoch storage e = _epochs[epoch];
        e.setPtr = CodeStore.writeAddresses(set);
        e.frozenAt = uint64(block.timestamp);
        e.activationMtp = activationMtp;
        e.frozen = true;
        // remembered per member so {withdrawStake} knows when its duty ends without scanning epochs
        for (uint256 i; i < set.length; ++i) _validators[set[i]].lastEpochPlus1 = uint32(epoch + 1);
        emit EpochFrozen(epoch, activationMtp, set);
    }

    /// @dev Top `maxActive` eligible candidates by stake (ties: lower address first), then moved
    ///      toward from `current` by at most `churn` additions plus removals: ineligible members
    ///      leave first, then the weakest members are swapped for the strongest newcomers, then
    ///      free seats are filled.
    function _selectSet(address[] memory current, uint256 churn) internal view returns (address[] memory) {
        uint256 n = candidates.length;
        address[] memory elig = new address[](n);
        uint256 m;
        for (uint256 i; i < n; ++i) {
            address c = candidates[i];
            Validator storage v = _validators[c];
            if (v.unbondingSince == 0 && !v.ejected && v.stake >= minStake) elig[m++] = c;
        }
        // insertion sort by stake desc (m ≤ MAX_CANDIDATES)
        for (uint256 i = 1; i < m; ++i) {
            address x = elig[i];
            uint256 j = i;
            while (j > 0 && _stronger(x, elig[j - 1])) {
                elig[j] = elig[j - 1];
                j--;
            }
            elig[j] = x;
        }
        uint256 cap = maxActive < MAX_SET ? maxActive : MAX_SET;
        uint256 k = m < cap ? m : cap;
        address[] memory desired = new address[](k);
        for (uint256 i; i < k; ++i) desired[i] = elig[i];
        if (churn == type(uint32).max) return desired;

        // Start from the current set and apply bounded changes.
        address[] memory next = new address[](current.length + k);
        uint256 len;
        for (uint256 i; i < current.length; ++i) next[len++] = current[i];
        uint256 budget = churn;
        // 1. ejected members leave whatever the budget (an equivocator must not sign another
        //    epoch, DESIGN.md §2 "Slashing"); other ineligible members leave within the budget
        for (uint256 i; i < len; ) {
            if (_validators[next[i]].ejected) {
                next[i] = next[--len];
                if (budget > 0) budget--;
            } else if (budget > 0 && !_contains(elig, m, next[i])) {
                next[i] = next[--len];
                budget--;
            } else {
                i++;
            }
        }
        // 2. swaps: strongest desired newcomer replaces the weakest member not in `desired`
        for (uint256 d; d < k && budget >= 2; ++d) {
            address add = desired[d];
            if (_contains(next, len, add)) continue;
            uint256 weakest = type(uint256).max;
            for (uint256 i; i < len; ++i) {
                if (_contains(desired, k, next[i])) continue;
                if (weakest == type(uint256).max || _stronger(next[weakest], next[i])) weakest = i;
            }
            if (weakest == type(uint256).max) {
                // 3. a free seat
                if (len < k) {
                    next[len++] = add;
                    budget--;
                }
                continue;
            }
            next[weakest] = add;
            budget -= 2;
        }
        // 3. remaining free seats with a single unit of budget left
        for (uint256 d; d < k && budget > 0 && len < k; ++d) {
            if (_contains(next, len, desired[d])) continue;
            next[len++] = desired[d];
            budget--;
        }
        assembly ("memory-safe") { mstore(next, len) }
        return next;
    }

    function _stronger(address a, address b) internal view returns (bool) {
        uint256 sa = _validators[a].stake;
        uint256 sb = _validators[b].stake;
        return sa > sb || (sa == sb && a < b);
    }

    function _contains(address[] memory list, uint256 len, address a) internal pure returns (bool) {
        for (uint256 i; i < len; ++i) if (list[i] == a) return true;
        return false;
    }

    function _sortAscending(address[] memory a) internal pure {
        for (uint256 i = 1; i < a.length; ++i) {
            address x = a[i];
            uint256 j = i;
            while (j > 0 && a[j - 1] > x) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = x;
        }
    }

    function _removeCandidate(address signer) internal {
        uint256 n = candidates.length;
        for (uint256 i; i < n; ++i) {
            if (candidates[i] == signer) {
                candidates[i] = candidates[n - 1];
                candidates.pop();
                return;
            }
        }
    }

    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        if (sig.length != 65) return address(0);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if (v != 27 && v != 28) return address(0);
        return ecrecover(digest, v, bytes32(sig[0:32]), bytes32(sig[32:64]));
    }

    // ------------------------------------------------------------------ scheduled parameters

    /// @notice Schedules `value` for parameter `key` from the first Bitcoin block with MTP ≥
    ///         `activationMtp`, which must be at least `activationMargin` ahead (admin).
    function scheduleParam(bytes32 key, uint256 value, uint64 activationMtp) external onlyRole(ADMIN_ROLE) {
        uint256 earliest = block.timestamp + activationMargin;
        if (activationMtp < earliest) revert ActivationTooSoon(activationMtp, earliest);
        ParamEntry[] storage h = _params[key];
        if (h.length != 0 && h[h.length - 1].activationMtp >= activationMtp) revert ActivationNotIncreasing();
        h.push(ParamEntry(activationMtp, value));
        emit ParamScheduled(key, value, activationMtp);
    }

    /// @notice The value of `key` in force at Bitcoin median-time-past `mtp` (0 and false if none).
    function paramAt(bytes32 key, uint256 mtp) external view returns (uint256 value, bool set) {
        ParamEntry[] storage h = _params[key];
        for (uint256 i = h.length; i > 0; --i) {
            if (h[i - 1].activationMtp <= mtp) return (h[i - 1].value, true);
        }
        return (0, false);
    }

    /// @notice Every scheduled entry of `key` (activation MTPs ascending).
    function paramHistory(bytes32 key) external view returns (ParamEntry[] memory) {
        return _params[key];
    }

    // ------------------------------------------------------------------ admin

    /// @notice Sets the BMV allowed to activate epochs (admin, once).
    function setVerifier(address verifier_) external onlyRole(ADMIN_ROLE) {
        if (verifier != address(0)) revert VerifierAlreadySet();
        verifier = verifier_;
        emit VerifierSet(verifier_);
    }

    /// @notice Sets the slashing contract allowed to {slash} and {eject} (admin, once).
    function setSlasher(address slasher_) external onlyRole(ADMIN_ROLE) {
        if (slasher != address(0)) revert SlasherAlreadySet();
        if (slasher_ == address(0)) revert ZeroAddress();
        slasher = slasher_;
        emit SlasherSet(slasher_);
    }

    /// @notice Sets the staking parameters (admin); they apply from the next freeze.
    function setStakingParams(
        uint256 minStake_,
        uint64 unbondingPeriod_,
        uint32 maxActive_,
        uint32 maxChurn_,
        uint64 activationMargin_,
        uint64 epochDuration_
    ) external onlyRole(ADMIN_ROLE) {
        _setParams(minStake_, unbondingPeriod_, maxActive_, maxChurn_, activationMargin_, epochDuration_);
    }

    function _setParams(uint256 a, uint64 b, uint32 c, uint32 d, uint64 e, uint64 f) internal {
        if (c == 0 || c > MAX_SET || d == 0) revert InvalidStakingParams();
        minStake = a;
        unbondingPeriod = b;
        maxActive = c;
        maxChurn = d;
        activationMargin = e;
        epochDuration = f;
        emit StakingParamsSet(a, b, c, d, e, f);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IValidatorRegistry
    function epochValidators(uint256 epoch) public view returns (address[] memory) {
        return CodeStore.readAddresses(_epochs[epoch].setPtr);
    }

    /// @inheritdoc IValidatorRegistry
    function isFrozen(uint256 epoch) external view returns (bool) {
        return _epochs[epoch].frozen;
    }

    /// @notice An epoch's schedule: freeze time, activation MTP T, activation Bitcoin height, flags.
    function epochInfo(uint256 epoch)
        external
        view
        returns (uint256 frozenAt, uint256 activationMtp, uint256 activationBtcHeight, bool frozen, bool active)
    {
        Epoch storage e = _epochs[epoch];
        return (e.frozenAt, e.activationMtp, e.activationBtcHeight, e.frozen, e.active);
    }

    /// @notice The set of `epoch` with public keys (64-byte), stakes and peer ids, in set order.
    function epochDetails(uint256 epoch)
        external
        view
        returns (address[] memory signers, bytes[] memory publicKeys, uint256[] memory stakes, bytes[] memory peerIds)
    {
        signers = epochValidators(epoch);
        publicKeys = new bytes[](signers.length);
        stakes = new uint256[](signers.length);
        peerIds = new bytes[](signers.length);
        for (uint256 i; i < signers.length; ++i) {
            Validator storage v = _validators[signers[i]];
            publicKeys[i] = abi.encodePacked(v.pubX, v.pubY);
            stakes[i] = v.stake;
            peerIds[i] = v.peerId;
        }
    }

    /// @notice A validator's record.
    function validatorInfo(address signer)
        external
        view
        returns (address operator, uint256 stakeAmount, uint256 unbondingSince, bytes memory publicKey, bytes memory peerId)
    {
        Validator storage v = _validators[signer];
        return (v.operator, v.stake, v.unbondingSince, abi.encodePacked(v.pubX, v.pubY), v.peerId);
    }

    /// @notice The 33-byte compressed public key (the validator's key in the Bitcoin script).
    function compressedKey(address signer) public view returns (bytes memory) {
        Validator storage v = _validators[signer];
        return abi.encodePacked(uint8(uint256(v.pubY) & 1 == 1 ? 0x03 : 0x02), v.pubX);
    }

    /// @notice A validator's stake (bonded or unbonding; 0 once withdrawn) and whether it was ejected.
    function stakeOf(address signer) external view returns (uint256 amount, bool ejected) {
        Validator storage v = _validators[signer];
        return (v.stake, v.ejected);
    }

    /// @notice Number of registered candidates.
    function candidateCount() external view returns (uint256) {
        return candidates.length;
    }
}
