// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IconRlp} from "../libraries/IconRlp.sol";

/// @title BtpBlockLib
/// @notice Decoding and hashing of BTP 2.0 block headers, ETH proofs, ProofContexts and message
///         proofs (goloop `doc/btp2.md`, eth network type; DESIGN.md §3).
library BtpBlockLib {
    using IconRlp for IconRlp.Item;

    /// @dev BTPBlockHeader = [MainHeight, Round, NextProofContextHash, NetworkSectionToRoot,
    ///      NetworkID, UpdateNumber, Prev, MessageCount, MessagesRoot, NextProofContext].
    struct Header {
        uint256 mainHeight;
        uint256 round;
        bytes32 nextProofContextHash;
        bytes32 networkSectionRootPathHash; // the NetworkSection root computed with the path
        uint256 networkId;
        uint256 updateNumber; // FirstMessageSN << 1 | ProofContextChanged
        bytes32 prev; // zero when nil
        uint256 messageCount;
        bytes32 messagesRoot; // zero when nil
        bool hasNextProofContext;
        bytes32 networkSectionHash;
        address[] nextValidators;
    }

    error InconsistentNextProofContextHash();
    error MessageProofMalformed();
    error EmptyProofContext();

    uint256 internal constant MAX_VALIDATORS = 160;

    /// @notice Decodes a BlockUpdate payload `RLP([header bytes, proof bytes])` and returns the
    ///         header and the signature items of the ETH Proof `[[sig65 | nil, ...]]`.
    function decodeBlockUpdate(IconRlp.Item memory enc)
        internal
        pure
        returns (Header memory h, IconRlp.Item[] memory sigs)
    {
        IconRlp.Item[] memory bu = enc.toList();
        if (bu.length < 2) revert IconRlp.RlpMalformed();
        h = decodeHeader(bu[0].inner());
        IconRlp.Item memory proof = bu[1].inner();
        IconRlp.Item[] memory outer = proof.toList();
        if (outer.length == 0) revert IconRlp.RlpMalformed();
        sigs = outer[0].toList();
    }

    function decodeHeader(IconRlp.Item memory it) internal pure returns (Header memory h) {
        IconRlp.Item[] memory f = it.toList();
        if (f.length != 10) revert IconRlp.RlpMalformed();
        h.mainHeight = f[0].toUint();
        h.round = f[1].toUint();
        h.nextProofContextHash = f[2].toBytes32();
        h.networkId = f[4].toUint();
        h.updateNumber = f[5].toUint();
        h.prev = f[6].isNil() ? bytes32(0) : f[6].toBytes32();
        h.messageCount = f[7].toUint();
        h.messagesRoot = f[8].isNil() ? bytes32(0) : f[8].toBytes32();
        h.networkSectionHash = networkSectionHash(h);
        h.networkSectionRootPathHash = _applyPath(h.networkSectionHash, f[3]);
        if (!f[9].isNil()) {
            h.hasNextProofContext = true;
            if (f[9].payloadHash() != h.nextProofContextHash) revert InconsistentNextProofContextHash();
            h.nextValidators = decodeProofContext(f[9].inner());
        }
    }

    /// @notice ETH ProofContext `[[address20, ...]]`.
    function decodeProofContext(IconRlp.Item memory it) internal pure returns (address[] memory vs) {
        IconRlp.Item[] memory outer = it.toList();
        if (outer.length == 0) revert EmptyProofContext();
        IconRlp.Item[] memory l = outer[0].toList();
        if (l.length == 0 || l.length > MAX_VALIDATORS) revert EmptyProofContext();
        vs = new address[](l.length);
        for (uint256 i; i < l.length; ++i) vs[i] = l[i].toAddress();
    }

    /// @notice keccak256 of the ProofContext bytes for `vs` (the NextProofContextHash).
    function proofContextHash(address[] memory vs) internal pure returns (bytes32) {
        bytes memory items;
        for (uint256 i; i < vs.length; ++i) items = abi.encodePacked(items, uint8(0x94), vs[i]);
        return keccak256(IconRlp.encList(IconRlp.encList(items)));
    }

    /// @notice NetworkSection = [NetworkID, UpdateNumber, Prev, MessageCount, MessagesRoot].
    function networkSectionHash(Header memory h) internal pure returns (bytes32) {
        bytes memory payload = abi.encodePacked(
            IconRlp.encUint(h.networkId),
            IconRlp.encUint(h.updateNumber),
            h.prev == bytes32(0) ? IconRlp.NIL : IconRlp.encBytes32(h.prev),
            IconRlp.encUint(h.messageCount),
            h.messagesRoot == bytes32(0) ? IconRlp.NIL : IconRlp.encBytes32(h.messagesRoot)
        );
        return keccak256(IconRlp.encList(payload));
    }

    /// @notice keccak of NetworkTypeSectionDecision = [SrcNetworkUID, DstNetworkTypeID, Height,
    ///         Round, keccak(NetworkTypeSection = [NextProofContextHash, NetworkSectionsRoot])].
    function decisionHash(Header memory h, string memory srcNetworkUid, uint256 networkTypeId)
        internal
        pure
        returns (bytes32)
    {
        bytes32 nts = keccak256(
            IconRlp.encList(
                abi.encodePacked(
                    IconRlp.encBytes32(h.nextProofContextHash), IconRlp.encBytes32(h.networkSectionRootPathHash)
                )
            )
        );
        return keccak256(
            IconRlp.encList(
                abi.encodePacked(
                    IconRlp.encBytes(bytes(srcNetworkUid)),
                    IconRlp.encUint(networkTypeId),
                    IconRlp.encUint(h.mainHeight),
                    IconRlp.encUint(h.round),
                    IconRlp.encBytes32(nts)
                )
            )
        );
    }

    /// @dev Merkle path [[Dir, Hash], ...]: Dir 0 means the sibling is on the left. A `[1, nil]`
    ///      level is an odd node carried up and is skipped (DESIGN.md §3).
    function _applyPath(bytes32 leaf, IconRlp.Item memory path) private pure returns (bytes32 acc) {
        acc = leaf;
        if (path.isNil()) return acc;
        IconRlp.Item[] memory levels = path.toList();
        for (uint256 i; i < levels.length; ++i) {
            IconRlp.Item[] memory lv = levels[i].toList();
            if (lv.length != 2) revert IconRlp.RlpMalformed();
            if (lv[1].isNil()) continue;
            bytes32 sib = lv[1].toBytes32();
            acc = lv[0].toUint() == 0
                ? keccak256(abi.encodePacked(sib, acc))
                : keccak256(abi.encodePacked(acc, sib));
        }
    }

    // ------------------------------------------------------------------ message proofs

    /// @notice Decodes MessageProof = [ProofInLeft, [msg...], ProofInRight] and computes the root.
    /// @return root the MessagesRoot the proof implies
    /// @return leafCount the total number of messages in the block
    /// @return leftCount the number of messages to the left of the carried ones
    /// @return msgs the message items as views into `enc`, one word each:
    ///         `ptr << 129 | len << 1 | isList` (no struct per leaf: this runs once per deposit)
    function computeMessageProof(IconRlp.Item memory enc)
        internal
        pure
        returns (bytes32 root, uint256 leafCount, uint256 leftCount, uint256[] memory msgs)
    {
        IconRlp.Item[] memory mp = enc.toList();
        if (mp.length != 3) revert IconRlp.RlpMalformed();
        IconRlp.Item[] memory lefts = mp[0].isNil() ? new IconRlp.Item[](0) : mp[0].toList();
        msgs = _leafViews(mp[1]);
        IconRlp.Item[] memory rights = mp[2].isNil() ? new IconRlp.Item[](0) : mp[2].toList();
        uint256 n = lefts.length + msgs.length + rights.length;
        if (n == 0) revert MessageProofMalformed();
        // parallel arrays (level, leafCount, hash): no allocation per merge
        uint256[] memory lv = new uint256[](n);
        uint256[] memory cnt = new uint256[](n);
        bytes32[] memory hs = new bytes32[](n);
        uint256 k;
        for (uint256 i; i < lefts.length; ++i) {
            (lv[k], cnt[k], hs[k]) = _proofNode(lefts[i]);
            leftCount += cnt[k];
            k++;
        }
        uint256 m = msgs.length;
        assembly ("memory-safe") {
            // k + m <= n by construction: unchecked leaf writes, each hashed from its view
            let mv := add(msgs, 32)
            let L := add(add(lv, 32), shl(5, k))
            let C := add(add(cnt, 32), shl(5, k))
            let H := add(add(hs, 32), shl(5, k))
            for { let i := 0 } lt(i, m) { i := add(i, 1) } {
                let w := mload(add(mv, shl(5, i)))
                let o := shl(5, i)
                mstore(add(L, o), 1)
                mstore(add(C, o), 1)
                mstore(add(H, o), keccak256(shr(129, w), and(shr(1, w), 0xffffffffffffffffffffffffffffffff)))
            }
        }
        k += m;
        // checked sums: an overflowing total still reverts (the reduction relies on that)
        leafCount = leftCount + m;
        for (uint256 i; i < rights.length; ++i) {
            (lv[k], cnt[k], hs[k]) = _proofNode(rights[i]);
            leafCount += cnt[k];
            k++;
        }
        root = _reduce(lv, cnt, hs, n);
    }

    /// @dev The children of a list item in one walk, as packed view words built in place at the
    ///      free memory pointer (IconRlp.next does not allocate).
    function _leafViews(IconRlp.Item memory list) private pure returns (uint256[] memory out) {
        if (!list.isList) revert IconRlp.RlpNotList();
        uint256 p = list.ptr;
        uint256 end = p + list.len;
        uint256 slot;
        assembly ("memory-safe") {
            out := mload(0x40)
            slot := add(out, 32)
        }
        while (p < end) {
            (uint256 ip, uint256 il, uint256 nx, bool isL) = IconRlp.next(p, end);
            assembly ("memory-safe") {
                mstore(slot, or(or(shl(129, ip), shl(1, il)), isL))
                slot := add(slot, 32)
            }
            p = nx;
        }
        assembly ("memory-safe") {
            mstore(out, shr(5, sub(sub(slot, out), 32)))
            mstore(0x40, slot)
        }
    }

    function _proofNode(IconRlp.Item memory it) private pure returns (uint256 level, uint256 leafCount, bytes32 hash) {
        IconRlp.Item[] memory p = it.toList();
        if (p.length != 2) revert MessageProofMalformed();
        leafCount = p[0].toUint();
        if (leafCount == 0) revert MessageProofMalformed();
        hash = p[1].toBytes32();
        // level of a subtree holding `leafCount` leaves: 1 + ceil(log2(leafCount))
        level = 1;
        for (uint256 t = leafCount - 1; t != 0; t >>= 1) level++;
    }

    /// @dev Level-by-level pairing of a left-to-right node list: at pass `p` a node of level ≤ p
    ///      is joined with its right neighbour. An odd last node is carried up unchanged. A left
    ///      operand must be a full subtree no smaller than its right sibling.
    ///      Unchecked: indices stay below `n` (w ≤ i), levels are ≥ 1, and ac + bc cannot
    ///      overflow because the caller already summed every count with overflow checks.
    function _reduce(uint256[] memory lv, uint256[] memory cnt, bytes32[] memory hs, uint256 n)
        private
        pure
        returns (bytes32 root)
    {
        bytes4 malformed = MessageProofMalformed.selector;
        assembly ("memory-safe") {
            let L := add(lv, 32)
            let C := add(cnt, 32)
            let H := add(hs, 32)
            for { let pass := 1 } gt(n, 1) { pass := add(pass, 1) } {
                if gt(pass, 256) {
                    mstore(0, malformed)
                    revert(0, 4)
                }
                let w := 0
                for { let i := 0 } lt(i, n) { w := add(w, 1) } {
                    let oi := shl(5, i)
                    let ow := shl(5, w)
                    let al := mload(add(L, oi))
                    let ac := mload(add(C, oi))
                    switch and(iszero(gt(al, pass)), lt(add(i, 1), n))
                    case 1 {
                        let bc := mload(add(C, add(oi, 32)))
                        if or(iszero(eq(ac, shl(sub(al, 1), 1))), lt(ac, bc)) {
                            mstore(0, malformed)
                            revert(0, 4)
                        }
                        mstore(0x00, mload(add(H, oi)))
                        mstore(0x20, mload(add(H, add(oi, 32))))
                        let h := keccak256(0x00, 0x40)
                        mstore(add(L, ow), add(al, 1))
                        mstore(add(C, ow), add(ac, bc))
                        mstore(add(H, ow), h)
                        i := add(i, 2)
                    }
                    default {
                        mstore(add(L, ow), al)
                        mstore(add(C, ow), ac)
                        mstore(add(H, ow), mload(add(H, oi)))
                        i := add(i, 1)
                    }
                }
                n := w
            }
            root := mload(H)
        }
    }
}
