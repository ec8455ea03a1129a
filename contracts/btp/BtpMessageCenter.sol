// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IconRlp} from "../libraries/IconRlp.sol";
import {BtpAddress} from "../libraries/BtpAddress.sol";
import {Roles} from "../access/Roles.sol";
import {IBtpMessageVerifier} from "../interfaces/IBtpMessageVerifier.sol";
import {IBitcoinService} from "../interfaces/IBitcoinService.sol";

/// @title BtpMessageCenter
/// @notice The home chain's BMC for the federation link: takes relay messages from anyone, has the
///         link's BMV verify them, decodes each BTPMessage `[src, dst, svc, sn, payload, nsn,
///         feeInfo]` and dispatches the payloads to the service named in `svc`, in batches of
///         consecutive messages of one BTP block. A service failure never reverts the relay: the
///         batch is kept for {retryBatch}.
contract BtpMessageCenter is Roles {
    using IconRlp for IconRlp.Item;

    /// @notice This BMC's BTP address, e.g. `btp://0x7a69.eth/0x…`.
    string public btpAddress;
    bytes32 internal immutable _selfHash;

    /// @notice Verifier per source network (keccak of the network part of a BTP address).
    mapping(bytes32 netHash => IBtpMessageVerifier) public verifiers;
    /// @notice Receive sequence per source network (the next message SN expected).
    mapping(bytes32 netHash => uint256) public rxSeq;
    /// @notice Service contract per service name hash.
    mapping(bytes32 svcHash => address) public services;
    /// @notice Batches whose dispatch failed, by keccak256(abi.encode(svc, height, firstSn, payloads)).
    mapping(bytes32 batchHash => bool) public failedBatches;

    /// @notice Gas a service batch may not take below, so a failing dispatch is always recorded.
    uint256 internal constant DISPATCH_RESERVE = 50_000;

    event VerifierSet(string network, address verifier);
    event ServiceSet(string svc, address service);
    event RelayHandled(bytes32 indexed networkHash, address indexed relayer, uint256 firstSn, uint256 count);
    event MessageDropped(uint256 indexed sn, uint8 reason);
    event BatchDispatchFailed(bytes32 indexed batchHash, bytes32 svcHash, uint256 btpHeight, uint256 firstSn, bytes[] payloads);
    event BatchRetried(bytes32 indexed batchHash);

    error UnknownNetwork();
    error VerifierAlreadySet();
    error ServiceAlreadySet();
    error UnknownFailedBatch(bytes32 batchHash);
    error MessageCountMismatch();
    error DispatchOutOfGas();

    /// @param admin ADMIN_ROLE holder, who wires the verifier and services once each
    /// @param btpAddress_ this BMC's BTP address
    constructor(address admin, string memory btpAddress_) Roles(admin) {
        btpAddress = btpAddress_;
        _selfHash = keccak256(bytes(btpAddress_));
    }

    /// @notice Registers the verifier of a source network (once; admin).
    /// @param network e.g. `0x1.btc`
    function setVerifier(string calldata network, IBtpMessageVerifier verifier) external onlyRole(ADMIN_ROLE) {
        bytes32 h = keccak256(bytes(network));
        if (address(verifiers[h]) != address(0)) revert VerifierAlreadySet();
        verifiers[h] = verifier;
        emit VerifierSet(network, address(verifier));
    }

    /// @notice Registers a service contract (once per name; admin).
    function setService(string calldata svc, address service) external onlyRole(ADMIN_ROLE) {
        bytes32 h = keccak256(bytes(svc));
        if (services[h] != address(0)) revert ServiceAlreadySet();
        services[h] = service;
        emit ServiceSet(svc, service);
    }

    /// @notice Verifies and delivers a relay message from the BMC at `prev`. Anyone may relay;
    ///         a relay whose content was already delivered is a cheap no-op.
    /// @param prev BTP address of the source BMC, e.g. `btp://0x1.btc/<federation>`
    /// @param relayMsg RLP relay message (BlockUpdates and MessageProofs)
    function handleRelayMessage(string calldata prev, bytes calldata relayMsg) external {
        bytes32 net = BtpAddress.networkHash(prev);
        IBtpMessageVerifier v = verifiers[net];
        if (address(v) == address(0)) revert UnknownNetwork();
        uint256 sn = rxSeq[net];
        (bytes memory blob, uint256[] memory heights) = v.handleRelayMessage(btpAddress, prev, sn, relayMsg);
        uint256 n = heights.length;
        if (n == 0) {
            if (blob.length != 0) revert MessageCountMismatch();
            return;
        }
        rxSeq[net] = sn + n;

        // Dispatch runs of consecutive messages with the same service and BTP block. Messages are
        // read in place from the verifier's packed blob (u32 length ‖ message); a run keeps only
        // pointers to its payloads (ptr << 128 | len) until its call data is written.
        Run memory r;
        r.payloads = new uint256[](n);
        Prefix memory pre = _prefix(bytes(prev));
        uint256 p;
        uint256 end;
        assembly ("memory-safe") {
            p := add(blob, 32)
            end := add(p, mload(blob))
        }
        for (uint256 i; i < n; ++i) {
            if (p + 4 > end) revert MessageCountMismatch();
            uint256 mp = p + 4;
            uint256 mend;
            assembly ("memory-safe") { mend := add(mp, shr(224, mload(p))) }
            if (mend > end) revert MessageCountMismatch();
            p = mend;
            (bytes32 svc, uint256 payload, bool ok) = _decodeMessage(mp, mend, pre);
            if (!ok) {
                emit MessageDropped(sn + i, 1);
                continue;
            }
            if (r.len != 0 && (svc != r.svc || heights[i] != r.height)) {
                _dispatch(r);
                r.len = 0;
            }
            if (r.len == 0) {
                r.svc = svc;
                r.height = heights[i];
                r.firstSn = sn + i;
                r.start = r.end;
            }
            r.payloads[r.end++] = payload;
            r.len++;
        }
        if (p != end) revert MessageCountMismatch();
        if (r.len != 0) _dispatch(r);
        emit RelayHandled(net, msg.sender, sn, n);
    }

    /// @dev The canonical RLP of `src ‖ dst` every message of the link starts with, as two
    ///      masked words (len ≤ 64; len 0 = no fast path).
    struct Prefix {
        bytes32 srcHash; // keccak256(prev), for the general path
        uint256 len;
        uint256 w0;
        uint256 m0;
        uint256 w1;
        uint256 m1;
    }

    function _prefix(bytes memory src) private view returns (Prefix memory pre) {
        pre.srcHash = keccak256(src);
        bytes memory dst = bytes(btpAddress);
        // both short strings (one-byte header 0x80 + len): otherwise only the general path
        if (src.length > 55 || dst.length > 55 || src.length + dst.length + 2 > 64) return pre;
        bytes memory enc = abi.encodePacked(bytes1(uint8(0x80 + src.length)), src, bytes1(uint8(0x80 + dst.length)), dst);
        uint256 len = enc.length;
        pre.len = len;
        pre.m0 = len >= 32 ? type(uint256).max : ~(type(uint256).max >> (8 * len));
        pre.m1 = len <= 32 ? 0 : ~(type(uint256).max >> (8 * (len - 32)));
        uint256 w0;
        uint256 w1;
        assembly ("memory-safe") {
            w0 := mload(add(enc, 32))
            w1 := mload(add(enc, 64))
        }
        pre.w0 = w0 & pre.m0;
        pre.w1 = w1 & pre.m1;
    }

    /// @dev True when the `ll` bytes at `lp` start with the prefix (reads past `ll` are masked off
    ///      or stay inside the blob, which is followed by allocated memory).
    function _startsWith(uint256 lp, uint256 ll, Prefix memory pre) private pure returns (bool same) {
        uint256 plen = pre.len;
        if (plen == 0 || plen > ll) return false;
        uint256 w0 = pre.w0;
        uint256 m0 = pre.m0;
        uint256 w1 = pre.w1;
        uint256 m1 = pre.m1;
        assembly ("memory-safe") {
            same := and(eq(and(mload(lp), m0), w0), eq(and(mload(add(lp, 32)), m1), w1))
        }
    }

    struct Run {
        uint256[] payloads; // ptr << 128 | len, into the verifier's blob
        uint256 start; // first payload of the current run
        uint256 end; // one past its last
        uint256 len;
        bytes32 svc;
        uint256 height;
        uint256 firstSn;
    }

    /// @dev BTPMessage = [src, dst, svc, sn, payload, nsn, feeInfo] at [p, end): src must be the
    ///      link's source BMC (`prev`), dst this BMC. Parsed in place: this runs once per deposit.
    /// @return svc keccak256 of the service name
    /// @return payload the payload as ptr << 128 | len (a view, nothing copied)
    /// @return ok false when the message is not for this link
    function _decodeMessage(uint256 p, uint256 end, Prefix memory pre)
        internal
        view
        returns (bytes32 svc, uint256 payload, bool ok)
    {
        (uint256 lp, uint256 ll,, bool isList) = IconRlp.next(p, end);
        if (!isList) return (0, 0, false);
        end = lp + ll;
        uint256 fp;
        uint256 fl;
        bool fList;
        if (_startsWith(lp, ll, pre)) {
            // Fast path: src and dst are exactly the canonical encodings of `prev` and this BMC,
            // which the general path below would accept too (one word compare instead of two
            // item decodes and two hashes per message).
            p = lp + pre.len;
        } else {
            (fp, fl, p, fList) = IconRlp.next(lp, end); // src
            if (fList || _hash(fp, fl) != pre.srcHash) return (0, 0, false);
            (fp, fl, p, fList) = IconRlp.next(p, end); // dst
            if (fList || _hash(fp, fl) != _selfHash) return (0, 0, false);
        }
        (fp, fl, p, fList) = IconRlp.next(p, end); // svc
        if (fList) return (0, 0, false);
        svc = _hash(fp, fl);
        (,, p,) = IconRlp.next(p, end); // sn
        (fp, fl, p, fList) = IconRlp.next(p, end); // payload
        if (fList) return (0, 0, false);
        payload = (fp << 128) | fl;
        ok = true;
    }

    function _hash(uint256 p, uint256 n) private pure returns (bytes32 h) {
        assembly ("memory-safe") { h := keccak256(p, n) }
    }

    /// @dev Calls `handleBTPMessages(relayer, height, firstSn, payloads)` with call data written
    ///      directly from the payload views (the ABI encoding of bytes[], without building the
    ///      array first: one copy per payload).
    function _dispatch(Run memory r) internal {
        address service = services[r.svc];
        if (service != address(0) && service.code.length != 0) {
            if (gasleft() <= 2 * DISPATCH_RESERVE) revert DispatchOutOfGas();
            (uint256 cd, uint256 size) = _callData(r, msg.sender);
            // Leave the reserve so a failing service still lets us record the batch below.
            uint256 forwarded = gasleft() - DISPATCH_RESERVE;
            uint256 before = gasleft();
            bool success;
            assembly ("memory-safe") { success := call(forwarded, service, 0, cd, size, 0, 0) }
            if (success) return;
            // A service that burnt (almost) all the gas it got was short of gas, not broken:
            // revert so the relayer (or eth_estimateGas) supplies more, instead of parking a
            // healthy batch as failed (EIP-150 leaves us ≥ 1/64 to get here).
            if (before - gasleft() >= (forwarded * 63) / 64) revert DispatchOutOfGas();
        }
        bytes[] memory payloads = new bytes[](r.len);
        for (uint256 i; i < r.len; ++i) {
            uint256 w = r.payloads[r.start + i];
            uint256 fl = w & type(uint128).max;
            uint256 fp = w >> 128;
            bytes memory b = new bytes(fl);
            assembly ("memory-safe") { mcopy(add(b, 32), fp, fl) }
            payloads[i] = b;
        }
        uint256 height = r.height;
        uint256 firstSn = r.firstSn;
        bytes32 h = keccak256(abi.encode(r.svc, height, firstSn, payloads));
        failedBatches[h] = true;
        emit BatchDispatchFailed(h, r.svc, height, firstSn, payloads);
    }

    /// @dev ABI call data of IBitcoinService.handleBTPMessages at the free memory pointer.
    function _callData(Run memory r, address relayer) private pure returns (uint256 cd, uint256 size) {
        uint256 n = r.len;
        uint256 first = r.start;
        uint256[] memory views = r.payloads;
        bytes4 sel = IBitcoinService.handleBTPMessages.selector;
        uint256 height = r.height;
        uint256 firstSn = r.firstSn;
        assembly ("memory-safe") {
            cd := mload(0x40)
            mstore(cd, sel)
            mstore(add(cd, 4), relayer)
            mstore(add(cd, 36), height)
            mstore(add(cd, 68), firstSn)
            mstore(add(cd, 100), 0x80)
            mstore(add(cd, 132), n)
            let heads := add(cd, 164) // offsets, relative to `heads`
            let tail := add(heads, mul(n, 32))
            let vp := add(add(views, 32), mul(first, 32))
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let w := mload(add(vp, mul(i, 32)))
                let fl := and(w, 0xffffffffffffffffffffffffffffffff)
                mstore(add(heads, mul(i, 32)), sub(tail, heads))
                mstore(tail, fl)
                let padded := and(add(fl, 31), not(31))
                // zero the last word first: the ABI pads byte strings with zeros
                if padded { mstore(add(tail, padded), 0) }
                mcopy(add(tail, 32), shr(128, w), fl)
                tail := add(add(tail, 32), padded)
            }
            size := sub(tail, cd)
            mstore(0x40, tail)
        }
    }

    /// @notice Re-dispatches a batch whose delivery failed (for instance a service registered late).
    ///         Anyone may call; the relayer credited is the caller.
    function retryBatch(bytes32 svc, uint256 height, uint256 firstSn, bytes[] calldata payloads) external {
        bytes32 h = keccak256(abi.encode(svc, height, firstSn, payloads));
        if (!failedBatches[h]) revert UnknownFailedBatch(h);
        failedBatches[h] = false;
        IBitcoinService(services[svc]).handleBTPMessages(msg.sender, height, firstSn, payloads);
        emit BatchRetried(h);
    }
}
