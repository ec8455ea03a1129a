// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Roles} from "../access/Roles.sol";
import {IconRlp} from "../libraries/IconRlp.sol";
import {IValidatorRegistry, IStakeSlashing} from "../interfaces/IValidatorRegistry.sol";
import {IPayoutDuties} from "../interfaces/IPayoutDuties.sol";
import {IBmvParticipation, ISlasher} from "../interfaces/ISlasher.sol";

interface IRegistry is IValidatorRegistry, IStakeSlashing {}

/// @title Slasher
/// @notice Slashing on the home contract (DESIGN.md §2 "Slashing", docs/SLASHING.md):
///         - missed duty: a validator of the duty's epoch with no recorded signature for a BTP
///           block, or for an approved payout batch, T home blocks after acceptance/approval loses
///           `missedDutyBps` of its stake per duty, at most `missedDutyCapBps` per epoch (a flood of
///           small deposits during a short outage cannot wipe a stake);
///         - equivocation: (a) two signed decisions for one BTP height, (b) a signature over a
///           federation-spending BIP-143 preimage whose sighash no batch produced. Slashes
///           `equivocationBps`, ejects the validator from the next freeze on.
///         Slashed stake comes here from the registry: `reporterBps` (equivocation) or `keeperBps`
///         (missed duty) of it is credited to whoever triggered the slash (pull: {claimReward}),
///         the rest to the governance treasury
///         ({payTreasury}). Stakes stay in the registry; only it can move them, and only this
///         contract (set there once) can make it.
contract Slasher is ISlasher, Roles {
    using IconRlp for IconRlp.Item;

    uint8 public constant KIND_BTP = 0;
    uint8 public constant KIND_BITCOIN = 1;
    uint256 internal constant BPS = 10_000;
    /// @dev n/2 of secp256k1: a higher S is the malleable twin; the TypeScript verifiers refuse it
    ///      (src/chains/btp/secp256k1.ts), so the contract does too.
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// @dev The TypeScript decoder's integer limit (asUint: 2^53 − 1, RLP_INT_RANGE).
    uint256 internal constant MAX_SAFE_INT = 2 ** 53 - 1;
    uint32 internal constant SIGHASH_ALL = 1;

    struct Params {
        uint64 dutyBlocks; // T: home blocks after acceptance/approval before a missing signature is slashable
        uint16 missedDutyBps; // per missed duty, of the validator's stake at its first miss in the epoch
        uint16 missedDutyCapBps; // per validator per epoch, same base
        uint16 equivocationBps; // per piece of equivocation evidence, of the current stake
        uint16 reporterBps; // share of an equivocation slash credited to the evidence submitter
        uint16 keeperBps; // share of a missed-duty slash credited to the caller who reported it
    }

    /// @dev Missed-duty slashing of one validator in one epoch: the stake it is measured against
    ///      (taken at the first miss) and what was already taken.
    struct Tally {
        uint128 base;
        uint128 slashed;
    }

    IRegistry public immutable registry;
    IBmvParticipation public immutable bmv;
    bytes32 internal immutable _srcUidHash;
    uint256 internal immutable _networkTypeId;

    /// @notice The payout coordinator (set once; the Bitcoin paths need it).
    IPayoutDuties public payout;
    /// @notice Where the non-reporter share of slashed stake goes (governance).
    address public treasury;
    Params public params;

    mapping(uint256 height => bool) public blockSettled;
    mapping(uint256 batchId => bool) public batchSettled;
    mapping(address validator => mapping(uint256 height => bool)) public btpEvidenceUsed;
    mapping(address validator => mapping(bytes32 sighash => bool)) public bitcoinEvidenceUsed;
    mapping(uint256 epoch => mapping(address validator => Tally)) internal _tally;
    mapping(address reporter => uint256) public rewardOf;
    /// @notice Slashed funds owed to the treasury.
    uint256 public treasuryOwed;

    event MissedDutySlashed(uint8 indexed kind, uint256 indexed dutyId, address indexed validator, uint256 epoch, uint256 amount);
    event DutySettled(uint8 indexed kind, uint256 indexed dutyId, address reporter, uint256 missed, uint256 slashed);
    event EquivocationSlashed(uint8 indexed kind, address indexed validator, bytes32 evidence, address indexed reporter, uint256 amount, uint256 reward);
    event RewardClaimed(address indexed reporter, uint256 amount);
    event TreasuryPaid(address indexed treasury, uint256 amount);
    event ParamsSet(uint256 dutyBlocks, uint256 missedDutyBps, uint256 missedDutyCapBps, uint256 equivocationBps, uint256 reporterBps, uint256 keeperBps);
    event TreasurySet(address treasury);
    event PayoutDutiesSet(address payout);

    error UnknownBlock(uint256 height);
    error BatchNotApproved(uint256 batchId);
    error DutyNotDue(uint256 deadline);
    error DutyAlreadySettled(uint8 kind, uint256 dutyId);
    /// @notice `which` (0: A, 1: B) is not a canonical NetworkTypeSectionDecision.
    error MalformedDecision(uint256 which);
    /// @notice `which` names another source network or network type than this BMV's.
    error ForeignDecision(uint256 which);
    error HeightMismatch(uint256 heightA, uint256 heightB);
    error SameDecision();
    /// @notice signature `which` (0: A, 1: B, or the Bitcoin one) does not recover to the validator.
    error SignatureNotByValidator(uint256 which);
    error EvidenceAlreadyUsed(address validator, bytes32 evidence);
    error NoStake(address validator);
    error MalformedPreimage();
    error NotSighashAll(uint256 hashType);
    error NotFederationOutpoint(bytes32 txid, uint256 vout);
    error DerivedSighash(bytes32 sighash);
    error PayoutDutiesNotSet();
    error PayoutDutiesAlreadySet();
    error InvalidParams();
    error NothingToClaim();
    error TransferFailed();
    error NotRegistry(address sender);

    /// @param admin ADMIN_ROLE (parameters, treasury, payout coordinator once)
    /// @param registry_ the ValidatorRegistry (which must name this contract with `setSlasher`)
    /// @param bmv_ the BTP message verifier whose participation records define BTP duties
    /// @param payout_ the payout coordinator (IPayoutDuties), or zero to set it later once
    /// @param treasury_ receives the non-reporter share of slashed stake
    constructor(address admin, IRegistry registry_, IBmvParticipation bmv_, IPayoutDuties payout_, address treasury_, Params memory p)
        Roles(admin)
    {
        if (address(registry_) == address(0) || address(bmv_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        registry = registry_;
        bmv = bmv_;
        _srcUidHash = keccak256(bytes(bmv_.getSrcNetworkId()));
        _networkTypeId = bmv_.networkTypeId();
        payout = payout_;
        treasury = treasury_;
        _setParams(p);
        if (address(payout_) != address(0)) emit PayoutDutiesSet(address(payout_));
        emit TreasurySet(treasury_);
    }

    /// @dev Slashed stake arrives from the registry only.
    receive() external payable {
        if (msg.sender != address(registry)) revert NotRegistry(msg.sender);
    }

    // ------------------------------------------------------------------ missed duty

    /// @inheritdoc ISlasher
    function reportMissedBlock(uint256 height) external returns (uint256 missed) {
        if (blockSettled[height]) revert DutyAlreadySettled(KIND_BTP, height);
        (uint256 signers, uint256 setId, uint256 acceptedAt) = bmv.blockRecord(height);
        if (acceptedAt == 0) revert UnknownBlock(height);
        // A validator may record its signature until the BMV's window closes; never slash before
        // that, nor before T (DESIGN.md §2: "within T home blocks of its acceptance on chain").
        uint256 window = bmv.signatureWindow();
        uint256 t = params.dutyBlocks;
        uint256 deadline = acceptedAt + (window > t ? window : t);
        if (block.number <= deadline) revert DutyNotDue(deadline);
        blockSettled[height] = true;
        missed = _slashMissing(KIND_BTP, height, bmv.setEpoch(setId), bmv.getValidators(setId), signers);
    }

    /// @inheritdoc ISlasher
    function reportMissedBatch(uint256 batchId) external returns (uint256 missed) {
        if (batchSettled[batchId]) revert DutyAlreadySettled(KIND_BITCOIN, batchId);
        (uint64 approvedAt, uint32 epoch, uint256 signed) = _payout().batchDuty(batchId);
        if (approvedAt == 0) revert BatchNotApproved(batchId);
        uint256 deadline = uint256(approvedAt) + params.dutyBlocks;
        if (block.number <= deadline) revert DutyNotDue(deadline);
        batchSettled[batchId] = true;
        missed = _slashMissing(KIND_BITCOIN, batchId, epoch, registry.epochValidators(epoch), signed);
    }

    function _slashMissing(uint8 kind, uint256 dutyId, uint256 epoch, address[] memory vs, uint256 signed)
        internal
        returns (uint256 missed)
    {
        Params memory p = params;
        uint256 total;
        for (uint256 i; i < vs.length; ++i) {
            if (signed & (uint256(1) << i) != 0) continue;
            missed++;
            uint256 taken = _slashMissed(p, epoch, vs[i]);
            total += taken;
            emit MissedDutySlashed(kind, dutyId, vs[i], epoch, taken);
        }
        // Kept apart from the evidence reward: a relayer that leaves valid signatures out of its
        // proof must not profit much from the misses it provoked (victims can still
        // recordSignature within the BMV's window).
        _distribute(total, p.keeperBps);
        emit DutySettled(kind, dutyId, msg.sender, missed, total);
    }

    /// @dev Takes `missedDutyBps` of the validator's stake at its first miss in `epoch`, clipped so
    ///      the epoch's total stays within `missedDutyCapBps` of that same base.
    function _slashMissed(Params memory p, uint256 epoch, address v) internal returns (uint256 taken) {
        Tally storage t = _tally[epoch][v];
        uint256 base = t.base;
        if (base == 0) {
            (base,) = registry.stakeOf(v);
            if (base == 0) return 0;
            t.base = uint128(base);
        }
        uint256 cap = base * p.missedDutyCapBps / BPS;
        uint256 done = t.slashed;
        if (done >= cap) return 0; // also when governance lowered the cap mid-epoch
        uint256 amount = base * p.missedDutyBps / BPS;
        if (done + amount > cap) amount = cap - done;
        if (amount == 0) return 0;
        taken = registry.slash(v, amount);
        t.slashed = uint128(done + taken);
    }

    // ------------------------------------------------------------------ equivocation (a): BTP

    /// @inheritdoc ISlasher
    function submitBtpEquivocation(
        address validator,
        bytes calldata decisionA,
        bytes calldata signatureA,
        bytes calldata decisionB,
        bytes calldata signatureB
    ) external {
        // Exactly what src/consensus/equivocation.ts verifyBtpEquivocation accepts, plus the
        // network check against this BMV: canonical preimages, same height, same SrcNetworkUID
        // and DstNetworkTypeID (this federation's), different hashes, both signatures by `validator`.
        uint256 heightA = _decisionHeight(decisionA, 0);
        uint256 heightB = _decisionHeight(decisionB, 1);
        if (heightA != heightB) revert HeightMismatch(heightA, heightB);
        bytes32 hashA = keccak256(decisionA);
        bytes32 hashB = keccak256(decisionB);
        if (hashA == hashB) revert SameDecision();
        if (_recover(hashA, signatureA) != validator) revert SignatureNotByValidator(0);
        if (_recover(hashB, signatureB) != validator) revert SignatureNotByValidator(1);
        // One piece of evidence per validator and height: a third conflicting decision at the same
        // height is the same offence.
        if (btpEvidenceUsed[validator][heightA]) revert EvidenceAlreadyUsed(validator, bytes32(heightA));
        btpEvidenceUsed[validator][heightA] = true;
        _slashEquivocation(KIND_BTP, validator, bytes32(heightA));
    }

    /// @dev The Height of a decision preimage, after checking that it is a canonical ICON-RLP
    ///      NetworkTypeSectionDecision of this federation (reverts MalformedDecision /
    ///      ForeignDecision(which)).
    function _decisionHeight(bytes calldata d, uint256 which) internal view returns (uint256 height) {
        bytes32 srcHash;
        uint256 ntid;
        try this.decodeDecision(d) returns (bytes32 s, uint256 n, uint256 h, uint256, bytes32) {
            (srcHash, ntid, height) = (s, n, h);
        } catch {
            revert MalformedDecision(which);
        }
        if (srcHash != _srcUidHash || ntid != _networkTypeId) revert ForeignDecision(which);
    }

    /// @notice Decodes a NetworkTypeSectionDecision `[SrcNetworkUID, DstNetworkTypeID, Height,
    ///         Round, NTSHash]` and reverts unless `d` is its canonical ICON-RLP encoding with
    ///         integers ≤ 2^53 − 1 — the inputs the TypeScript decoder (src/chains/btp/codec.ts
    ///         decodeDecision) accepts. Re-encoding and comparing makes the on-chain reader exactly
    ///         as strict as the off-chain one without a second canonical decoder. UTF-8 validity
    ///         of SrcNetworkUID is not checked here: evidence must carry this BMV's UID anyway
    ///         (`ForeignDecision`), which is valid UTF-8 (test/contracts/slashing.test.ts checks
    ///         this parity on edge encodings and every one-byte mutation of a decision).
    /// @return srcHash keccak256 of the SrcNetworkUID bytes
    function decodeDecision(bytes calldata d)
        external
        pure
        returns (bytes32 srcHash, uint256 ntid, uint256 height, uint256 round, bytes32 ntsHash)
    {
        bytes memory m = d;
        IconRlp.Item[] memory f = IconRlp.toItem(m).toList();
        if (f.length != 5) revert IconRlp.RlpMalformed();
        bytes memory src = f[0].toBytes();
        ntid = f[1].toUint();
        height = f[2].toUint();
        round = f[3].toUint();
        ntsHash = f[4].toBytes32();
        if (ntid > MAX_SAFE_INT || height > MAX_SAFE_INT || round > MAX_SAFE_INT) revert IconRlp.RlpMalformed();
        bytes memory canonical = IconRlp.encList(
            abi.encodePacked(
                IconRlp.encBytes(src), IconRlp.encUint(ntid), IconRlp.encUint(height), IconRlp.encUint(round), IconRlp.encBytes32(ntsHash)
            )
        );
        if (keccak256(canonical) != keccak256(m)) revert IconRlp.RlpMalformed();
        srcHash = keccak256(src);
    }

    // ------------------------------------------------------------------ equivocation (b): Bitcoin

    /// @inheritdoc ISlasher
    function submitBitcoinEquivocation(address validator, bytes calldata preimage, bytes calldata signature) external {
        // Same checks and order as src/consensus/equivocation.ts verifyBitcoinEquivocation.
        (bytes32 txid, uint32 vout, uint32 hashType) = _parsePreimage(preimage);
        if (hashType != SIGHASH_ALL) revert NotSighashAll(hashType);
        IPayoutDuties duties = _payout();
        if (!duties.wasFederationOutpoint(txid, vout)) revert NotFederationOutpoint(txid, vout);
        bytes32 sighash = sha256(abi.encodePacked(sha256(preimage)));
        // Honest re-signing of a fee-bumped version is fine: its sighash was derived (DESIGN.md §2).
        if (duties.isDerivedSighash(sighash)) revert DerivedSighash(sighash);
        if (_recover(sighash, signature) != validator) revert SignatureNotByValidator(0);
        if (bitcoinEvidenceUsed[validator][sighash]) revert EvidenceAlreadyUsed(validator, sighash);
        bitcoinEvidenceUsed[validator][sighash] = true;
        _slashEquivocation(KIND_BITCOIN, validator, sighash);
    }

    /// @dev BIP-143 preimage: version(4) hashPrevouts(32) hashSequence(32) outpoint(36)
    ///      scriptCode(CompactSize ‖ script) amount(8) nSequence(4) hashOutputs(32) locktime(4)
    ///      hashType(4). Mirrors decodeBip143Preimage (src/chains/bitcoin/sighash.ts): a script
    ///      length of 1 byte or canonical 0xfd ‖ u16 (≥ 0xfd), and nothing after the hash type.
    function _parsePreimage(bytes calldata p) internal pure returns (bytes32 txid, uint32 vout, uint32 hashType) {
        uint256 o = 104;
        if (p.length < o + 1) revert MalformedPreimage();
        uint256 len = uint8(p[o]);
        uint256 lenBytes = 1;
        if (len == 0xfd) {
            if (p.length < o + 3) revert MalformedPreimage();
            len = uint256(uint8(p[o + 1])) | (uint256(uint8(p[o + 2])) << 8);
            if (len < 0xfd) revert MalformedPreimage();
            lenBytes = 3;
        } else if (len > 0xfd) {
            revert MalformedPreimage();
        }
        if (p.length != o + lenBytes + len + 8 + 4 + 32 + 4 + 4) revert MalformedPreimage();
        txid = bytes32(p[68:100]);
        vout = _u32le(p[100:104]);
        hashType = _u32le(p[p.length - 4:]);
    }

    function _u32le(bytes calldata b) internal pure returns (uint32) {
        return uint32(uint8(b[0])) | (uint32(uint8(b[1])) << 8) | (uint32(uint8(b[2])) << 16) | (uint32(uint8(b[3])) << 24);
    }

    // ------------------------------------------------------------------ shared

    function _slashEquivocation(uint8 kind, address validator, bytes32 evidence) internal {
        (uint256 stake,) = registry.stakeOf(validator);
        if (stake == 0) revert NoStake(validator);
        Params memory p = params;
        uint256 taken = registry.slash(validator, stake * p.equivocationBps / BPS);
        registry.eject(validator);
        uint256 reward = _distribute(taken, p.reporterBps);
        emit EquivocationSlashed(kind, validator, evidence, msg.sender, taken, reward);
    }

    /// @dev Credits `reporterBps` of `amount` to the caller, the rest to the treasury.
    function _distribute(uint256 amount, uint256 reporterBps) internal returns (uint256 reward) {
        if (amount == 0) return 0;
        reward = amount * reporterBps / BPS;
        if (reward != 0) rewardOf[msg.sender] += reward;
        treasuryOwed += amount - reward;
    }

    /// @dev 65-byte R‖S‖V, V ∈ {0,1}, 0 < S ≤ n/2 (the BMV's and verifier.ts's rule); zero otherwise.
    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        if (sig.length != 65) return address(0);
        uint8 v = uint8(sig[64]);
        bytes32 s = bytes32(sig[32:64]);
        if (v > 1 || s == 0 || uint256(s) > HALF_N) return address(0);
        return ecrecover(digest, v + 27, bytes32(sig[0:32]), s);
    }

    function _payout() internal view returns (IPayoutDuties duties) {
        duties = payout;
        if (address(duties) == address(0)) revert PayoutDutiesNotSet();
    }

    // ------------------------------------------------------------------ funds

    /// @inheritdoc ISlasher
    function claimReward() external {
        uint256 amount = rewardOf[msg.sender];
        if (amount == 0) revert NothingToClaim();
        rewardOf[msg.sender] = 0;
        emit RewardClaimed(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @inheritdoc ISlasher
    function payTreasury() external {
        uint256 amount = treasuryOwed;
        if (amount == 0) revert NothingToClaim();
        treasuryOwed = 0;
        address to = treasury;
        emit TreasuryPaid(to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------ admin

    /// @notice Sets the payout coordinator whose duties and derived sighashes count (admin, once).
    function setPayoutDuties(IPayoutDuties payout_) external onlyRole(ADMIN_ROLE) {
        if (address(payout) != address(0)) revert PayoutDutiesAlreadySet();
        if (address(payout_) == address(0)) revert ZeroAddress();
        payout = payout_;
        emit PayoutDutiesSet(address(payout_));
    }

    /// @notice Sets the treasury (admin).
    function setTreasury(address treasury_) external onlyRole(ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @notice Sets the slashing parameters (admin). They apply to duties settled from now on.
    function setParams(Params calldata p) external onlyRole(ADMIN_ROLE) {
        _setParams(p);
    }

    function _setParams(Params memory p) internal {
        if (
            p.dutyBlocks == 0 || p.missedDutyCapBps > BPS || p.missedDutyBps > p.missedDutyCapBps
                || p.equivocationBps > BPS || p.reporterBps > BPS || p.keeperBps > BPS
        ) revert InvalidParams();
        params = p;
        emit ParamsSet(p.dutyBlocks, p.missedDutyBps, p.missedDutyCapBps, p.equivocationBps, p.reporterBps, p.keeperBps);
    }

    /// @notice What validator `v` lost to missed duties in `epoch`, and the stake that is measured against.
    function missedDutyTally(uint256 epoch, address v) external view returns (uint256 base, uint256 slashed) {
        Tally storage t = _tally[epoch][v];
        return (t.base, t.slashed);
    }
}
