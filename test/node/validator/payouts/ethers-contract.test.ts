import { Interface } from 'ethers';
import { describe, expect, it } from 'vitest';
import type { EthRpc } from '../../../../src/chains/ethereum/rpc/client.js';
import { EthersPayoutContract, PAYOUT_COORDINATOR_ABI } from '../../../../src/node/validator/payouts/ethers-contract.js';

const COORDINATOR = '0x00000000000000000000000000000000000000c0';
const BSH = '0x00000000000000000000000000000000000000b5';
const coord = new Interface(PAYOUT_COORDINATOR_ABI);
const bsh = new Interface(['function withdrawals(uint256 id) view returns (address from, uint256 amount, uint8 status, bytes script)']);

/** An `eth_call` stub answering the coordinator views of one closed batch (status closed, version 0). */
function rpcFor(batch: { total: bigint; withdrawalIds: bigint[] }): EthRpc {
  const call = async (req: { to?: string; data?: string }): Promise<string> => {
    if (req.to?.toLowerCase() === BSH) {
      const f = bsh.parseTransaction({ data: req.data! })!;
      return bsh.encodeFunctionResult(f.name, [COORDINATOR, 100_000n, 1, '0x0014' + '11'.repeat(20)]);
    }
    const f = coord.parseTransaction({ data: req.data! })!;
    const version = ['0x' + '22'.repeat(32), 500_000n, 600n, 0, false];
    switch (f.name) {
      case 'batchInfo':
        // depositFrom, nDeposits, nInputs, withReserve, singleEpoch, status, epoch, inputEpoch, version, vsize, estFee, total, inputSum, closedAt, lastVersionAt, approvedAt
        return coord.encodeFunctionResult(f.name, [[0n, 0, 1, true, true, 1, 2, 1, 0, 150, 600n, batch.total, 500_600n, 77n, 77n, 0n], version]);
      case 'batchInputs':
        return coord.encodeFunctionResult(f.name, [['0x' + '33'.repeat(32)], [0], [500_600n], [1], [0]]);
      case 'batchWithdrawals':
        return coord.encodeFunctionResult(f.name, [batch.withdrawalIds]);
      case 'versionInfo':
        return coord.encodeFunctionResult(f.name, [version]);
      case 'bsh':
        return coord.encodeFunctionResult(f.name, [BSH]);
      default:
        throw new Error(`unexpected call ${f.name}`);
    }
  };
  return { call } as unknown as EthRpc;
}

describe('EthersPayoutContract: the kind of a closed batch', () => {
  it('a batch paying no withdrawal (closeSweep, T = 0) is a sweep; one paying withdrawals is a payout', async () => {
    const sweep = await new EthersPayoutContract({ rpc: rpcFor({ total: 0n, withdrawalIds: [] }), address: COORDINATOR, from: COORDINATOR }).batch(4n);
    expect(sweep?.kind).toBe('sweep');
    expect(sweep?.withdrawals).toEqual([]);
    expect(sweep?.changeEpoch).toBe(2);
    expect(sweep?.inputs.map((i) => i.epoch)).toEqual([1]);
    expect(sweep?.feeRateCandidates).toEqual([4_000n]); // floor(1000 × 600 / 150)
    const payout = await new EthersPayoutContract({ rpc: rpcFor({ total: 100_000n, withdrawalIds: [7n] }), address: COORDINATOR, from: COORDINATOR }).batch(4n);
    expect(payout?.kind).toBe('payout');
    expect(payout?.withdrawals.map((w) => w.id)).toEqual([7n]);
  });
});
