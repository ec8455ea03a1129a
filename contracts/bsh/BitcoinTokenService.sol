// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Roles} from "../access/Roles.sol";
import {BTCT} from "../token/BTCT.sol";
import {BitcoinAddress} from "../libraries/BitcoinAddress.sol";
import {IBitcoinService} from "../interfaces/IBitcoinService.sol";

/// @notice The payout coordinator's settlement hook (contracts/payout/PayoutCoordinator.sol).
interface IPayoutSettlement {
    /// @return known false when the spend is not a version of a batch the coordinator closed
    function onPayoutConfirmed(bytes32 txid, uint256 batchId, uint256 btcHeight) external returns (bool known);
}

interface IParticipation {
    function blockRecord(uint256 height) external view returns (uint256 signers, uint256 setId, uint256 acceptedAt);
    function getValidators(uint256 setId) external view returns (address[] memory);
    function signatureWindow() external view returns (uint64);
}

/// @title BitcoinTokenService
/// @notice The BTP service "btc": mints BTCT for Bitcoin deposits proven by the BMV (once per
///         outpoint, never reverting: capped or paused deposits wait in a pending-mint queue),
///         records refund/unclaimed deposit outpoints for the UTXO ledger, and burns BTCT for
///         withdrawals to Bitcoin (`transferToForeign`, the Terra-Bridge interface).
/// @dev Payload layouts (big-endian, packed) are fixed in docs/PROTOCOL.md; see {handleBTPMessages}.
contract BitcoinTokenService is IBitcoinService, Roles {
    /// @notice May refund withdrawals (the payout coordinator of the next contracts).
    bytes32 public constant PAYOUT_ROLE = keccak256("PAYOUT_ROLE");

    uint8 internal constant MSG_DEPOSIT_MINT = 0x01;
    uint8 internal constant MSG_DEPOSIT_REFUND = 0x02;
    uint8 internal constant MSG_DEPOSIT_UNCLAIMED = 0x03;
    uint8 internal constant MSG_PAYOUT_CONFIRMED = 0x10;
    /// @dev Top bit of a deposit record's type byte: the federation output paid is P2SH-P2WSH
    ///      (clear: P2WSH). docs/PROTOCOL.md §3 "Output kind flag".
    uint8 internal constant MSG_P2SH_P2WSH_FLAG = 0x80;

    /// @notice Federation output kind in the ledger word (the P2SH-P2WSH scriptSig is part of the
    ///         spending txid and the input weight differs, so the payout needs it).
    uint8 public constant KIND_P2WSH = 0;
    uint8 public constant KIND_P2SH_P2WSH = 1;

    /// @notice MessageRejected reasons.
    uint8 public constant REJECT_EMPTY = 0;
    uint8 public constant REJECT_BAD_LENGTH = 1;
    uint8 public constant REJECT_UNKNOWN_TYPE = 2;

    /// @notice UTXO status in the ledger word.
    uint8 public constant UTXO_MINTED = 1;
    uint8 public constant UTXO_REFUND = 2;
    uint8 public constant UTXO_UNCLAIMED = 3;

    uint8 public constant FEE_FIXED = 0;
    uint8 public constant FEE_RATIO = 1;

    uint8 public constant WITHDRAWAL_QUEUED = 1;
    uint8 public constant WITHDRAWAL_REFUNDED = 2;

    BTCT public immutable token;
    address public immutable bmc;
    /// @notice The BMV whose participation records split deposit fees among signers.
    IParticipation public immutable verifier;

    BitcoinAddress.Network internal _network;

    struct FeeConfig {
        uint8 mode; // FEE_FIXED or FEE_RATIO
        uint64 fixedFee; // satoshi
        uint16 ratioBps; // 1/10000
    }

    struct Limits {
        uint64 minAmount;
        uint64 maxAmount;
        uint64 dailyCap; // per UTC day (block.timestamp / 86400)
        uint32 perMinuteCap; // transfers per minute (block.timestamp / 60)
    }

    /// @dev Rolling usage of one direction, one slot.
    struct Usage {
        uint32 day;
        uint64 dayVolume;
        uint32 minute;
        uint32 minuteCount;
    }

    FeeConfig public depositFee;
    FeeConfig public withdrawalFee;
    uint64 public failedTransferFee;
    /// @notice Share of deposit fees paid to the relayer, in bps; the rest goes to the block's signers.
    uint16 public relayerShareBps;
    Limits public depositLimits;
    Limits public withdrawalLimits;
    Usage public depositUsage;
    Usage public withdrawalUsage;
    uint256 public maxSupply;

    /// @notice Global lock: no new withdrawals; proven deposits wait in the pending queue.
    bool public paused;
    /// @notice Per-asset switch for BTCT transfers (same effect as the lock, for this asset).
    bool public assetActive = true;

    /// @notice Ledger word per outpoint key keccak256(txid ‖ vout):
    ///         amount u64 | epoch u32 << 64 | status u8 << 96 | btpHeight u64 << 104
    ///         | kind u8 << 168 (KIND_P2WSH / KIND_P2SH_P2WSH).
    mapping(bytes32 outpoint => uint256) public utxos;
    /// @notice keccak256(payload) of every proven message this service could not parse, by its
    ///         sequence number: an unknown record type (e.g. from a newer format) or a bad length
    ///         is kept on chain with {MessageRejected}, never dropped without trace.
    mapping(uint256 sn => bytes32 payloadHash) public rejectedMessages;
    /// @notice Number of entries in {rejectedMessages}.
    uint256 public rejectedCount;
    /// @notice Refund output script of DEPOSIT_REFUND outpoints.
    mapping(bytes32 outpoint => bytes) public refundScripts;

    struct PendingMint {
        address recipient;
        uint64 amount; // gross deposit amount
        uint64 fee;
        uint64 btpHeight;
        address relayer;
    }

    mapping(uint256 id => PendingMint) public pendingMints;
    uint64 public pendingHead;
    uint64 public pendingTail;

    struct Withdrawal {
        address from;
        uint64 amount; // net of fee, satoshi
        uint8 status;
        bytes script;
    }

    mapping(uint256 id => Withdrawal) internal _withdrawals;
    /// @notice The next withdrawal id (ids are sequential from 0).
    uint64 public nextWithdrawalId;
    /// @notice Σ net amount of every withdrawal ever queued (same slot as the id counter, so
    ///         the payout coordinator can compute what is still owed without a loop).
    uint192 public withdrawnNetTotal;

    /// @notice Number of new ledger outpoints per BTP height (deposits of any status): the payout
    ///         coordinator imports a height's outpoints only complete (PayoutCoordinator.importDeposits).
    mapping(uint256 btpHeight => uint256) public heightDepositCount;
    /// @notice BTP heights that added ledger outpoints, ascending (one entry per height).
    uint64[] public depositHeights;
    /// @notice Σ amount of every outpoint ever recorded in the ledger (L's deposit part, PROTOCOL.md §4.5).
    uint256 public depositedTotal;
    /// @notice The payout coordinator (settles PAYOUT_CONFIRMED records); set once by the admin.
    IPayoutSettlement public payoutCoordinator;

    /// @notice keccak256(script) of every federation script (withdrawals may not pay them).
    mapping(bytes32 scriptHash => bool) public isFederationScript;

    /// @notice Deposit fees for the signers of each BTP block.
    mapping(uint256 btpHeight => uint256) public blockFees;
    mapping(uint256 btpHeight => uint256) public claimedSigners;
    /// @notice Fees owed to relayers.
    mapping(address relayer => uint256) public relayerFees;
    /// @notice Withdrawal and failed-transfer fees (for the payout signers, issue 6).
    uint256 public withdrawalFeePool;

    /// @notice `count` deposits of one dispatch were minted (one event per batch, not per deposit:
    ///         ~1,700 gas per deposit, issue 4's gas goal). Each mint's recipient and net amount
    ///         are in the BTCT `Transfer` events of the same transaction, in record order; the
    ///         outpoint of each is the DEPOSIT_MINT record, in SN order from `firstSn`, that got
    ///         no {DepositDuplicate}, {DepositDeferred}, {DepositUnclaimed} or {MessageRejected}.
    event DepositsMinted(uint256 indexed btpHeight, uint256 firstSn, uint256 count, uint256 fees);
    event DepositDeferred(bytes32 indexed txid, uint256 vout, uint256 indexed pendingId);
    event DepositDuplicate(bytes32 indexed txid, uint256 vout);
    event DepositRefundRecorded(bytes32 indexed txid, uint256 vout, uint256 amount, uint256 epoch, bytes refundScript);
    event DepositUnclaimed(bytes32 indexed txid, uint256 vout, uint256 amount, uint256 epoch);
    event PayoutConfirmed(bytes32 indexed txid, uint256 indexed batchId, uint256 btcHeight);
    /// @notice A proven message could not be parsed (reason REJECT_*); its hash is in {rejectedMessages}.
    event MessageRejected(uint256 indexed sn, uint8 reason);
    event PendingMinted(uint256 indexed pendingId, address indexed recipient, uint256 amount, uint256 fee);
    event TransferToForeign(
        uint256 indexed id, address indexed from, string recipient, bytes script, uint256 amount, uint256 fee
    );
    event WithdrawalRefunded(uint256 indexed id, address indexed to, uint256 amount, uint256 fee);
    event SignerRewardClaimed(uint256 indexed btpHeight, uint256 indexed index, address indexed validator, uint256 amount);
    event RelayerRewardClaimed(address indexed relayer, uint256 amount);
    event PausedSet(bool paused, address indexed by);
    event AssetActiveSet(bool active);
    event FeeConfigSet(bool deposit, uint8 mode, uint256 fixedFee, uint256 ratioBps);
    event FailedTransferFeeSet(uint256 fee);
    event RelayerShareSet(uint256 bps);
    event LimitsSet(bool deposit, uint256 minAmount, uint256 maxAmount, uint256 dailyCap, uint256 perMinuteCap);
    event MaxSupplySet(uint256 maxSupply);
    event FederationScriptSet(bytes script, bool isFederation);
    event PayoutCoordinatorSet(address coordinator);
    /// @notice A confirmed federation spend the coordinator never closed: withdrawals are paused
    ///         (DESIGN.md §2 "Slashing"); `settled` false when the coordinator call itself failed.
    event UnapprovedFederationSpend(bytes32 indexed txid, uint256 indexed batchId, uint256 btcHeight, bool settled);

    error NotBmc(address caller);
    error Paused();
    error AssetInactive();
    error AmountBelowMinimum(uint256 amount, uint256 minimum);
    error AmountAboveMaximum(uint256 amount, uint256 maximum);
    error DailyCapExceeded(uint256 used, uint256 amount, uint256 cap);
    error RateLimited(uint256 transfers, uint256 cap);
    error AmountNotAboveFee(uint256 amount, uint256 fee);
    error FederationRecipient();
    error InvalidFeeConfig();
    error UnknownWithdrawal(uint256 id);
    error WithdrawalNotQueued(uint256 id);
    error RewardNotClaimable(uint256 btpHeight);
    error NotASigner(uint256 btpHeight, uint256 index);
    error AlreadyClaimed(uint256 btpHeight, uint256 index);
    error NothingToClaim();
    error NotPaused();
    error CoordinatorAlreadySet();

    /// @param admin ADMIN_ROLE holder (fees, limits, unpause, federation scripts)
    /// @param bmc_ the BMC that dispatches verified messages
    /// @param verifier_ the BMV (participation records for signer rewards)
    /// @param network the Bitcoin network's address parameters
    constructor(address admin, address bmc_, IParticipation verifier_, BitcoinAddress.Network memory network) Roles(admin) {
        bmc = bmc_;
        verifier = verifier_;
        _network = network;
        token = new BTCT(address(this));
        maxSupply = 21_000_000 * 1e8;
        depositLimits = Limits(0, type(uint64).max, type(uint64).max, type(uint32).max);
        withdrawalLimits = Limits(0, type(uint64).max, type(uint64).max, type(uint32).max);
    }

    // ================================================================ Bitcoin → home

    /// @inheritdoc IBitcoinService
    /// @dev Never reverts on a well-formed call from the BMC: malformed payloads are reported with
    ///      {MessageRejected}, duplicates with {DepositDuplicate}, blocked mints are queued.
    function handleBTPMessages(address relayer, uint256 btpHeight, uint256 firstSn, bytes[] calldata payloads)
        external
    {
        if (msg.sender != bmc) revert NotBmc(msg.sender);
        Batch memory b;
        b.mints = new uint256[](payloads.length);
        b.u = _rolled(depositUsage);
        b.lim = depositLimits;
        b.supply = token.totalSupply();
        b.cap = maxSupply;
        b.blocked = paused || !assetActive || pendingTail != pendingHead;
        b.fc = depositFee;
        b.relayer = relayer;
        b.btpHeight = btpHeight;

        for (uint256 i; i < payloads.length; ++i) {
            _handleOne(b, payloads[i], firstSn + i);
        }

        if (b.newOutpoints != 0) {
            // One write per dispatch (not per deposit): the coordinator's import index.
            uint256 c = heightDepositCount[btpHeight];
            if (c == 0) depositHeights.push(uint64(btpHeight));
            heightDepositCount[btpHeight] = c + b.newOutpoints;
            depositedTotal += b.newAmount;
        }

        if (b.nMints != 0) {
            uint256[] memory mints = b.mints;
            uint256 nMints = b.nMints;
            assembly ("memory-safe") { mstore(mints, nMints) }
            if (b.fees != 0) {
                mints = _appendWord(mints, (b.fees << 160) | uint160(address(this)));
                _creditFees(btpHeight, relayer, b.fees);
            }
            token.mintBatch(mints);
            emit DepositsMinted(btpHeight, firstSn, nMints, b.fees);
            b.u.dayVolume += uint64(b.volume);
            b.u.minuteCount += uint32(nMints);
            depositUsage = b.u;
        }
    }

    /// @dev Per-call accumulator so a batch costs one mint call and one usage write.
    struct Batch {
        uint256[] mints; // amount << 160 | recipient
        uint256 nMints;
        uint256 fees;
        uint256 volume;
        Usage u;
        Limits lim;
        uint256 supply;
        uint256 cap;
        bool blocked;
        FeeConfig fc;
        address relayer;
        uint256 btpHeight;
        uint256 newOutpoints; // ledger entries created by this dispatch
        uint256 newAmount;
    }

    function _handleOne(Batch memory b, bytes calldata p, uint256 sn) private {
        if (p.length == 0) {
            _reject(p, sn, REJECT_EMPTY);
            return;
        }
        uint8 typ = uint8(p[0]);
        if (typ == MSG_PAYOUT_CONFIRMED) {
            if (p.length != 45) _reject(p, sn, REJECT_BAD_LENGTH);
            else _payoutConfirmed(bytes32(p[1:33]), uint64(bytes8(p[33:41])), uint32(bytes4(p[41:45])));
            return;
        }
        // Deposit records carry the federation output kind in the top bit (PROTOCOL.md §3).
        uint256 kind = typ >> 7;
        typ &= ~MSG_P2SH_P2WSH_FLAG;
        if (typ == MSG_DEPOSIT_MINT) {
            if (p.length != 69) _reject(p, sn, REJECT_BAD_LENGTH);
            else _depositMint(b, p, kind);
        } else if (typ == MSG_DEPOSIT_REFUND) {
            if (p.length < 51 || p.length != 50 + uint8(p[49]) || uint8(p[49]) > 42) _reject(p, sn, REJECT_BAD_LENGTH);
            else _depositRefund(b, p, kind);
        } else if (typ == MSG_DEPOSIT_UNCLAIMED) {
            if (p.length != 49) {
                _reject(p, sn, REJECT_BAD_LENGTH);
                return;
            }
            (bytes32 txid, uint256 vout, uint256 amount, uint256 epoch) = _outpoint(p);
            bytes32 key = keccak256(abi.encodePacked(txid, uint32(vout)));
            if (utxos[key] != 0) {
                emit DepositDuplicate(txid, vout);
                return;
            }
            utxos[key] = _ledgerWord(amount, epoch, UTXO_UNCLAIMED, b.btpHeight, kind);
            _counted(b, amount);
            emit DepositUnclaimed(txid, vout, amount, epoch);
        } else {
            // Includes 0x90 and any type a newer format may add: the message was proven, so it
            // may carry value; keep its hash on chain for an upgrade to settle.
            _reject(p, sn, REJECT_UNKNOWN_TYPE);
        }
    }

    /// @dev A new ledger outpoint (any status) for the coordinator's import index and L.
    function _counted(Batch memory b, uint256 amount) private pure {
        unchecked {
            b.newOutpoints += 1;
            b.newAmount += amount;
        }
    }

    /// @dev PAYOUT_CONFIRMED: the coordinator settles the batch; a spend it never closed (batchId
    ///      0xffff…ffff or an unknown txid) pauses withdrawals. Never reverts (a proven message).
    function _payoutConfirmed(bytes32 txid, uint256 batchId, uint256 btcHeight) private {
        emit PayoutConfirmed(txid, batchId, btcHeight);
        IPayoutSettlement c = payoutCoordinator;
        bool known;
        bool settled;
        if (address(c) != address(0)) {
            try c.onPayoutConfirmed(txid, batchId, btcHeight) returns (bool k) {
                known = k;
                settled = true;
            } catch {}
        }
        if (!known) {
            paused = true;
            emit PausedSet(true, address(this));
            emit UnapprovedFederationSpend(txid, batchId, btcHeight, settled);
        }
    }

    /// @dev A proven message is never dropped silently: its hash stays on chain by sn.
    function _reject(bytes calldata p, uint256 sn, uint8 reason) private {
        rejectedMessages[sn] = keccak256(p);
        ++rejectedCount;
        emit MessageRejected(sn, reason);
    }

    /// @dev DEPOSIT_MINT: type 0x01 (0x81: P2SH-P2WSH) · txid 32 · vout u32 · amount u64 · epoch u32
    ///      · recipient 20.
    function _depositMint(Batch memory b, bytes calldata p, uint256 kind) private {
        // This runs once per deposit: fields are read straight from calldata and the ledger slot
        // is computed once (it is both the mint-once guard and the UTXO record).
        bytes32 txid;
        uint256 w1; // vout u32 · amount u64 · epoch u32 · … (bytes 33..65)
        address recipient;
        uint256 slot;
        assembly ("memory-safe") {
            let o := p.offset
            txid := calldataload(add(o, 1))
            w1 := calldataload(add(o, 33))
            recipient := shr(96, calldataload(add(o, 49)))
            mstore(0x00, txid)
            mstore(0x20, w1)
            mstore(0x00, keccak256(0x00, 0x24)) // outpoint key = keccak256(txid ‖ vout u32)
            mstore(0x20, utxos.slot)
            slot := keccak256(0x00, 0x40)
            if sload(slot) { slot := 0 }
        }
        if (slot == 0) {
            emit DepositDuplicate(txid, w1 >> 224);
            return;
        }
        uint256 amount = uint64(w1 >> 160);
        _counted(b, amount);
        if (recipient == address(0)) {
            _storeWord(slot, _ledgerWord(amount, uint32(w1 >> 128), UTXO_UNCLAIMED, b.btpHeight, kind));
            emit DepositUnclaimed(txid, w1 >> 224, amount, uint32(w1 >> 128));
            return;
        }
        _storeWord(slot, _ledgerWord(amount, uint32(w1 >> 128), UTXO_MINTED, b.btpHeight, kind));
        _mintOrDefer(b, txid, w1 >> 224, amount, recipient);
    }

    function _mintOrDefer(Batch memory b, bytes32 txid, uint256 vout, uint256 amount, address recipient) private {
        uint256 fee = _fee(b.fc, amount);
        unchecked {
            if (
                b.blocked || amount > b.lim.maxAmount || uint256(b.u.dayVolume) + b.volume + amount > b.lim.dailyCap
                    || uint256(b.u.minuteCount) + b.nMints + 1 > b.lim.perMinuteCap || b.supply + amount > b.cap
            ) {
                // Limits defer a proven deposit, never drop it (issue 4); the queue stays FIFO.
                b.blocked = true;
                uint64 id = pendingTail++;
                pendingMints[id] = PendingMint(recipient, uint64(amount), uint64(fee), uint64(b.btpHeight), b.relayer);
                emit DepositDeferred(txid, vout, id);
                return;
            }
            b.supply += amount;
            b.volume += amount;
            b.fees += fee;
            uint256[] memory mints = b.mints;
            uint256 k = b.nMints++;
            uint256 word = ((amount - fee) << 160) | uint160(recipient);
            assembly ("memory-safe") { mstore(add(add(mints, 32), mul(k, 32)), word) }
        }
    }

    function _storeWord(uint256 slot, uint256 w) private {
        assembly ("memory-safe") { sstore(slot, w) }
    }

    /// @dev DEPOSIT_REFUND: type 0x02 (0x82) · txid · vout · amount · epoch · scriptLen u8 · script.
    function _depositRefund(Batch memory b, bytes calldata p, uint256 kind) private {
        (bytes32 txid, uint256 vout, uint256 amount, uint256 epoch) = _outpoint(p);
        bytes32 key = keccak256(abi.encodePacked(txid, uint32(vout)));
        if (utxos[key] != 0) {
            emit DepositDuplicate(txid, vout);
            return;
        }
        utxos[key] = _ledgerWord(amount, epoch, UTXO_REFUND, b.btpHeight, kind);
        _counted(b, amount);
        bytes memory script = p[50:];
        refundScripts[key] = script;
        emit DepositRefundRecorded(txid, vout, amount, epoch, script);
    }

    function _outpoint(bytes calldata p)
        private
        pure
        returns (bytes32 txid, uint256 vout, uint256 amount, uint256 epoch)
    {
        txid = bytes32(p[1:33]);
        vout = uint32(bytes4(p[33:37]));
        amount = uint64(bytes8(p[37:45]));
        epoch = uint32(bytes4(p[45:49]));
    }

    function _ledgerWord(uint256 amount, uint256 epoch, uint8 status, uint256 btpHeight, uint256 kind)
        private
        pure
        returns (uint256)
    {
        return amount | (epoch << 64) | (uint256(status) << 96) | (uint256(uint64(btpHeight)) << 104) | (kind << 168);
    }

    function _appendWord(uint256[] memory a, uint256 w) private pure returns (uint256[] memory b) {
        b = new uint256[](a.length + 1);
        for (uint256 i; i < a.length; ++i) b[i] = a[i];
        b[a.length] = w;
    }

    function _creditFees(uint256 btpHeight, address relayer, uint256 fees) private {
        uint256 toRelayer = (fees * relayerShareBps) / 10_000;
        if (toRelayer != 0) relayerFees[relayer] += toRelayer;
        blockFees[btpHeight] += fees - toRelayer;
    }

    function _fee(FeeConfig memory fc, uint256 amount) private pure returns (uint256 f) {
        f = fc.mode == FEE_FIXED ? fc.fixedFee : (amount * fc.ratioBps) / 10_000;
        if (f > amount) f = amount;
    }

    function _rolled(Usage memory u) private view returns (Usage memory) {
        uint32 day = uint32(block.timestamp / 1 days);
        uint32 minute = uint32(block.timestamp / 1 minutes);
        if (u.day != day) {
            u.day = day;
            u.dayVolume = 0;
        }
        if (u.minute != minute) {
            u.minute = minute;
            u.minuteCount = 0;
        }
        return u;
    }

    /// @notice Mints queued deposits in FIFO order while pause, per-asset flag and limits allow;
    ///         stops at the first one still blocked. Anyone may call.
    /// @param max the most entries to process in this call
    /// @return minted how many were minted
    function processPending(uint256 max) external returns (uint256 minted) {
        if (paused || !assetActive) return 0;
        Usage memory u = _rolled(depositUsage);
        Limits memory lim = depositLimits;
        uint256 supply = token.totalSupply();
        uint64 head = pendingHead;
        uint64 tail = pendingTail;
        while (head < tail && minted < max) {
            PendingMint memory pm = pendingMints[head];
            if (
                pm.amount > lim.maxAmount || uint256(u.dayVolume) + pm.amount > lim.dailyCap
                    || uint256(u.minuteCount) + 1 > lim.perMinuteCap || supply + pm.amount > maxSupply
            ) break;
            delete pendingMints[head];
            u.dayVolume += pm.amount;
            u.minuteCount += 1;
            supply += pm.amount;
            token.mint(pm.recipient, pm.amount - pm.fee);
            if (pm.fee != 0) {
                token.mint(address(this), pm.fee);
                _creditFees(pm.btpHeight, pm.relayer, pm.fee);
            }
            emit PendingMinted(head, pm.recipient, pm.amount - pm.fee, pm.fee);
            head++;
            minted++;
        }
        pendingHead = head;
        depositUsage = u;
    }

    // ================================================================ home → Bitcoin

    /// @notice Burns `amount` BTCT (fee included) and queues a withdrawal paying the rest to the
    ///         Bitcoin address `recipient` (Terra-Bridge interface).
    /// @param recipient a Bitcoin address of the configured network (bech32 v0 or base58)
    /// @param amount satoshi, fee included
    /// @return id the withdrawal's sequential id
    function transferToForeign(string calldata recipient, uint256 amount) external returns (uint256 id) {
        if (paused) revert Paused();
        if (!assetActive) revert AssetInactive();
        Limits memory lim = withdrawalLimits;
        if (amount < lim.minAmount) revert AmountBelowMinimum(amount, lim.minAmount);
        if (amount > lim.maxAmount) revert AmountAboveMaximum(amount, lim.maxAmount);
        Usage memory u = _rolled(withdrawalUsage);
        if (uint256(u.dayVolume) + amount > lim.dailyCap) revert DailyCapExceeded(u.dayVolume, amount, lim.dailyCap);
        if (uint256(u.minuteCount) + 1 > lim.perMinuteCap) revert RateLimited(u.minuteCount, lim.perMinuteCap);
        bytes memory script = BitcoinAddress.toScript(recipient, _network);
        if (isFederationScript[keccak256(script)]) revert FederationRecipient();
        uint256 fee = _fee(withdrawalFee, amount);
        if (amount <= fee) revert AmountNotAboveFee(amount, fee);

        u.dayVolume += uint64(amount);
        u.minuteCount += 1;
        withdrawalUsage = u;

        token.burn(msg.sender, amount);
        if (fee != 0) {
            token.mint(address(this), fee);
            withdrawalFeePool += fee;
        }
        id = nextWithdrawalId++;
        withdrawnNetTotal += uint192(amount - fee);
        _withdrawals[id] = Withdrawal(msg.sender, uint64(amount - fee), WITHDRAWAL_QUEUED, script);
        emit TransferToForeign(id, msg.sender, recipient, script, amount - fee, fee);
    }

    /// @notice Refunds a queued withdrawal that cannot be paid, minus the failed-transfer fee
    ///         (PAYOUT_ROLE: the payout coordinator decides when, see issue 6).
    function refundWithdrawal(uint256 id) external onlyRole(PAYOUT_ROLE) {
        Withdrawal storage w = _withdrawals[id];
        if (w.from == address(0)) revert UnknownWithdrawal(id);
        if (w.status != WITHDRAWAL_QUEUED) revert WithdrawalNotQueued(id);
        w.status = WITHDRAWAL_REFUNDED;
        uint256 fee = failedTransferFee < w.amount ? failedTransferFee : w.amount;
        if (w.amount - fee != 0) token.mint(w.from, w.amount - fee);
        if (fee != 0) {
            token.mint(address(this), fee);
            withdrawalFeePool += fee;
        }
        emit WithdrawalRefunded(id, w.from, w.amount - fee, fee);
    }

    /// @notice A withdrawal: requester, net amount, status, output script.
    function withdrawals(uint256 id)
        external
        view
        returns (address from, uint256 amount, uint8 status, bytes memory script)
    {
        Withdrawal storage w = _withdrawals[id];
        return (w.from, w.amount, w.status, w.script);
    }

    /// @notice The output script a Bitcoin address pays (reverts like {transferToForeign}).
    function addressToScript(string calldata addr) external view returns (bytes memory) {
        return BitcoinAddress.toScript(addr, _network);
    }

    /// @notice Decoded ledger word of an outpoint.
    /// @return amount satoshi
    /// @return epoch federation epoch whose script was paid
    /// @return status 0 unknown, UTXO_MINTED, UTXO_REFUND or UTXO_UNCLAIMED
    /// @return btpHeight BTP height of the block that proved it
    /// @return kind KIND_P2WSH or KIND_P2SH_P2WSH: the federation output paid (record type flag 0x80)
    function utxoOf(bytes32 txid, uint32 vout)
        external
        view
        returns (uint256 amount, uint256 epoch, uint8 status, uint256 btpHeight, uint8 kind)
    {
        uint256 w = utxos[keccak256(abi.encodePacked(txid, vout))];
        return (uint64(w), uint32(w >> 64), uint8(w >> 96), uint64(w >> 104), uint8(w >> 168));
    }

    /// @notice Number of BTP heights in {depositHeights}.
    function depositHeightCount() external view returns (uint256) {
        return depositHeights.length;
    }

    /// @notice Number of deposits waiting in the pending-mint queue.
    function pendingCount() external view returns (uint256) {
        return pendingTail - pendingHead;
    }

    // ================================================================ rewards

    /// @notice Pays validator `index`'s equal share of a BTP block's deposit fees, once the
    ///         block's signature window has closed (so late signatures count). Anyone may call.
    function claimSignerReward(uint256 btpHeight, uint256 index) external {
        (uint256 signers, uint256 setId, uint256 acceptedAt) = verifier.blockRecord(btpHeight);
        if (acceptedAt == 0 || block.number <= acceptedAt + verifier.signatureWindow()) revert RewardNotClaimable(btpHeight);
        if (signers & (1 << index) == 0) revert NotASigner(btpHeight, index);
        uint256 claimed = claimedSigners[btpHeight];
        if (claimed & (1 << index) != 0) revert AlreadyClaimed(btpHeight, index);
        claimedSigners[btpHeight] = claimed | (1 << index);
        uint256 share = blockFees[btpHeight] / _popcount(signers);
        address validator = verifier.getValidators(setId)[index];
        if (share != 0) token.transfer(validator, share);
        emit SignerRewardClaimed(btpHeight, index, validator, share);
    }

    /// @notice Pays the caller's accumulated relayer fees.
    function claimRelayerReward() external {
        uint256 amount = relayerFees[msg.sender];
        if (amount == 0) revert NothingToClaim();
        relayerFees[msg.sender] = 0;
        token.transfer(msg.sender, amount);
        emit RelayerRewardClaimed(msg.sender, amount);
    }

    function _popcount(uint256 x) private pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) c++;
    }

    // ================================================================ admin

    /// @notice Stops new withdrawals and defers deposit mints (pauser or admin).
    function pause() external {
        if (!hasRole(PAUSER_ROLE, msg.sender) && !hasRole(ADMIN_ROLE, msg.sender)) {
            revert Unauthorized(msg.sender, PAUSER_ROLE);
        }
        paused = true;
        emit PausedSet(true, msg.sender);
    }

    /// @notice Lifts the global lock (admin only); queued deposits then mint via {processPending}.
    function unpause() external onlyRole(ADMIN_ROLE) {
        if (!paused) revert NotPaused();
        paused = false;
        emit PausedSet(false, msg.sender);
    }

    /// @notice Sets the per-asset active flag (admin).
    function setAssetActive(bool active) external onlyRole(ADMIN_ROLE) {
        assetActive = active;
        emit AssetActiveSet(active);
    }

    /// @notice Sets the deposit (`forDeposit`) or withdrawal fee: fixed satoshi or a ratio in bps ≤ 10%.
    function setFee(bool forDeposit, uint8 mode, uint64 fixedFee, uint16 ratioBps) external onlyRole(ADMIN_ROLE) {
        if (mode > FEE_RATIO || ratioBps > 1_000) revert InvalidFeeConfig();
        FeeConfig memory fc = FeeConfig(mode, fixedFee, ratioBps);
        if (forDeposit) depositFee = fc;
        else withdrawalFee = fc;
        emit FeeConfigSet(forDeposit, mode, fixedFee, ratioBps);
    }

    /// @notice Sets the fee kept when a withdrawal is refunded (admin).
    function setFailedTransferFee(uint64 fee) external onlyRole(ADMIN_ROLE) {
        failedTransferFee = fee;
        emit FailedTransferFeeSet(fee);
    }

    /// @notice Sets the relayer's share of deposit fees in bps (admin).
    function setRelayerShare(uint16 bps) external onlyRole(ADMIN_ROLE) {
        if (bps > 10_000) revert InvalidFeeConfig();
        relayerShareBps = bps;
        emit RelayerShareSet(bps);
    }

    /// @notice Sets the deposit or withdrawal limits (admin).
    function setLimits(bool forDeposit, Limits calldata lim) external onlyRole(ADMIN_ROLE) {
        if (forDeposit) depositLimits = lim;
        else withdrawalLimits = lim;
        emit LimitsSet(forDeposit, lim.minAmount, lim.maxAmount, lim.dailyCap, lim.perMinuteCap);
    }

    /// @notice Sets the maximum BTCT supply (admin).
    function setMaxSupply(uint256 value) external onlyRole(ADMIN_ROLE) {
        maxSupply = value;
        emit MaxSupplySet(value);
    }

    /// @notice Sets the payout coordinator once (admin); it should also hold PAYOUT_ROLE.
    function setPayoutCoordinator(IPayoutSettlement coordinator) external onlyRole(ADMIN_ROLE) {
        if (address(payoutCoordinator) != address(0)) revert CoordinatorAlreadySet();
        if (address(coordinator) == address(0)) revert ZeroAddress();
        payoutCoordinator = coordinator;
        emit PayoutCoordinatorSet(address(coordinator));
    }

    /// @notice Marks `script` as a federation script (withdrawals to it revert): the admin, or the
    ///         payout coordinator (PAYOUT_ROLE) when it builds an epoch's script.
    function setFederationScript(bytes memory script, bool isFederation) public {
        if (!hasRole(PAYOUT_ROLE, msg.sender) && !hasRole(ADMIN_ROLE, msg.sender)) {
            revert Unauthorized(msg.sender, ADMIN_ROLE);
        }
        isFederationScript[keccak256(script)] = isFederation;
        emit FederationScriptSet(script, isFederation);
    }
}
