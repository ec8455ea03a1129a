// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CodeStore} from "../libraries/CodeStore.sol";
import {BitcoinTx} from "../libraries/BitcoinTx.sol";
import {Bip143} from "../libraries/Bip143.sol";
import {IPayoutBsh, IPayoutRegistry, ISupply} from "./IPayoutCoordinatorDeps.sol";
import {PayoutTxCodec} from "./PayoutTxCodec.sol";
import {EpochScripts} from "./EpochScripts.sol";
import {FeeOracle} from "./FeeOracle.sol";

/// @title PayoutBase
/// @notice State, events, errors and shared internals of the payout coordinator. The coordinator
///         (PayoutCoordinator) and its extension (PayoutCoordinatorExt, reached by delegatecall
///         from the coordinator's fallback) both inherit it, so they share one storage layout;
///         the split keeps each under the 24 KB code-size limit.
abstract contract PayoutBase {

    /// @notice Dust limit for every output the federation creates (PROTOCOL.md §1.4).
    uint256 internal constant DUST = 546;
    /// @notice Gas budgeted per recorded signature when deriving the input cap (PROTOCOL.md §4.2).
    uint256 internal constant GAS_PER_SIGNATURE = 10_000;
    uint8 internal constant KIND_P2WSH = 0;
    uint8 internal constant KIND_P2SH_P2WSH = 1;

    uint8 internal constant BATCH_CLOSED = 1;
    uint8 internal constant BATCH_CONFIRMED = 2;
    /// @notice A conflicting federation spend naming this batch confirmed: its withdrawals are refundable.
    uint8 internal constant BATCH_CONFLICTED = 3;
    uint8 internal constant BATCH_REFUNDED = 4;

    /// @dev Change (P2WSH, 34-byte script) and OP_RETURN (14-byte script) output weights.
    uint256 internal constant BASE_OUTPUTS_WEIGHT = 4 * (8 + 1 + 34) + 4 * (8 + 1 + 14);

    /// @notice Governance (a multisig or timelock in production): bootstrap reserve and caps only.
    address public immutable admin;
    IPayoutBsh public immutable bsh;
    IPayoutRegistry public immutable registry;
    /// @notice Serialisation, sighashes and script building (split off for the code-size limit).
    PayoutTxCodec public immutable codec;
    /// @notice Every epoch's federation script, built from the registry (split off for code size).
    EpochScripts public immutable scripts;
    /// @notice The fee rate (sat/kvB): governance or the validators' median, clamped.
    FeeOracle public immutable feeOracle;

    /// @notice One federation UTXO: `word` = amount u64 | epoch u32 << 64 | vout u32 << 96
    ///         | height u64 << 128 | kind u8 << 192.
    struct Utxo {
        bytes32 txid;
        uint256 word;
    }

    struct Batch {
        uint64 depositFrom; // first deposit-queue index spent
        uint32 nDeposits;
        uint32 nInputs;
        bool withReserve;
        bool singleEpoch; // every input pays `inputEpoch`'s script
        uint8 status;
        uint32 epoch; // the signing epoch: change goes to its script, batchDuty refers to it
        uint32 inputEpoch;
        uint32 version; // latest version
        uint32 vsize; // estimated vsize (same for every version)
        uint64 estFee; // fee of the estimate the shares were computed from
        uint64 total; // T = Σ withdrawal amounts (BTCT burned for them)
        uint64 inputSum; // S
        uint64 closedAt; // home block
        uint64 lastVersionAt; // home block of the latest version
        uint64 approvedAt; // home block of the first BatchApproved
    }

    struct Version {
        bytes32 txid; // internal byte order
        uint64 change;
        uint64 fee; // what the miner gets
        uint32 atQuorum; // inputs at quorum
        bool approved;
    }

    /// @notice A witness signature: `keyIndex` is the signer's key position in that input's script
    ///         (BIP-67 order), `recid` the ECDSA recovery id (0/1), (r, s) low-S.
    struct WitnessSig {
        uint16 input;
        uint8 keyIndex;
        uint8 recid;
        bytes32 r;
        bytes32 s;
    }



    Utxo[] internal _queue;
    /// @notice First deposit-queue entry not yet in a batch (entries before it are locked or spent).
    uint256 public queueHead;
    /// @notice First deposit-queue entry not spent by a confirmed batch.
    uint256 public ledgerHead;
    /// @notice How many of the BSH's `depositHeights` were imported into the queue.
    uint256 public importedHeights;
    Utxo internal _reserve;
    bool public hasReserve;

    uint32 public maxInputs = 10;
    uint32 public maxWithdrawals = 100;
    uint32 public maxWeight = 100_000;
    uint32 public bumpAfterBlocks = 100;
    /// @notice Gas one approval may spend on signature checks: maxInputs ≤ budget / (m × GAS_PER_SIGNATURE).
    uint64 public approvalGasBudget = 15_000_000;

    /// @notice The next BSH withdrawal id to consider (FIFO cursor).
    uint256 public nextWithdrawal;
    uint256 public nextBatchId = 1;
    /// @notice The batch in flight (0: none). One at a time; its inputs are locked.
    uint256 public inFlight;

    mapping(uint256 batchId => Batch) internal _batches;
    mapping(uint256 batchId => Utxo) internal _batchReserve;
    mapping(uint256 batchId => uint64[]) internal _batchWithdrawals;
    mapping(uint256 batchId => mapping(uint256 version => Version)) internal _versions;
    mapping(uint256 batchId => mapping(uint256 version => bytes32[])) internal _sighashes;
    /// @dev (batchId << 32 | version) → input → bitmap of script key indexes that signed.
    mapping(uint256 vkey => mapping(uint256 input => uint256)) internal _sigBits;
    mapping(uint256 vkey => mapping(address signer => uint256)) internal _signedInputs;
    mapping(uint256 batchId => uint256) internal _dutyBits;
    /// @notice batchId that derived a sighash (0: never derived).
    mapping(bytes32 sighash => uint256) public derivedBy;
    mapping(bytes32 outpoint => bool) internal _fedOutpoint;

    /// @notice Ledger accounting (PROTOCOL.md §4.5): L = BSH deposits + changeCreated − spentTotal.
    uint256 public changeCreated;
    uint256 public spentTotal;
    /// @notice Σ net amount of withdrawals paid (confirmed) or refunded.
    uint256 public settledWithdrawals;

    event BatchClosed(uint256 indexed batchId, uint256 version, bytes32 txid, bytes unsignedTx);
    event WitnessRecorded(uint256 indexed batchId, uint256 version, address indexed validator, WitnessSig[] sigs);
    event BatchApproved(uint256 indexed batchId, uint256 version, bytes32 txid);
    event BatchConfirmed(uint256 indexed batchId, uint256 version, bytes32 txid, uint256 btcHeight);
    event BatchConflicted(uint256 indexed batchId, bytes32 txid, uint256 btcHeight);
    event BatchRefunded(uint256 indexed batchId, uint256 withdrawals);
    event WithdrawalUnpayable(uint256 indexed id, uint256 amount);
    event DepositsImported(uint256 firstHeightIndex, uint256 heights, uint256 queueLength);
    event ReserveInitialized(bytes32 txid, uint256 vout, uint256 amount, uint256 epoch, uint8 kind);
    event ParamsSet(uint256 maxInputs, uint256 maxWithdrawals, uint256 maxWeight, uint256 bumpAfterBlocks, uint256 approvalGasBudget);

    error NotBsh(address caller);
    error NotAdmin(address caller);
    error BatchInFlight(uint256 batchId);
    error DepositsNotImported(uint256 heights);
    error NothingToPay();
    error ImportCountMismatch(uint256 btpHeight, uint256 expected, uint256 given);
    error ImportNotSorted(uint256 btpHeight, uint256 index);
    error ImportUnknownOutpoint(bytes32 txid, uint256 vout);
    error NothingToImport();
    error ReserveAlreadySet();
    error BadReserve();
    error UnknownBatchVersion(uint256 batchId, uint256 version);
    error BatchNotOpen(uint256 batchId, uint8 status);
    error InputOutOfRange(uint256 input);
    error KeyIndexOutOfRange(uint256 input, uint256 keyIndex);
    error HighS(uint256 input, uint256 keyIndex);
    error BadRecoveryId(uint256 input, uint256 keyIndex);
    error InvalidWitnessSignature(uint256 input, uint256 keyIndex, address recovered, address expected);
    error DuplicateSignature(uint256 input, uint256 keyIndex);
    error MixedSigners();
    error BumpTooEarly(uint256 availableAt);
    error BumpExceedsSurplus(uint256 extraFee, uint256 surplus);
    error BumpChangeBelowDust(uint256 change);
    error InvalidParams();
    error NotRefundable(uint256 batchId);

    constructor(address admin_, IPayoutBsh bsh_, IPayoutRegistry registry_, PayoutTxCodec codec_, EpochScripts scripts_, FeeOracle feeOracle_)
    {
        if (admin_ == address(0)) revert NotAdmin(address(0));
        admin = admin_;
        bsh = bsh_;
        registry = registry_;
        codec = codec_;
        scripts = scripts_;
        feeOracle = feeOracle_;
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    // ================================================================ epochs

    function _ensureEpoch(uint256 e) internal returns (EpochScripts.EpochScript memory) {
        return scripts.ensure(e);
    }

    function _member(uint256 e, address signer) internal view returns (uint256) {
        return scripts.epochMember(e, signer);
    }

    function _share(uint256 fee, uint256 amount, uint256 total) internal pure returns (uint256) {
        return (fee * amount + total - 1) / total;
    }

    // ================================================================ transaction bytes

    /// @dev Everything a version's bytes depend on.
    struct TxCtx {
        uint256 batchId;
        Utxo[] inputs;
        uint256[] values; // withdrawal output values, in output order
        bytes[] scripts;
        uint256 change;
        bytes32 changeHash;
    }

    /// @dev Stores version `version` of a batch: txid, change, fee, every input's sighash (also
    ///      in {derivedBy} for the slasher), and emits {BatchClosed}.
    function _newVersion(Batch storage b, uint256 version, TxCtx memory c, uint256 fee) internal {
        (bytes memory raw, bytes32 txid, bytes32[] memory hs) = codec.build(_codecTx(c));
        bytes32[] storage hashes = _sighashes[c.batchId][version];
        for (uint256 i; i < hs.length; ++i) {
            hashes.push(hs[i]);
            derivedBy[hs[i]] = c.batchId;
        }
        _versions[c.batchId][version] = Version(txid, uint64(c.change), uint64(fee), 0, false);
        b.version = uint32(version);
        b.lastVersionAt = uint64(block.number);
        emit BatchClosed(c.batchId, version, txid, raw);
    }

    /// @dev The codec's view of a version: inputs with the distinct witness scripts they pay.
    function _codecTx(TxCtx memory c) internal view returns (PayoutTxCodec.PayoutTx memory t) {
        uint256 nIn = c.inputs.length;
        t.batchId = uint64(c.batchId);
        t.inputs = new PayoutTxCodec.TxInput[](nIn);
        uint256[] memory epochs = new uint256[](nIn);
        bytes[] memory wss = new bytes[](nIn);
        uint256 nScripts;
        for (uint256 i; i < nIn; ++i) {
            uint256 w = c.inputs[i].word;
            uint256 e = uint32(w >> 64);
            uint256 k;
            while (k < nScripts && epochs[k] != e) ++k;
            if (k == nScripts) {
                epochs[k] = e;
                wss[k] = CodeStore.read(scripts.scriptOf(e).scriptPtr);
                ++nScripts;
            }
            t.inputs[i] = PayoutTxCodec.TxInput(c.inputs[i].txid, uint32(w >> 96), uint64(w), uint8(w >> 192) == KIND_P2SH_P2WSH, uint8(k));
        }
        assembly ("memory-safe") { mstore(wss, nScripts) }
        t.witnessScripts = wss;
        t.change = uint64(c.change);
        t.changeScriptHash = c.changeHash;
        t.values = new uint64[](c.values.length);
        for (uint256 i; i < c.values.length; ++i) t.values[i] = uint64(c.values[i]);
        t.scripts = c.scripts;
    }

    /// @dev The TxCtx of a stored batch with `change` (views and fee bumps).
    function _loadCtx(uint256 batchId, uint256 change) internal view returns (TxCtx memory c) {
        Batch storage b = _batches[batchId];
        c.batchId = batchId;
        c.inputs = _batchInputs(batchId, b);
        uint64[] storage ids = _batchWithdrawals[batchId];
        c.values = new uint256[](ids.length);
        c.scripts = new bytes[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            (, uint256 amount,, bytes memory script) = bsh.withdrawals(ids[i]);
            c.values[i] = amount - _share(b.estFee, amount, b.total);
            c.scripts[i] = script;
        }
        c.change = change;
        c.changeHash = scripts.scriptOf(b.epoch).wsHash;
    }

    function _batchInputs(uint256 batchId, Batch storage b) internal view returns (Utxo[] memory ins) {
        ins = new Utxo[](b.nInputs);
        uint256 k;
        if (b.withReserve) ins[k++] = _batchReserve[batchId];
        uint256 from = b.depositFrom;
        for (uint256 i; i < b.nDeposits; ++i) ins[k++] = _queue[from + i];
    }

    function _inputEpoch(uint256 batchId, Batch storage b, uint256 input) internal view returns (uint256) {
        if (b.singleEpoch) return b.inputEpoch;
        if (b.withReserve) {
            if (input == 0) return uint32(_batchReserve[batchId].word >> 64);
            return uint32(_queue[b.depositFrom + input - 1].word >> 64);
        }
        return uint32(_queue[b.depositFrom + input].word >> 64);
    }

    function _versionOf(uint256 batchId, Batch storage b, bytes32 txid) internal view returns (uint256) {
        for (uint256 v; v <= b.version; ++v) {
            if (_versions[batchId][v].txid == txid) return v;
        }
        return type(uint256).max;
    }

    /// @notice Number of unspent federation UTXOs the ledger holds (reserve + imported deposits,
    ///         the in-flight batch's locked inputs included until it confirms).
    function ledgerCount() public view returns (uint256) {
        return (hasReserve ? 1 : 0) + _queue.length - ledgerHead;
    }

    /// @notice L: Σ of every federation UTXO the contract knows (not-yet-imported deposits included).
    function ledgerTotal() public view returns (uint256) {
        return bsh.depositedTotal() + changeCreated - spentTotal;
    }

    /// @notice What fee bumps may spend: L − BTCT supply − withdrawals still owed (PROTOCOL.md §4.5).
    function surplus() public view returns (uint256) {
        uint256 owed = uint256(bsh.withdrawnNetTotal()) - settledWithdrawals;
        uint256 l = ledgerTotal();
        uint256 need = ISupply(bsh.token()).totalSupply() + owed;
        uint256 extraReserved = 0;
        uint256 f = inFlight;
        if (f != 0) {
            // a bumped version in flight will spend its extra fee out of the change
            Batch storage b = _batches[f];
            Version storage v0 = _versions[f][0];
            Version storage vl = _versions[f][b.version];
            extraReserved = v0.change - vl.change;
        }
        return l > need + extraReserved ? l - need - extraReserved : 0;
    }

    // ---------------------------------------------------------------- helpers

    function _unpack(Utxo[] memory us)
        internal
        pure
        returns (bytes32[] memory txids, uint32[] memory vouts, uint64[] memory amounts, uint32[] memory epochs, uint8[] memory kinds)
    {
        uint256 n = us.length;
        txids = new bytes32[](n);
        vouts = new uint32[](n);
        amounts = new uint64[](n);
        epochs = new uint32[](n);
        kinds = new uint8[](n);
        for (uint256 i; i < n; ++i) {
            uint256 w = us[i].word;
            txids[i] = us[i].txid;
            vouts[i] = uint32(w >> 96);
            amounts[i] = uint64(w);
            epochs[i] = uint32(w >> 64);
            kinds[i] = uint8(w >> 192);
        }
    }

    function _word(uint256 amount, uint256 epoch, uint256 vout, uint256 height, uint256 kind) internal pure returns (uint256) {
        return uint64(amount) | (uint256(uint32(epoch)) << 64) | (uint256(uint32(vout)) << 96)
            | (uint256(uint64(height)) << 128) | (uint256(uint8(kind)) << 192);
    }

    function _outpointKey(bytes32 txid, uint32 vout) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(txid, vout));
    }
}
