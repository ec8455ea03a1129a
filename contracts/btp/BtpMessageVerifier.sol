// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IconRlp} from "../libraries/IconRlp.sol";
import {BtpAddress} from "../libraries/BtpAddress.sol";
import {CodeStore} from "../libraries/CodeStore.sol";
import {BtpBlockLib} from "./BtpBlockLib.sol";
import {Roles} from "../access/Roles.sol";
import {IBtpMessageVerifier} from "../interfaces/IBtpMessageVerifier.sol";
import {IValidatorRegistry} from "../interfaces/IValidatorRegistry.sol";

/// @title BtpMessageVerifier
/// @notice BTP 2.0 message verifier for the "eth" network type. Accepts the relay message bytes
///         of the reference btp2 BMVs (BlockUpdate = 1, MessageProof = 2), checks the header chain,
///         message SN continuity, every signature of the ETH Proof against the current
///         ProofContext (invalid signatures are ignored, not counted), the quorum, and each message
///         against MessagesRoot. It keeps a participation record per BTP block for slashing.
/// @dev Standalone mode (registry = 0) follows the ProofContexts in the headers, like the
///      reference BMVs. fednode mode additionally requires each NextProofContext to equal the
///      registry's frozen set of the next epoch, and tells the registry when it activates.
contract BtpMessageVerifier is IBtpMessageVerifier, Roles {
    using IconRlp for IconRlp.Item;

    uint256 internal constant TYPE_BLOCK_UPDATE = 1;
    uint256 internal constant TYPE_MESSAGE_PROOF = 2;
    /// @dev n/2 of secp256k1: an S above it is the malleable twin of a valid signature (EIP-2,
    ///      BIP-62 low-S). The TypeScript verifier (src/chains/btp/secp256k1.ts) refuses it too.
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice The BMC allowed to call {handleRelayMessage}.
    address public immutable bmc;
    /// @notice The staking registry the ProofContexts must follow (zero in standalone mode).
    IValidatorRegistry public immutable registry;
    /// @notice BTP network type id of the destination network type (eth).
    uint256 public immutable networkTypeId;
    /// @notice The source BTP network id (from the first header).
    uint256 public immutable networkId;

    bytes32 private immutable _srcUidWord;
    uint256 private immutable _srcUidLen;
    bytes32 private immutable _srcNetHash;

    struct State {
        uint64 height;
        uint64 messageCount;
        uint64 firstMessageSn;
        uint64 nextMessageSn;
    }

    /// @notice NetworkSection hash of the last accepted block (the next block's `Prev`).
    bytes32 public networkSectionHash;
    /// @notice MessagesRoot of the last block that carried messages.
    bytes32 public messageRoot;
    State internal _state;

    /// @notice Id of the ProofContext that verifies the next block.
    uint32 public currentSetId;
    /// @notice Registry epoch of each ProofContext (fednode mode).
    mapping(uint256 setId => uint256) public setEpoch;
    mapping(uint256 setId => address) internal _setPtr;

    /// @notice Quorum rule: `votes * quorumDen > validators * quorumNum` (default 1/2: N/2+1 by count).
    uint64 public quorumNum = 1;
    uint64 public quorumDen = 2;
    /// @notice Home blocks after a BTP block's acceptance during which {recordSignature} is open.
    uint64 public signatureWindow = 100;

    struct BlockRecord {
        uint160 signers; // bit i = validator i of the block's ProofContext signed
        uint32 setId;
        uint64 acceptedAt; // home block number
    }

    mapping(uint256 btpHeight => BlockRecord) internal _records;
    /// @notice The signed decision hash of each accepted BTP block.
    mapping(uint256 btpHeight => bytes32) public decisionOf;

    /// @notice A block update was verified and applied.
    event BlockAccepted(uint256 indexed height, bytes32 decision, uint256 signers, uint256 votes, uint256 setId);
    /// @notice A new ProofContext takes over from the next block on.
    event ValidatorSetChanged(uint256 indexed setId, uint256 indexed epoch, uint256 fromHeight, address[] validators);
    /// @notice A block update at or below the current height was skipped (duplicate relay).
    event StaleBlockUpdateSkipped(uint256 indexed height);
    /// @notice A validator's signature missing from the relayed proof was recorded later.
    event SignatureRecorded(uint256 indexed height, uint256 indexed index, address indexed validator);
    event QuorumChanged(uint256 num, uint256 den);
    event SignatureWindowChanged(uint256 blocks);

    error NotBmc(address caller);
    error WrongSourceNetwork();
    error SequenceMismatch(uint256 expected, uint256 actual);
    error UnknownRelayMessageType(uint256 typ);
    error UnexpectedBlockUpdate(uint256 remainingMessages);
    error NetworkIdMismatch(uint256 expected, uint256 actual);
    error PrevMismatch(bytes32 expected, bytes32 actual);
    error MessageSnMismatch(uint256 expected, uint256 actual);
    error QuorumNotReached(uint256 votes, uint256 validators);
    /// @notice The proof must have exactly one slot (signature or nil) per validator of the
    ///         current ProofContext (docs/BTP.md §6 rule 8, BTP_PROOF_LENGTH_MISMATCH off chain).
    error ProofLengthMismatch(uint256 signatures, uint256 validators);
    error NextProofContextMismatch(uint256 epoch);
    error NextEpochNotFrozen(uint256 epoch);
    error InvalidMessageProof(bytes32 root, uint256 leafCount);
    error MessageGap(uint256 delivered, uint256 left);
    error UnknownBlock(uint256 height);
    error SignatureWindowClosed(uint256 height, uint256 deadline);
    error SignatureAlreadyRecorded(uint256 height, uint256 index);
    error InvalidSignature(uint256 height, uint256 index);
    error ValidatorIndexOutOfRange(uint256 index);
    error InvalidQuorum();
    error InitialSetMismatch();
    error InvalidSourceNetwork();

    /// @param admin holder of ADMIN_ROLE (quorum rule and signature window)
    /// @param bmc_ the BMC contract
    /// @param srcNetworkUid source network UID, e.g. `0x1.btc` (at most 31 bytes)
    /// @param networkTypeId_ destination network type id
    /// @param firstBlockHeader a BTPBlockHeader carrying the initial NextProofContext
    /// @param registry_ staking registry (zero: standalone). If set, the first ProofContext must
    ///        equal the registry's current epoch set.
    constructor(
        address admin,
        address bmc_,
        string memory srcNetworkUid,
        uint256 networkTypeId_,
        bytes memory firstBlockHeader,
        IValidatorRegistry registry_
    ) Roles(admin) {
        bytes memory uid = bytes(srcNetworkUid);
        if (uid.length == 0 || uid.length > 31) revert InvalidSourceNetwork();
        bmc = bmc_;
        registry = registry_;
        networkTypeId = networkTypeId_;
        _srcUidWord = bytes32(uid);
        _srcUidLen = uid.length;
        _srcNetHash = keccak256(uid);

        BtpBlockLib.Header memory h = BtpBlockLib.decodeHeader(IconRlp.toItem(firstBlockHeader));
        if (!h.hasNextProofContext) revert BtpBlockLib.EmptyProofContext();
        networkId = h.networkId;
        networkSectionHash = h.networkSectionHash;
        messageRoot = h.messagesRoot;
        uint64 sn = uint64(h.updateNumber >> 1);
        _state = State(uint64(h.mainHeight), uint64(h.messageCount), sn, sn);
        uint256 epoch;
        if (address(registry_) != address(0)) {
            epoch = registry_.currentEpoch();
            if (!_sameSet(h.nextValidators, registry_.epochValidators(epoch))) revert InitialSetMismatch();
        }
        _installSet(0, epoch, h.mainHeight, h.nextValidators);
    }

    // ------------------------------------------------------------------ relay

    /// @inheritdoc IBtpMessageVerifier
    function handleRelayMessage(string calldata, string calldata prev, uint256 sn, bytes calldata relayMsg)
        external
        returns (bytes memory messages, uint256[] memory heights)
    {
        if (msg.sender != bmc) revert NotBmc(msg.sender);
        if (BtpAddress.networkHash(prev) != _srcNetHash) revert WrongSourceNetwork();
        Ctx memory c;
        c.st = _state;
        if (sn != c.st.nextMessageSn) revert SequenceMismatch(c.st.nextMessageSn, sn);
        c.nsHash = networkSectionHash;
        c.root = messageRoot;

        IconRlp.Item[] memory rms = IconRlp.toItem(relayMsg).toList();
        if (rms.length == 0) revert IconRlp.RlpMalformed();
        rms = rms[0].toList();
        // messages stay views into the relay message until copied out at the end
        uint256[][] memory batches = new uint256[][](rms.length); // packed views (BtpBlockLib)
        uint256[] memory batchHeights = new uint256[](rms.length);

        for (uint256 i; i < rms.length; ++i) {
            IconRlp.Item[] memory rm = rms[i].toList();
            if (rm.length != 2) revert IconRlp.RlpMalformed();
            uint256 typ = rm[0].toUint();
            if (typ == TYPE_BLOCK_UPDATE) {
                _blockUpdate(c, rm[1].inner());
            } else if (typ == TYPE_MESSAGE_PROOF) {
                if (c.skipping) continue;
                batches[i] = _messageProof(c, rm[1].inner());
                batchHeights[i] = c.st.height;
            } else {
                revert UnknownRelayMessageType(typ);
            }
        }

        // One packed blob (u32 length ‖ message, per message) instead of bytes[]: the BMC walks it
        // in place, which saves an ABI array encode/decode and a copy per message (gas, issue 4).
        uint256 total;
        for (uint256 i; i < rms.length; ++i) {
            uint256[] memory b = batches[i];
            for (uint256 j; j < b.length; ) {
                uint256 v = b[j];
                if (v & 1 != 0) revert IconRlp.RlpNotBytes();
                unchecked {
                    total += 4 + uint128(v >> 1);
                    ++j;
                }
            }
        }
        messages = new bytes(total);
        heights = new uint256[](c.out);
        uint256 w;
        assembly ("memory-safe") { w := add(messages, 32) }
        uint256 k;
        for (uint256 i; i < rms.length; ++i) {
            uint256[] memory b = batches[i];
            uint256 height = batchHeights[i];
            // Unchecked: the blob was sized from these same views and `heights` has one slot per
            // taken message (c.out), so neither write can pass its end.
            assembly ("memory-safe") {
                let n := mload(b)
                let vp := add(b, 32)
                let hp := add(add(heights, 32), shl(5, k))
                for { let j := 0 } lt(j, n) { j := add(j, 1) } {
                    let v := mload(add(vp, shl(5, j)))
                    let len := and(shr(1, v), 0xffffffffffffffffffffffffffffffff)
                    // the length word's 28 trailing zero bytes are overwritten by the message (or
                    // land past the blob, in unallocated memory)
                    mstore(w, shl(224, len))
                    mcopy(add(w, 4), shr(129, v), len)
                    w := add(w, add(4, len))
                    mstore(add(hp, shl(5, j)), height)
                }
                k := add(k, n)
            }
        }

        if (c.nsHash != networkSectionHash) networkSectionHash = c.nsHash;
        if (c.root != messageRoot) messageRoot = c.root;
        _state = c.st;
    }

    /// @dev Relay-local state, kept in memory to stay within the stack.
    struct Ctx {
        State st;
        bytes32 nsHash;
        bytes32 root;
        bool skipping; // after a block update older than the current block, its message proofs are duplicates
        uint256 out;
    }

    function _blockUpdate(Ctx memory c, IconRlp.Item memory body) internal {
        (BtpBlockLib.Header memory h, IconRlp.Item[] memory sigs) = BtpBlockLib.decodeBlockUpdate(body);
        if (h.mainHeight <= c.st.height) {
            // Duplicate or racing relay: a cheap no-op rather than a revert (issue 4). Message
            // proofs for the current block still deliver whatever part is new; those of an
            // older block are skipped.
            c.skipping = h.mainHeight < c.st.height;
            emit StaleBlockUpdateSkipped(h.mainHeight);
            return;
        }
        c.skipping = false;
        uint256 remaining = c.st.messageCount - (c.st.nextMessageSn - c.st.firstMessageSn);
        if (remaining != 0) revert UnexpectedBlockUpdate(remaining);
        if (h.networkId != networkId) revert NetworkIdMismatch(networkId, h.networkId);
        if (h.prev != c.nsHash) revert PrevMismatch(c.nsHash, h.prev);
        uint256 firstSn = h.updateNumber >> 1;
        if (firstSn != c.st.nextMessageSn) revert MessageSnMismatch(c.st.nextMessageSn, firstSn);

        _verifyProof(h, sigs);

        c.st.height = uint64(h.mainHeight);
        c.nsHash = h.networkSectionHash;
        if (h.hasNextProofContext) _switchSet(h);
        if (h.messagesRoot != bytes32(0)) {
            c.root = h.messagesRoot;
            c.st.firstMessageSn = uint64(firstSn);
            c.st.messageCount = uint64(h.messageCount);
        }
    }

    function _messageProof(Ctx memory c, IconRlp.Item memory body) internal pure returns (uint256[] memory take) {
        (bytes32 r, uint256 leafCount, uint256 left, uint256[] memory msgs) = BtpBlockLib.computeMessageProof(body);
        if (r != c.root || leafCount != c.st.messageCount) revert InvalidMessageProof(r, leafCount);
        uint256 delivered = c.st.nextMessageSn - c.st.firstMessageSn;
        if (left > delivered) revert MessageGap(delivered, left);
        uint256 skip = delivered - left;
        if (skip >= msgs.length) return take; // all already delivered
        uint256 fresh = msgs.length - skip;
        c.out += fresh;
        c.st.nextMessageSn += uint64(fresh);
        if (skip == 0) return msgs; // the usual case: every carried message is new, no copy
        take = new uint256[](fresh);
        for (uint256 j; j < fresh; ++j) take[j] = msgs[skip + j];
    }

    /// @dev Checks every signature (nil entries skipped, invalid ones ignored) and the quorum;
    ///      writes the participation record.
    function _verifyProof(BtpBlockLib.Header memory h, IconRlp.Item[] memory sigs) internal {
        uint32 setId = currentSetId;
        address[] memory vs = CodeStore.readAddresses(_setPtr[setId]);
        // Same rule as verifier.ts: a shorter or longer proof is malformed, not a partial vote.
        if (sigs.length != vs.length) revert ProofLengthMismatch(sigs.length, vs.length);
        bytes32 decision = BtpBlockLib.decisionHash(h, _srcUid(), networkTypeId);
        uint256 bitmap;
        uint256 votes;
        for (uint256 i; i < sigs.length; ++i) {
            IconRlp.Item memory s = sigs[i];
            if (s.isList) {
                // Only nil (0xf800) marks an absent signature; any other list (0xc0 included) is
                // a malformed proof, as in the TypeScript codec (RLP_WRONG_TYPE).
                if (s.len != 0 || !_isLongFormNil(s.ptr)) revert IconRlp.RlpNotBytes();
                continue;
            }
            if (s.len != 65) continue; // malformed signature: not counted
            if (_recover(decision, s.ptr) == vs[i]) {
                bitmap |= 1 << i;
                votes++;
            }
        }
        if (votes * quorumDen <= vs.length * quorumNum) revert QuorumNotReached(votes, vs.length);
        _records[h.mainHeight] = BlockRecord(uint160(bitmap), setId, uint64(block.number));
        decisionOf[h.mainHeight] = decision;
        emit BlockAccepted(h.mainHeight, decision, bitmap, votes, setId);
    }

    function _switchSet(BtpBlockLib.Header memory h) internal {
        uint256 epoch;
        if (address(registry) != address(0)) {
            epoch = setEpoch[currentSetId] + 1;
            if (!registry.isFrozen(epoch)) revert NextEpochNotFrozen(epoch);
            if (!_sameSet(h.nextValidators, registry.epochValidators(epoch))) revert NextProofContextMismatch(epoch);
            // The new set signs from the next Bitcoin height on (CONSENSUS.md §2.3: activation at
            // b + 1 for the block b that carries NextProofContext), the same height the
            // validators' derivation records and `ValidatorSetChanged.fromHeight` reports.
            registry.activateEpoch(epoch, h.mainHeight + 1);
        }
        uint32 next = currentSetId + 1;
        currentSetId = next;
        _installSet(next, epoch, h.mainHeight + 1, h.nextValidators);
    }

    function _installSet(uint32 setId, uint256 epoch, uint256 fromHeight, address[] memory vs) internal {
        _setPtr[setId] = CodeStore.writeAddresses(vs);
        setEpoch[setId] = epoch;
        emit ValidatorSetChanged(setId, epoch, fromHeight, vs);
    }

    function _sameSet(address[] memory a, address[] memory b) internal pure returns (bool) {
        if (a.length != b.length) return false;
        for (uint256 i; i < a.length; ++i) if (a[i] != b[i]) return false;
        return true;
    }

    /// @dev 65-byte R‖S‖V at `p`. Returns zero (never a validator) unless V ∈ {0,1} and
    ///      0 < S ≤ n/2: exactly the signatures the TypeScript verifier accepts (docs/BTP.md §6
    ///      rule 9), so both count the same signers. A high-S twin or V = 27/28 is invalid and
    ///      not counted (DESIGN.md: invalid signatures are ignored, not counted).
    function _recover(bytes32 digest, uint256 p) internal pure returns (address signer) {
        bytes32 r;
        bytes32 s;
        uint256 v;
        assembly ("memory-safe") {
            r := mload(p)
            s := mload(add(p, 32))
            v := byte(0, mload(add(p, 64)))
        }
        if (v > 1 || uint256(s) > HALF_N || s == 0) return address(0);
        signer = ecrecover(digest, uint8(v + 27), r, s);
    }

    /// @dev An empty list item whose payload starts at `p` was written `0xf8 0x00` (nil), not `0xc0`.
    function _isLongFormNil(uint256 p) internal pure returns (bool nil) {
        assembly ("memory-safe") { nil := iszero(byte(0, mload(sub(p, 1)))) }
    }

    function _srcUid() internal view returns (string memory s) {
        bytes memory b = new bytes(_srcUidLen);
        bytes32 w = _srcUidWord;
        assembly ("memory-safe") { mstore(add(b, 32), w) }
        s = string(b);
    }

    // ------------------------------------------------------------------ participation

    /// @notice Records a validator's valid signature that the relayed proof lacked, until
    ///         `signatureWindow` home blocks after the block's acceptance.
    /// @param height BTP block MainHeight
    /// @param index the validator's position in that block's ProofContext
    /// @param signature 65-byte R‖S‖V over the block's decision hash
    function recordSignature(uint256 height, uint256 index, bytes calldata signature) external {
        BlockRecord memory rec = _records[height];
        if (rec.acceptedAt == 0) revert UnknownBlock(height);
        uint256 deadline = uint256(rec.acceptedAt) + signatureWindow;
        if (block.number > deadline) revert SignatureWindowClosed(height, deadline);
        address[] memory vs = CodeStore.readAddresses(_setPtr[rec.setId]);
        if (index >= vs.length) revert ValidatorIndexOutOfRange(index);
        if (uint256(rec.signers) & (uint256(1) << index) != 0) revert SignatureAlreadyRecorded(height, index);
        if (signature.length != 65) revert InvalidSignature(height, index);
        bytes memory sig = signature;
        uint256 p;
        assembly ("memory-safe") { p := add(sig, 32) }
        if (_recover(decisionOf[height], p) != vs[index]) revert InvalidSignature(height, index);
        _records[height].signers = uint160(uint256(rec.signers) | (uint256(1) << index));
        emit SignatureRecorded(height, index, vs[index]);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Sets the quorum rule `votes * den > validators * num` (admin). Requires 1/2 ≤ num/den < 1.
    function setQuorum(uint64 num, uint64 den) external onlyRole(ADMIN_ROLE) {
        if (den == 0 || num >= den || 2 * uint256(num) < den) revert InvalidQuorum();
        quorumNum = num;
        quorumDen = den;
        emit QuorumChanged(num, den);
    }

    /// @notice Sets how many home blocks {recordSignature} stays open after acceptance (admin).
    function setSignatureWindow(uint64 blocks) external onlyRole(ADMIN_ROLE) {
        signatureWindow = blocks;
        emit SignatureWindowChanged(blocks);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IBtpMessageVerifier
    function getSrcNetworkId() external view returns (string memory) {
        return _srcUid();
    }

    /// @notice MainHeight of the last accepted block.
    function getHeight() external view returns (uint256) {
        return _state.height;
    }

    /// @notice Messages in the last message-carrying block.
    function getMessageCount() external view returns (uint256) {
        return _state.messageCount;
    }

    /// @notice SN of the first message of the last message-carrying block.
    function getFirstMessageSn() external view returns (uint256) {
        return _state.firstMessageSn;
    }

    /// @notice SN of the next message to deliver.
    function getNextMessageSn() external view returns (uint256) {
        return _state.nextMessageSn;
    }

    /// @notice Messages of the last block not yet delivered.
    function getRemainMessageCount() external view returns (uint256) {
        return _state.messageCount - (_state.nextMessageSn - _state.firstMessageSn);
    }

    /// @notice The ProofContext `setId` (ascending address order in fednode mode).
    function getValidators(uint256 setId) external view returns (address[] memory) {
        return CodeStore.readAddresses(_setPtr[setId]);
    }

    /// @notice The ProofContext that verifies the next block.
    function currentValidators() external view returns (address[] memory) {
        return CodeStore.readAddresses(_setPtr[currentSetId]);
    }

    /// @notice Participation record of a BTP block: signer bitmap, ProofContext id, acceptance block.
    function blockRecord(uint256 height) external view returns (uint256 signers, uint256 setId, uint256 acceptedAt) {
        BlockRecord memory r = _records[height];
        return (r.signers, r.setId, r.acceptedAt);
    }

    /// @notice True if validator `index` of the block's ProofContext has a recorded signature.
    function hasSigned(uint256 height, uint256 index) external view returns (bool) {
        return uint256(_records[height].signers) & (uint256(1) << index) != 0;
    }
}
