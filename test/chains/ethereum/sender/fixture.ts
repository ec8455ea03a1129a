/**
 * A tiny contract for the sender and watcher tests, compiled in the test with the bundled solc:
 * `relay(h, tag)` stands for "relay BTP height h" (reverts with a custom error when h is not
 * new) and emits `Relayed`; `ping(n)` just emits `Ping`.
 */
import { ContractFactory, Interface, type Signer } from 'ethers';

export const RELAY_SOURCE = `
// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;
contract Relay {
  error AlreadyRelayed(uint256 height, uint256 current);
  event Relayed(uint256 indexed height, bytes32 tag);
  event Ping(address indexed from, uint256 n);
  uint256 public height;
  function relay(uint256 h, bytes32 tag) external {
    if (h <= height) revert AlreadyRelayed(h, height);
    height = h;
    emit Relayed(h, tag);
  }
  function ping(uint256 n) external { emit Ping(msg.sender, n); }
}
`;

export interface Compiled {
  abi: Interface;
  bytecode: string;
}

let cached: Compiled | undefined;

export async function compileRelay(): Promise<Compiled> {
  if (cached !== undefined) return cached;
  const { default: solc } = (await import('solc')) as unknown as { default: { compile(input: string): string } };
  const input = {
    language: 'Solidity',
    sources: { 'Relay.sol': { content: RELAY_SOURCE } },
    settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: Array<{ severity: string; formattedMessage: string }>;
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts['Relay.sol']!.Relay!;
  cached = { abi: new Interface(c.abi as never), bytecode: '0x' + c.evm.bytecode.object };
  return cached;
}

/** Deploys Relay with `deployer`; returns its address. */
export async function deployRelay(deployer: Signer): Promise<string> {
  const c = await compileRelay();
  const f = new ContractFactory(c.abi, c.bytecode, deployer);
  const tx = await f.getDeployTransaction();
  const sent = await deployer.sendTransaction({ ...tx, gasLimit: 1_000_000n });
  const provider = deployer.provider!;
  for (let i = 0; i < 400; i++) {
    const r = await provider.getTransactionReceipt(sent.hash);
    if (r !== null) {
      if (r.contractAddress === null || r.status !== 1) throw new Error('Relay deployment failed');
      return r.contractAddress;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('Relay deployment not mined');
}
