// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {BitcoinTx} from "../libraries/BitcoinTx.sol";
import {Bip143} from "../libraries/Bip143.sol";

/// @title PayoutTxCodec
/// @notice Stateless half of the payout coordinator, split off to keep both under the 24 KB code
///         limit: serialises payout transactions (docs/PROTOCOL.md §4.4), computes their txid and
///         every input's BIP-143 sighash (§5.1), and builds federation witness scripts (§1).
contract PayoutTxCodec {
    using BitcoinTx for BitcoinTx.Writer;

    uint32 public constant TX_VERSION = 2;
    uint32 public constant SEQUENCE = 0xfffffffd;

    struct TxInput {
        bytes32 txid; // internal byte order
        uint32 vout;
        uint64 amount;
        bool p2sh; // P2SH-P2WSH: scriptSig = push of OP_0 <sha256(ws)>
        uint8 script; // index into `witnessScripts`
    }

    struct PayoutTx {
        uint64 batchId;
        TxInput[] inputs;
        bytes[] witnessScripts; // distinct scripts the inputs pay
        uint64 change;
        bytes32 changeScriptHash; // sha256 of the current epoch's witness script (P2WSH change)
        uint64[] values; // withdrawal outputs, in output order
        bytes[] scripts;
    }

    /// @notice The unsigned transaction (P2SH-P2WSH scriptSigs set), its txid (internal order)
    ///         and each input's SIGHASH_ALL sighash.
    function build(PayoutTx calldata t) external pure returns (bytes memory raw, bytes32 txid, bytes32[] memory hashes) {
        (bytes memory ins, bytes32 hp, bytes32 hs) = _inputs(t);
        bytes memory outBytes = _outputs(t);
        bytes32 ho = BitcoinTx.sha256d(outBytes);
        BitcoinTx.Writer memory head = BitcoinTx.writer(10);
        head.putLE(TX_VERSION, 4);
        head.putCompact(t.inputs.length);
        BitcoinTx.Writer memory mid = BitcoinTx.writer(5);
        mid.putCompact(t.values.length + 2);
        raw = abi.encodePacked(head.done(), ins, mid.done(), outBytes, uint32(0));
        txid = BitcoinTx.sha256d(raw);
        hashes = _sighashes(t, hp, hs, ho);
    }

    /// @dev Serialised inputs, hashPrevouts and hashSequence.
    function _inputs(PayoutTx calldata t) internal pure returns (bytes memory, bytes32, bytes32) {
        uint256 nIn = t.inputs.length;
        bytes32[] memory wsHash = new bytes32[](t.witnessScripts.length);
        for (uint256 i; i < wsHash.length; ++i) wsHash[i] = sha256(t.witnessScripts[i]);
        BitcoinTx.Writer memory ins = BitcoinTx.writer(nIn * 76);
        BitcoinTx.Writer memory prev = BitcoinTx.writer(nIn * 36);
        BitcoinTx.Writer memory seqs = BitcoinTx.writer(nIn * 4);
        for (uint256 i; i < nIn; ++i) {
            TxInput calldata u = t.inputs[i];
            ins.put(u.txid, 32);
            ins.putLE(u.vout, 4);
            prev.put(u.txid, 32);
            prev.putLE(u.vout, 4);
            if (u.p2sh) {
                // one push (0x22) of the 34-byte redeem script OP_0 <sha256(ws)> (PROTOCOL.md §1.5)
                ins.put(bytes32(uint256(0x23220020) << 224), 4);
                ins.put(wsHash[u.script], 32);
            } else {
                ins.putByte(0);
            }
            ins.putLE(SEQUENCE, 4);
            seqs.putLE(SEQUENCE, 4);
        }
        return (ins.done(), BitcoinTx.sha256d(prev.done()), BitcoinTx.sha256d(seqs.done()));
    }

    function _sighashes(PayoutTx calldata t, bytes32 hp, bytes32 hs, bytes32 ho) internal pure returns (bytes32[] memory hashes) {
        hashes = new bytes32[](t.inputs.length);
        for (uint256 i; i < hashes.length; ++i) {
            TxInput calldata u = t.inputs[i];
            hashes[i] = Bip143.sighash(
                TX_VERSION, hp, hs, Bip143.Input(u.txid, u.vout, t.witnessScripts[u.script], u.amount, SEQUENCE), ho, 0
            );
        }
    }

    /// @dev change (P2WSH of the current epoch) ‖ withdrawals ‖ OP_RETURN <"FNP" 01 ‖ batchId u64 BE>.
    function _outputs(PayoutTx calldata t) internal pure returns (bytes memory) {
        uint256 cap = 43 + 23;
        for (uint256 i; i < t.scripts.length; ++i) cap += 14 + t.scripts[i].length;
        BitcoinTx.Writer memory outs = BitcoinTx.writer(cap);
        outs.putLE(t.change, 8);
        outs.put(bytes32(uint256(0x220020) << 232), 3);
        outs.put(t.changeScriptHash, 32);
        for (uint256 i; i < t.scripts.length; ++i) {
            outs.putLE(t.values[i], 8);
            outs.putCompact(t.scripts[i].length);
            outs.putBytes(t.scripts[i]);
        }
        outs.putLE(0, 8);
        outs.put(bytes32(uint256(0x0e6a0c464e5001) << 200), 7);
        outs.put(bytes32(uint256(t.batchId) << 192), 8);
        return outs.done();
    }

    /// @notice PROTOCOL.md §4.2 step 3: the fee for the estimated size, shares pro rata rounded up
    ///         (ceil(fee × amount / T)); withdrawals left below dust are dropped and the rest
    ///         repriced until none is. `amounts`/`scriptLens` are the selected withdrawals.
    /// @return dropped which withdrawals are unpayable (refunded)
    /// @return live how many remain
    /// @return fee the estimate the shares are computed from
    /// @return total T, Σ amount of the remaining withdrawals
    /// @return vsize the estimated vsize
    function applyFees(uint256 nIn, uint256 inW, uint256[] memory amounts, uint256[] memory scriptLens, uint256 feeRate)
        external
        pure
        returns (bool[] memory dropped, uint256 live, uint256 fee, uint256 total, uint256 vsize)
    {
        dropped = new bool[](amounts.length);
        live = amounts.length;
        uint256 fixedIn = inW + 4 * (8 + 1 + 34) + 4 * (8 + 1 + 14); // inputs + change + OP_RETURN
        for (;;) {
            uint256 outs = fixedIn;
            total = 0;
            for (uint256 i; i < amounts.length; ++i) {
                if (dropped[i]) continue;
                outs += BitcoinTx.outputWeight(scriptLens[i]);
                total += amounts[i];
            }
            vsize = (BitcoinTx.fixedWeight(nIn, live + 2) + outs + 3) / 4;
            fee = (vsize * feeRate + 999) / 1000;
            if (live == 0) break;
            uint256 before = live;
            for (uint256 i; i < amounts.length; ++i) {
                if (!dropped[i] && amounts[i] < (fee * amounts[i] + total - 1) / total + 546) {
                    dropped[i] = true;
                    --live;
                }
            }
            if (live == before) break;
        }
    }

    /// @notice A federation witness script (PROTOCOL.md §1) and its estimated witness size.
    function federationScript(uint256 epoch, uint256 m, uint8[] calldata prefixes, bytes32[] calldata xs)
        external
        pure
        returns (bytes memory ws, uint256 witnessBytes)
    {
        ws = BitcoinTx.federationScript(epoch, m, prefixes, xs);
        witnessBytes = BitcoinTx.witnessBytes(xs.length, m, ws.length);
    }

    /// @notice BIP-143 SIGHASH_ALL sighash of one input from its parts (vector tests, tools).
    function sighash(
        uint32 version,
        bytes32 hashPrevouts,
        bytes32 hashSequence,
        Bip143.Input calldata inp,
        bytes32 hashOutputs,
        uint32 locktime
    ) external pure returns (bytes32) {
        return Bip143.sighash(version, hashPrevouts, hashSequence, inp, hashOutputs, locktime);
    }

    /// @notice The signer a witness signature recovers to with one `ecrecover` (address(0) when
    ///         high-S, zero r/s or recid ∉ {0,1}) — the coordinator's exact check.
    function recoverSigner(bytes32 digest, uint8 recid, bytes32 r, bytes32 s) external pure returns (address) {
        return Bip143.recover(digest, recid, r, s);
    }
}
