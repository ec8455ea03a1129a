// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CodeStore} from "../libraries/CodeStore.sol";
import {PayoutBase} from "./PayoutBase.sol";
import {BitcoinTx} from "../libraries/BitcoinTx.sol";
import {Bip143} from "../libraries/Bip143.sol";
import {IPayoutDuties} from "../interfaces/IPayoutDuties.sol";
import {IPayoutBsh, IPayoutRegistry, ISupply} from "./IPayoutCoordinatorDeps.sol";
import {PayoutTxCodec} from "./PayoutTxCodec.sol";
import {EpochScripts} from "./EpochScripts.sol";
import {FeeOracle} from "./FeeOracle.sol";

/// @title PayoutCoordinator
/// @notice The home → Bitcoin half of the bridge (docs/PROTOCOL.md §4–5, docs/CONTRACTS.md):
///         keeps the federation's UTXO ledger, closes payout batches whose unsigned transaction
///         is a pure function of home state (byte-identical to `buildPayout` in
///         src/chains/bitcoin/payout.ts), computes every input's BIP-143 sighash, records and
///         verifies validators' witness signatures (one `ecrecover` each) with per-input quorum,
///         settles confirmations, bumps fees (BIP-125) and refunds what cannot be paid.
/// @dev Federation scripts are built on chain from the registry's compressed keys
///      (EpochScripts), so no one can register a script the validators do not hold.
contract PayoutCoordinator is PayoutBase, IPayoutDuties {
    /// @notice Holds the rarely-called half (confirmation, fee bump, refunds, views); reached by
    ///         delegatecall from {fallback} with this contract's storage.
    address public immutable ext;

    constructor(
        address admin_,
        IPayoutBsh bsh_,
        IPayoutRegistry registry_,
        PayoutTxCodec codec_,
        EpochScripts scripts_,
        FeeOracle feeOracle_,
        address ext_
    ) PayoutBase(admin_, bsh_, registry_, codec_, scripts_, feeOracle_) {
        ext = ext_;
    }

    /// @dev Every function not defined here is PayoutCoordinatorExt's, run on this storage.
    fallback() external {
        address impl = ext;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), impl, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ================================================================ ledger

    /// @notice Admin, once: the bootstrap reserve (≥ dust, funded by the operators, never minted)
    ///         paying the current epoch's script; it becomes the first input of the first batch.
    function initReserve(bytes32 txid, uint32 vout, uint64 amount, uint8 kind) external onlyAdmin {
        if (hasReserve || nextBatchId != 1) revert ReserveAlreadySet();
        if (amount < DUST || kind > KIND_P2SH_P2WSH) revert BadReserve();
        uint256 epoch = registry.currentEpoch();
        _ensureEpoch(epoch);
        _reserve = Utxo(txid, _word(amount, epoch, vout, 0, kind));
        hasReserve = true;
        _fedOutpoint[_outpointKey(txid, vout)] = true;
        changeCreated += amount;
        emit ReserveInitialized(txid, vout, amount, epoch, kind);
    }

    /// @notice Imports the next BTP heights' ledger outpoints from the BSH into the deposit queue
    ///         (UTXO order, PROTOCOL.md §4.2). `heights[k]` is the complete list of outpoints the
    ///         BSH recorded at its `depositHeights(importedHeights + k)`, as `txid 32 ‖ vout u32 BE`
    ///         each, ascending by (txid as a big-endian uint256, vout). Anyone may call; the BSH's
    ///         per-height count and ledger words make the list unforgeable. Deposits are relayed
    ///         without this cost (one counter write per BTP block), the keeper pays it.
    function importDeposits(bytes[] calldata heights) external {
        uint256 h0 = importedHeights;
        if (heights.length == 0) revert NothingToImport();
        for (uint256 k; k < heights.length; ++k) _importHeight(bsh.depositHeights(h0 + k), heights[k]);
        importedHeights = h0 + heights.length;
        emit DepositsImported(h0, heights.length, _queue.length);
    }

    function _importHeight(uint256 height, bytes calldata op) internal {
        uint256 count = bsh.heightDepositCount(height);
        if (op.length != count * 36) revert ImportCountMismatch(height, count, op.length / 36);
        uint256 prevTxid;
        uint256 prevVout;
        for (uint256 i; i < count; ++i) {
            uint256 o = 36 * i;
            bytes32 txid = bytes32(op[o:o + 32]);
            uint32 vout = uint32(bytes4(op[o + 32:o + 36]));
            // strictly ascending by (txid as a big-endian uint256, vout): sorted and distinct
            if (i != 0 && (uint256(txid) < prevTxid || (uint256(txid) == prevTxid && vout <= prevVout))) {
                revert ImportNotSorted(height, i);
            }
            prevTxid = uint256(txid);
            prevVout = vout;
            _queue.push(Utxo(txid, _importWord(txid, vout, height)));
        }
    }

    /// @dev The queue word of a BSH ledger outpoint recorded at `height` (BSH word: amount u64 |
    ///      epoch u32 << 64 | status << 96 | btpHeight u64 << 104 | kind << 168).
    function _importWord(bytes32 txid, uint32 vout, uint256 height) internal view returns (uint256) {
        uint256 w = bsh.utxos(_outpointKey(txid, vout));
        if (w == 0 || uint64(w >> 104) != height) revert ImportUnknownOutpoint(txid, vout);
        return _word(uint64(w), uint32(w >> 64), vout, height, uint8(w >> 168));
    }

    // ================================================================ closing a batch

    /// @dev Working state of {closeBatch} (memory, to keep the stack shallow).
    struct Plan {
        Utxo[] inputs;
        uint256 nIn;
        uint256 inW;
        uint256 S;
        uint256[] ids;
        uint256[] amounts;
        bytes[] scripts;
        bool[] dropped;
        uint256 nSel;
        uint256 nLive;
        uint256 outsW;
        uint256 fee;
        uint256 T;
        uint256 vsize;
        uint32 inputEpoch;
        bool singleEpoch;
    }

    /// @notice Closes the next payout batch exactly as docs/PROTOCOL.md §4.2–4.4 (and
    ///         `buildPayout`): reserve then deposits in UTXO order under the caps, withdrawals in
    ///         id order (FIFO, no skipping), pro-rata fee shares rounded up, outputs below dust
    ///         refunded, change to the current epoch's P2WSH. Anyone may call.
    /// @return batchId the new batch (0 when every selected withdrawal was unpayable and refunded)
    function closeBatch() external returns (uint256 batchId) {
        if (inFlight != 0) revert BatchInFlight(inFlight);
        uint256 pending = bsh.depositHeightCount() - importedHeights;
        if (pending != 0) revert DepositsNotImported(pending);
        uint256 epoch = registry.currentEpoch();
        EpochScripts.EpochScript memory ce = _ensureEpoch(epoch);
        Plan memory p = _selectInputs(ce.m);
        _selectWithdrawals(p);
        if (p.nSel == 0) revert NothingToPay();
        _applyFees(p);
        nextWithdrawal += p.nSel;
        for (uint256 i; i < p.nSel; ++i) {
            if (p.dropped[i]) {
                bsh.refundWithdrawal(p.ids[i]);
                settledWithdrawals += p.amounts[i];
                emit WithdrawalUnpayable(p.ids[i], p.amounts[i]);
            }
        }
        if (p.nLive == 0) return 0;

        batchId = nextBatchId++;
        Batch storage b = _batches[batchId];
        b.depositFrom = uint64(queueHead);
        b.nInputs = uint32(p.nIn);
        b.withReserve = hasReserve;
        b.nDeposits = uint32(hasReserve ? p.nIn - 1 : p.nIn);
        b.singleEpoch = p.singleEpoch;
        b.inputEpoch = p.inputEpoch;
        b.status = BATCH_CLOSED;
        b.epoch = uint32(epoch);
        b.vsize = uint32(p.vsize);
        b.estFee = uint64(p.fee);
        b.total = uint64(p.T);
        b.inputSum = uint64(p.S);
        b.closedAt = uint64(block.number);
        if (hasReserve) _batchReserve[batchId] = _reserve;
        queueHead += b.nDeposits;
        inFlight = batchId;

        TxCtx memory c;
        c.batchId = batchId;
        c.inputs = p.inputs;
        c.values = new uint256[](p.nLive);
        c.scripts = new bytes[](p.nLive);
        c.changeHash = ce.wsHash;
        c.change = p.S - p.T;
        uint64[] storage ids = _batchWithdrawals[batchId];
        uint256 feeSum;
        uint256 k;
        for (uint256 i; i < p.nSel; ++i) {
            if (p.dropped[i]) continue;
            uint256 share = _share(p.fee, p.amounts[i], p.T);
            feeSum += share;
            c.values[k] = p.amounts[i] - share;
            c.scripts[k] = p.scripts[i];
            ids.push(uint64(p.ids[i]));
            ++k;
        }
        _newVersion(b, 0, c, feeSum);
    }

    function _selectInputs(uint256 m) internal returns (Plan memory p) {
        uint256 cap = maxInputs;
        uint256 derived = approvalGasBudget / (m * GAS_PER_SIGNATURE);
        if (derived == 0) derived = 1;
        if (derived < cap) cap = derived;
        p.inputs = new Utxo[](cap);
        p.singleEpoch = true;
        uint256 q = queueHead;
        uint256 qEnd = _queue.length;
        bool useReserve = hasReserve;
        uint256 lastEpoch = type(uint256).max;
        EpochScripts.EpochScript memory es;
        while (p.nIn < cap) {
            Utxo memory u;
            if (useReserve) {
                u = _reserve;
                useReserve = false;
            } else if (q < qEnd) {
                u = _queue[q++];
            } else {
                break;
            }
            uint256 e = uint32(u.word >> 64);
            if (e != lastEpoch) {
                es = _ensureEpoch(e);
                lastEpoch = e;
            }
            uint256 w = BitcoinTx.inputWeight(es.witnessBytes, uint8(u.word >> 192) == KIND_P2SH_P2WSH);
            if (BitcoinTx.fixedWeight(p.nIn + 1, 2) + p.inW + w + BASE_OUTPUTS_WEIGHT > maxWeight) break;
            if (p.nIn == 0) p.inputEpoch = uint32(e);
            else if (e != p.inputEpoch) p.singleEpoch = false;
            p.inputs[p.nIn++] = u;
            p.inW += w;
            p.S += uint64(u.word);
        }
        Utxo[] memory ins = p.inputs;
        uint256 nIn = p.nIn;
        assembly ("memory-safe") { mstore(ins, nIn) }
    }

    function _selectWithdrawals(Plan memory p) internal view {
        uint256 id0 = nextWithdrawal;
        uint256 avail = uint256(bsh.nextWithdrawalId()) - id0;
        uint256 cap = maxWithdrawals;
        if (avail < cap) cap = avail;
        p.ids = new uint256[](cap);
        p.amounts = new uint256[](cap);
        p.scripts = new bytes[](cap);
        p.outsW = BASE_OUTPUTS_WEIGHT;
        uint256 sum;
        for (uint256 i; i < cap; ++i) {
            (, uint256 amount,, bytes memory script) = bsh.withdrawals(id0 + i);
            // change must stay ≥ dust: Σ + amount ≤ S − DUST
            if (sum + amount + DUST > p.S) break;
            uint256 ow = BitcoinTx.outputWeight(script.length);
            if (BitcoinTx.fixedWeight(p.nIn, p.nSel + 3) + p.inW + p.outsW + ow > maxWeight) break;
            p.ids[i] = id0 + i;
            p.amounts[i] = amount;
            p.scripts[i] = script;
            p.nSel = i + 1;
            sum += amount;
            p.outsW += ow;
        }
    }

    /// @dev PROTOCOL.md §4.2 step 3 (in the codec for code size).
    function _applyFees(Plan memory p) internal view {
        uint256[] memory lens = new uint256[](p.nSel);
        uint256[] memory amounts = p.amounts;
        assembly ("memory-safe") { mstore(amounts, mload(lens)) }
        for (uint256 i; i < p.nSel; ++i) lens[i] = p.scripts[i].length;
        (p.dropped, p.nLive, p.fee, p.T, p.vsize) = codec.applyFees(p.nIn, p.inW, amounts, lens, feeOracle.feeRate());
    }

    // ================================================================ witnesses

    /// @notice One validator's signatures, for every input holding its key (Terra-Bridge's
    ///         `submitSignature`). Reverts on any invalid, duplicate or other signer's signature.
    function submitSignature(uint256 batchId, uint256 version, WitnessSig[] calldata sigs) external {
        _submit(batchId, version, sigs, true);
    }

    /// @notice Many validators' signatures in one transaction (the rotation submitter). Reverts
    ///         on an invalid signature (the submitter must check gossip first); skips signatures
    ///         already recorded (racing submitters: a no-op, not a revert). One
    ///         {WitnessRecorded} per run of consecutive signatures by the same validator.
    function submitSignatures(uint256 batchId, uint256 version, WitnessSig[] calldata sigs) external {
        _submit(batchId, version, sigs, false);
    }

    /// @dev Per-call state of {_submit}.
    struct SubmitCtx {
        uint256 batchId;
        uint256 version;
        uint256 vkey;
        uint256 cachedEpoch;
        bytes signers; // packed 20-byte addresses of cachedEpoch in key order
        uint256 n;
        uint256 m;
        WitnessSig[] run;
        uint256 runLen;
        address runSigner;
        uint256 newQuorums;
    }

    function _submit(uint256 batchId, uint256 version, WitnessSig[] calldata sigs, bool strict) internal {
        Batch storage b = _batches[batchId];
        if (b.status == 0 || version > b.version) revert UnknownBatchVersion(batchId, version);
        if (b.status != BATCH_CLOSED && b.status != BATCH_CONFIRMED) revert BatchNotOpen(batchId, b.status);
        SubmitCtx memory s;
        s.batchId = batchId;
        s.version = version;
        s.vkey = (batchId << 32) | version;
        s.cachedEpoch = type(uint256).max;
        s.run = new WitnessSig[](sigs.length);
        bytes32[] storage hashes = _sighashes[batchId][version];
        for (uint256 i; i < sigs.length; ++i) {
            WitnessSig calldata sig = sigs[i];
            uint256 input = sig.input;
            if (input >= b.nInputs) revert InputOutOfRange(input);
            _loadEpochSigners(s, _inputEpoch(batchId, b, input));
            if (sig.keyIndex >= s.n) revert KeyIndexOutOfRange(input, sig.keyIndex);
            if (uint256(sig.s) > Bip143.HALF_N) revert HighS(input, sig.keyIndex);
            if (sig.recid > 1) revert BadRecoveryId(input, sig.keyIndex);
            address expected;
            {
                bytes memory signers = s.signers;
                uint256 off = 32 + 20 * uint256(sig.keyIndex);
                assembly ("memory-safe") { expected := shr(96, mload(add(signers, off))) }
            }
            // Exactly one ecrecover against the sighash computed here: a signature over another
            // transaction, a forged one, or a non-validator's recovers to another address.
            address signer = Bip143.recover(hashes[input], sig.recid, sig.r, sig.s);
            if (signer != expected) revert InvalidWitnessSignature(input, sig.keyIndex, signer, expected);
            uint256 bits = _sigBits[s.vkey][input];
            uint256 bit = 1 << sig.keyIndex;
            if (bits & bit != 0) {
                if (strict) revert DuplicateSignature(input, sig.keyIndex);
                continue;
            }
            if (signer != s.runSigner) {
                if (strict && s.runSigner != address(0)) revert MixedSigners();
                _flush(s, b);
                s.runSigner = signer;
            }
            bits |= bit;
            _sigBits[s.vkey][input] = bits;
            if (_popcount(bits) == s.m) ++s.newQuorums;
            s.run[s.runLen++] = sig;
        }
        _flush(s, b);
        if (s.newQuorums != 0) {
            Version storage v = _versions[batchId][version];
            uint32 q = v.atQuorum + uint32(s.newQuorums);
            v.atQuorum = q;
            if (q == b.nInputs && !v.approved) {
                v.approved = true;
                if (b.approvedAt == 0) b.approvedAt = uint64(block.number);
                emit BatchApproved(batchId, version, v.txid);
            }
        }
    }

    /// @dev Emits the current run of one validator's signatures and updates its duty bit.
    function _flush(SubmitCtx memory s, Batch storage b) internal {
        uint256 len = s.runLen;
        if (len == 0) return;
        WitnessSig[] memory out = new WitnessSig[](len);
        for (uint256 i; i < len; ++i) out[i] = s.run[i];
        s.runLen = 0;
        address signer = s.runSigner;
        emit WitnessRecorded(s.batchId, s.version, signer, out);
        uint256 signed = _signedInputs[s.vkey][signer] + len;
        _signedInputs[s.vkey][signer] = signed;
        if (signed == _requiredInputs(s.batchId, b, signer)) {
            uint256 member = _member(b.epoch, signer) & 0xffff;
            if (member != 0) _dutyBits[s.batchId] |= 1 << (member - 1);
        }
    }

    /// @dev Number of inputs of the batch whose script holds `signer`'s key.
    function _requiredInputs(uint256 batchId, Batch storage b, address signer) internal view returns (uint256 n) {
        if (b.singleEpoch) return _member(b.inputEpoch, signer) >> 16 != 0 ? b.nInputs : 0;
        for (uint256 i; i < b.nInputs; ++i) {
            if (_member(_inputEpoch(batchId, b, i), signer) >> 16 != 0) ++n;
        }
    }

    function _loadEpochSigners(SubmitCtx memory s, uint256 e) internal view {
        if (e == s.cachedEpoch) return;
        EpochScripts.EpochScript memory es = scripts.scriptOf(e);
        s.signers = CodeStore.read(es.signersPtr);
        s.n = es.n;
        s.m = es.m;
        s.cachedEpoch = e;
    }

    function _popcount(uint256 x) internal pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) ++c;
    }

    /// @notice Governance parameters (admin). maxWeight ≤ 400,000 (standard transaction weight).
    function setParams(
        uint32 maxInputs_,
        uint32 maxWithdrawals_,
        uint32 maxWeight_,
        uint32 bumpAfterBlocks_,
        uint64 approvalGasBudget_
    ) external onlyAdmin {
        if (maxInputs_ == 0 || maxWithdrawals_ == 0 || maxWeight_ > 400_000) revert InvalidParams();
        maxInputs = maxInputs_;
        maxWithdrawals = maxWithdrawals_;
        maxWeight = maxWeight_;
        bumpAfterBlocks = bumpAfterBlocks_;
        approvalGasBudget = approvalGasBudget_;
        emit ParamsSet(maxInputs_, maxWithdrawals_, maxWeight_, bumpAfterBlocks_, approvalGasBudget_);
    }

    // ---------------------------------------------------------------- IPayoutDuties

    /// @inheritdoc IPayoutDuties
    function isDerivedSighash(bytes32 sighash) external view returns (bool) {
        return derivedBy[sighash] != 0;
    }

    /// @inheritdoc IPayoutDuties
    function wasFederationOutpoint(bytes32 txid, uint32 vout) external view returns (bool) {
        bytes32 key = _outpointKey(txid, vout);
        return _fedOutpoint[key] || bsh.utxos(key) != 0;
    }

    /// @inheritdoc IPayoutDuties
    function batchDuty(uint256 batchId) external view returns (uint64 approvedAt, uint32 epoch, uint256 signedBitmap) {
        Batch storage b = _batches[batchId];
        return (b.approvedAt, b.epoch, _dutyBits[batchId]);
    }

}
