// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IPayoutDuties} from "../../interfaces/IPayoutDuties.sol";

/// @title PayoutDutiesMock
/// @notice Test stand-in for the payout coordinator's IPayoutDuties view (the real one is
///         PayoutCoordinator): the tests set which sighashes were derived, which outpoints were
///         federation UTXOs and each batch's duty record. Not deployed outside tests.
contract PayoutDutiesMock is IPayoutDuties {
    struct Duty {
        uint64 approvedAt;
        uint32 epoch;
        uint256 signedBitmap;
    }

    mapping(bytes32 => bool) public derived;
    mapping(bytes32 => bool) public federationOutpoint;
    mapping(uint256 => Duty) public duties;

    function setDerivedSighash(bytes32 sighash, bool yes) external {
        derived[sighash] = yes;
    }

    function setFederationOutpoint(bytes32 txid, uint32 vout, bool yes) external {
        federationOutpoint[keccak256(abi.encodePacked(txid, vout))] = yes;
    }

    function setBatchDuty(uint256 batchId, uint64 approvedAt, uint32 epoch, uint256 signedBitmap) external {
        duties[batchId] = Duty(approvedAt, epoch, signedBitmap);
    }

    function isDerivedSighash(bytes32 sighash) external view returns (bool) {
        return derived[sighash];
    }

    function wasFederationOutpoint(bytes32 txid, uint32 vout) external view returns (bool) {
        return federationOutpoint[keccak256(abi.encodePacked(txid, vout))];
    }

    function batchDuty(uint256 batchId) external view returns (uint64 approvedAt, uint32 epoch, uint256 signedBitmap) {
        Duty storage d = duties[batchId];
        return (d.approvedAt, d.epoch, d.signedBitmap);
    }
}
