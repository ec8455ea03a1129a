// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CodeStore} from "../libraries/CodeStore.sol";
import {IPayoutBsh, IPayoutRegistry} from "./IPayoutCoordinatorDeps.sol";
import {PayoutTxCodec} from "./PayoutTxCodec.sol";

/// @title EpochScripts
/// @notice The federation witness script of every epoch, built on chain from the registry's frozen
///         set (never registered by hand, so no key can slip in): keys are the registry's
///         `compressedKey` of each signer, sorted ascending by their 33 bytes (BIP-67), m = N/2 + 1
///         (the BTP quorum), template by N and the `<epoch> DROP` tag (docs/PROTOCOL.md §1). Both
///         output scripts (P2WSH, P2SH-P2WSH) are marked federation scripts in the BSH. Split off
///         the payout coordinator for the 24 KB code-size limit.
contract EpochScripts {
    struct EpochScript {
        address scriptPtr; // witness script (CodeStore)
        address signersPtr; // signer addresses in script key order (CodeStore)
        uint16 n;
        uint16 m;
        uint32 witnessBytes; // estimated witness size per input (73-byte signatures, §4.3)
        bytes32 wsHash; // sha256(witness script)
    }

    uint256 public constant MAX_KEYS = 67;

    IPayoutBsh public immutable bsh;
    IPayoutRegistry public immutable registry;
    PayoutTxCodec public immutable codec;

    mapping(uint256 epoch => EpochScript) internal _scripts;
    /// @notice (index in registry order + 1) | (index in script key order + 1) << 16; 0: not a member.
    mapping(uint256 epoch => mapping(address signer => uint256)) public epochMember;

    event EpochScriptBuilt(uint256 indexed epoch, bytes witnessScript, address[] signersInKeyOrder);

    error UnknownEpoch(uint256 epoch);
    error TooManyKeys(uint256 keys);

    constructor(IPayoutBsh bsh_, IPayoutRegistry registry_, PayoutTxCodec codec_) {
        bsh = bsh_;
        registry = registry_;
        codec = codec_;
    }

    /// @notice Builds `epoch`'s script once (anyone may call) and returns its record.
    function ensure(uint256 e) external returns (EpochScript memory es) {
        es = _scripts[e];
        if (es.scriptPtr != address(0)) return es;
        address[] memory vs = registry.epochValidators(e);
        uint256 n = vs.length;
        if (n == 0) revert UnknownEpoch(e);
        if (n > MAX_KEYS) revert TooManyKeys(n);
        uint256[] memory pre = new uint256[](n);
        bytes32[] memory xs = new bytes32[](n);
        uint256[] memory order = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            bytes memory k = registry.compressedKey(vs[i]);
            bytes32 x;
            assembly ("memory-safe") { x := mload(add(k, 33)) }
            pre[i] = uint8(k[0]);
            xs[i] = x;
            // insertion sort by the 33-byte key: prefix byte, then x (BIP-67)
            uint256 j = i;
            while (j > 0) {
                uint256 o = order[j - 1];
                if (pre[o] < pre[i] || (pre[o] == pre[i] && uint256(xs[o]) < uint256(x))) break;
                order[j] = o;
                --j;
            }
            order[j] = i;
        }
        uint8[] memory sPre = new uint8[](n);
        bytes32[] memory sXs = new bytes32[](n);
        address[] memory signers = new address[](n);
        for (uint256 k; k < n; ++k) {
            uint256 i = order[k];
            sPre[k] = uint8(pre[i]);
            sXs[k] = xs[i];
            signers[k] = vs[i];
            epochMember[e][vs[i]] = (i + 1) | ((k + 1) << 16);
        }
        uint256 m = n / 2 + 1;
        (bytes memory ws, uint256 wb) = codec.federationScript(e, m, sPre, sXs);
        es = EpochScript(CodeStore.write(ws), CodeStore.writeAddresses(signers), uint16(n), uint16(m), uint32(wb), sha256(ws));
        _scripts[e] = es;
        bytes memory p2wsh = abi.encodePacked(hex"0020", es.wsHash);
        bsh.setFederationScript(p2wsh, true);
        bsh.setFederationScript(abi.encodePacked(hex"a914", ripemd160(abi.encodePacked(sha256(p2wsh))), hex"87"), true);
        emit EpochScriptBuilt(e, ws, signers);
    }

    /// @notice The record of a built epoch (zero pointers until built).
    function scriptOf(uint256 e) external view returns (EpochScript memory) {
        return _scripts[e];
    }

    /// @notice An epoch's witness script (empty until built).
    function epochScript(uint256 e) external view returns (bytes memory) {
        return CodeStore.read(_scripts[e].scriptPtr);
    }

    /// @notice An epoch's signers in script key order, N, m and sha256(witness script).
    function epochScriptInfo(uint256 e)
        external
        view
        returns (address[] memory signersInKeyOrder, uint256 n, uint256 m, bytes32 wsHash)
    {
        EpochScript storage es = _scripts[e];
        return (CodeStore.readAddresses(es.signersPtr), es.n, es.m, es.wsHash);
    }
}
