// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CodeStore} from "../libraries/CodeStore.sol";
import {PayoutBase} from "./PayoutBase.sol";
import {BitcoinTx} from "../libraries/BitcoinTx.sol";
import {Bip143} from "../libraries/Bip143.sol";
import {IPayoutBsh, IPayoutRegistry, ISupply} from "./IPayoutCoordinatorDeps.sol";
import {PayoutTxCodec} from "./PayoutTxCodec.sol";
import {EpochScripts} from "./EpochScripts.sol";
import {FeeOracle} from "./FeeOracle.sol";

/// @title PayoutCoordinatorExt
/// @notice The second half of the payout coordinator: settlement of confirmations, fee bumps,
///         refunds and the views. Only ever run by delegatecall from PayoutCoordinator (same
///         storage layout through PayoutBase); its own storage is never used.
contract PayoutCoordinatorExt is PayoutBase {
    constructor(
        address admin_,
        IPayoutBsh bsh_,
        IPayoutRegistry registry_,
        PayoutTxCodec codec_,
        EpochScripts scripts_,
        FeeOracle feeOracle_
    ) PayoutBase(admin_, bsh_, registry_, codec_, scripts_, feeOracle_) {}

    // ================================================================ confirmation, bump, refund

    /// @notice Called by the BSH for each PAYOUT_CONFIRMED record (PROTOCOL.md §3), i.e. at depth k.
    ///         A version of the batch in flight: its withdrawals are paid, its inputs spent, the
    ///         change output becomes the reserve. Anything else is a federation spend the
    ///         contract never approved: returns false and the BSH pauses withdrawals; when it
    ///         names the batch in flight, the batch is marked conflicted (its withdrawals become
    ///         refundable with {refundBatch}, the inputs are treated as spent).
    function onPayoutConfirmed(bytes32 txid, uint256 batchId, uint256 btcHeight) external returns (bool known) {
        if (msg.sender != address(bsh)) revert NotBsh(msg.sender);
        Batch storage b = _batches[batchId];
        if (b.status == BATCH_CONFIRMED) {
            // the same batch reported again (another version cannot confirm: same inputs)
            return _versionOf(batchId, b, txid) != type(uint256).max;
        }
        if (batchId != inFlight || batchId == 0) return false;
        uint256 v = _versionOf(batchId, b, txid);
        spentTotal += b.inputSum;
        ledgerHead = b.depositFrom + b.nDeposits;
        inFlight = 0;
        if (v == type(uint256).max) {
            b.status = BATCH_CONFLICTED;
            hasReserve = false;
            emit BatchConflicted(batchId, txid, btcHeight);
            return false;
        }
        b.status = BATCH_CONFIRMED;
        uint64 change = _versions[batchId][v].change;
        _reserve = Utxo(txid, _word(change, b.epoch, 0, btcHeight, KIND_P2WSH));
        hasReserve = true;
        _fedOutpoint[_outpointKey(txid, 0)] = true;
        changeCreated += change;
        settledWithdrawals += b.total;
        emit BatchConfirmed(batchId, v, txid, btcHeight);
        return true;
    }

    /// @notice Refunds (BTCT re-minted minus the failed-transfer fee) every withdrawal of a batch
    ///         whose inputs a conflicting transaction spent, confirmed at depth k — never while a
    ///         signed version could still confirm (PROTOCOL.md §4.5). Anyone may call.
    function refundBatch(uint256 batchId) external {
        Batch storage b = _batches[batchId];
        if (b.status != BATCH_CONFLICTED) revert NotRefundable(batchId);
        b.status = BATCH_REFUNDED;
        uint64[] storage ids = _batchWithdrawals[batchId];
        for (uint256 i; i < ids.length; ++i) bsh.refundWithdrawal(ids[i]);
        settledWithdrawals += b.total;
        emit BatchRefunded(batchId, ids.length);
    }

    /// @notice BIP-125 replacement of the batch in flight (PROTOCOL.md §4.6, `bumpPayoutFee`):
    ///         same inputs, withdrawal outputs and OP_RETURN; the change pays
    ///         max(ceil(vsize × feeRate / 1000), oldFee + vsize) − oldFee more, out of the surplus.
    ///         Anyone may call, `bumpAfterBlocks` home blocks after the latest version.
    function bumpFee(uint256 batchId) external returns (uint256 version) {
        Batch storage b = _batches[batchId];
        if (b.status != BATCH_CLOSED) revert BatchNotOpen(batchId, b.status);
        uint256 at = uint256(b.lastVersionAt) + bumpAfterBlocks;
        if (block.number < at) revert BumpTooEarly(at);
        Version storage old = _versions[batchId][b.version];
        uint256 target = (uint256(b.vsize) * feeOracle.feeRate() + 999) / 1000;
        uint256 minimum = uint256(old.fee) + b.vsize; // incremental relay 1 sat/vB (BIP-125 rule 4)
        uint256 newFee = target > minimum ? target : minimum;
        uint256 extra = newFee - old.fee;
        uint256 sur = surplus();
        if (extra > sur) revert BumpExceedsSurplus(extra, sur);
        if (uint256(old.change) < extra + DUST) revert BumpChangeBelowDust(uint256(old.change) - extra);
        uint256 change = old.change - extra;
        version = b.version + 1;
        _newVersion(b, version, _loadCtx(batchId, change), newFee);
        // the extra fee leaves the ledger when the bumped version confirms; reserve it now
    }

    // ================================================================ views

    /// @notice A batch's record and its latest version (txid, change, fee, inputs at quorum, approved).
    function batchInfo(uint256 batchId) external view returns (Batch memory batch, Version memory latest) {
        batch = _batches[batchId];
        latest = _versions[batchId][batch.version];
    }

    /// @notice The inputs of a batch in input order.
    function batchInputs(uint256 batchId)
        external
        view
        returns (bytes32[] memory txids, uint32[] memory vouts, uint64[] memory amounts, uint32[] memory epochs, uint8[] memory kinds)
    {
        return _unpack(_batchInputs(batchId, _batches[batchId]));
    }

    /// @notice The withdrawal ids a batch pays, in output order (outputs 1..k).
    function batchWithdrawals(uint256 batchId) external view returns (uint64[] memory) {
        return _batchWithdrawals[batchId];
    }

    /// @notice A version's txid, change, fee, inputs at quorum and approval flag.
    function versionInfo(uint256 batchId, uint256 version) external view returns (Version memory) {
        return _versions[batchId][version];
    }

    /// @notice The unsigned transaction of a version (P2SH-P2WSH scriptSigs set, no witnesses).
    function versionTx(uint256 batchId, uint256 version) external view returns (bytes memory raw) {
        Batch storage b = _batches[batchId];
        if (b.status == 0 || version > b.version) revert UnknownBatchVersion(batchId, version);
        (raw,,) = codec.build(_codecTx(_loadCtx(batchId, _versions[batchId][version].change)));
    }

    /// @notice Each input's BIP-143 SIGHASH_ALL sighash of a version, in input order.
    function sighashes(uint256 batchId, uint256 version) external view returns (bytes32[] memory) {
        return _sighashes[batchId][version];
    }

    /// @notice Bitmap of script key indexes that signed input `input` of a version.
    function signatureBitmap(uint256 batchId, uint256 version, uint256 input) external view returns (uint256) {
        return _sigBits[(batchId << 32) | version][input];
    }

    /// @notice A page of the unspent ledger: the reserve first, then deposits in UTXO order. Each
    ///         entry is (txid, word) with word = amount u64 | epoch u32 << 64 | vout u32 << 96 |
    ///         height u64 << 128 | kind u8 << 192.
    function ledgerUtxos(uint256 offset, uint256 limit) external view returns (Utxo[] memory us) {
        uint256 total = ledgerCount();
        if (offset > total) offset = total;
        if (limit > total - offset) limit = total - offset;
        us = new Utxo[](limit);
        uint256 r = hasReserve ? 1 : 0;
        for (uint256 i; i < limit; ++i) {
            uint256 k = offset + i;
            us[i] = k < r ? _reserve : _queue[ledgerHead + k - r];
        }
    }

}
