// The remaining custom errors of BMV, BMC and registry, each provoked on the real EVM.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Contract, Wallet, getBytes, hexlify } from 'ethers';
import { buildMessageProof, encodeHeader, encodeProofContext, encodeRelayMessage } from '../../src/chains/btp/index.js';
import { deployContract } from '../../src/chains/ethereum/artifacts.js';
import { BITCOIN_ADDRESS_PARAMS, deployBridge, deployRegistry, type BridgeDeployment } from '../../src/chains/ethereum/contracts.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { Federation, SRC_BMC, SRC_UID, NETWORK_TYPE_ID, depositMint, expectRevert, relayOf, revertTo, snapshot, startEnv, stopEnv, testKeys, type Env } from './helpers.js';

const ZERO = '0x0000000000000000000000000000000000000000';
const DST_BMC = 'btp://0x7a69.eth/bmc';

describe('custom errors of the verifier, message center and registry', () => {
  let env: Env;
  let snap: string;
  let admin: Wallet;
  let fed: Federation;
  let bmv: Contract; // standalone, the admin plays the BMC
  let d: BridgeDeployment;
  let saved: Federation['state'];
  const keys = testKeys(4, 'err');

  beforeAll(async () => {
    env = await startEnv(4);
    admin = env.wallets[0]!;
    fed = new Federation(keys, DST_BMC);
    const genesis = fed.genesis(10);
    bmv = await deployContract(admin, env.provider, 'BtpMessageVerifier', [admin.address, admin.address, SRC_UID, NETWORK_TYPE_ID, genesis, ZERO]);
    const fed2 = new Federation(keys, DST_BMC);
    d = await deployBridge(admin, env.provider, { admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: fed2.genesis(10), bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest });
    saved = fed.state;
  });
  afterAll(async () => stopEnv(env));
  beforeEach(async () => { snap = await snapshot(env.provider); fed.state = saved; });
  afterEach(async () => revertTo(env.provider, snap));

  const relay = (sn: number, hex: string): Promise<unknown> => bmv.getFunction('handleRelayMessage')('b', SRC_BMC, sn, hex);

  it('BMV constructor: bad source UID, first header without or with an inconsistent ProofContext', async () => {
    const g = new Federation(keys, DST_BMC);
    const genesis = g.genesis(1);
    await expectRevert(deployContract(admin, env.provider, 'BtpMessageVerifier', [admin.address, admin.address, '', 2, genesis, ZERO]), 'InvalidSourceNetwork');
    const plain = g.block(2, [new Uint8Array([1])]);
    await expectRevert(deployContract(admin, env.provider, 'BtpMessageVerifier', [admin.address, admin.address, SRC_UID, 2, hexlify(plain.built.headerBytes), ZERO]), 'EmptyProofContext');
    const other = encodeProofContext({ validators: testKeys(2, 'x').map((k) => getBytes(new Wallet(k).address)) });
    const forged = encodeHeader({ ...plain.built.header, proofContextChanged: true, nextProofContext: other });
    await expectRevert(deployContract(admin, env.provider, 'BtpMessageVerifier', [admin.address, admin.address, SRC_UID, 2, hexlify(forged), ZERO]), 'InconsistentNextProofContextHash');
  });

  it('relay structure: unknown item type, malformed RLP, a proof longer or shorter than the ProofContext', async () => {
    await expectRevert(relay(0, '0xc4c3c20380'), 'UnknownRelayMessageType');
    await expectRevert(relay(0, '0xc5c3c2'), 'RlpMalformed');
    const b = fed.block(11, [new Uint8Array([1])]);
    expect(await expectRevert(relay(0, relayOf(b.built, [...b.proofSigs, null], b.built.messages)), 'ProofLengthMismatch')).toEqual([5n, 4n]);
    expect(await expectRevert(relay(0, relayOf(b.built, b.proofSigs.slice(0, 3), b.built.messages)), 'ProofLengthMismatch')).toEqual([3n, 4n]);
  });

  it('header chain: network id, first message SN, undelivered messages before the next block', async () => {
    fed.state = { ...saved, networkId: 9 };
    const wrongNid = fed.block(11, [new Uint8Array([1])]);
    await expectRevert(relay(0, wrongNid.relay), 'NetworkIdMismatch');
    fed.state = { ...saved, nextMessageSn: 3 };
    const wrongSn = fed.block(11, [new Uint8Array([1])]);
    await expectRevert(relay(0, wrongSn.relay), 'MessageSnMismatch');
    fed.state = saved;
    const b1 = fed.block(11, [new Uint8Array([1]), new Uint8Array([2])]);
    await waitReceipt(env.provider, await bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 0, relayOf(b1.built, b1.proofSigs, [])));
    const b2 = fed.block(12, [new Uint8Array([3])]);
    const [remaining] = await expectRevert(relay(0, b2.relay), 'UnexpectedBlockUpdate');
    expect(remaining).toBe(2n);
    // a message proof that starts after undelivered messages leaves a gap
    const gap = hexlify(encodeRelayMessage({ items: [{ type: 2, messageProof: buildMessageProof(b1.built.messages, 1, 2) }] }));
    await expectRevert(relay(0, gap), 'MessageGap');
  });

  it('BMC: malformed BTP address, and a dispatch short of gas reverts the relay (so estimateGas sizes it)', async () => {
    const f2 = new Federation(keys, DST_BMC);
    f2.genesis(10);
    const b = f2.block(11, Array.from({ length: 5 }, (_, i) => depositMint(i, admin.address, 1_000n)));
    await expectRevert(d.bmc.getFunction('handleRelayMessage')('nonsense', b.relay), 'InvalidBtpAddress');
    const data = d.bmc.interface.encodeFunctionData('handleRelayMessage', [SRC_BMC, b.relay]);
    const to = await d.bmc.getAddress();
    const need = await env.provider.estimateGas({ to, data, from: admin.address });
    // a limit that covers the verifier but not the five mints: scan down until the dispatch is what fails
    let seen = false;
    for (let cut = 20_000n; cut <= 200_000n && !seen; cut += 20_000n) {
      try {
        await env.provider.call({ to, data, from: admin.address, gasLimit: need - cut });
      } catch (e) {
        const raw = JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
        const sel = d.bmc.interface.getError('DispatchOutOfGas')!.selector.slice(2);
        if (raw.includes(sel)) seen = true;
      }
    }
    expect(seen).toBe(true);
  });

  it('registry: empty bootstrap, verifier set once, activation only of the frozen next epoch, zero-address roles', async () => {
    const reg = await deployRegistry(admin, env.provider, admin.address, { maxActive: 4, maxChurn: 2 });
    await expectRevert(reg.getFunction('bootstrap')(), 'EmptyValidatorSet');
    await waitReceipt(env.provider, await reg.getFunction('setVerifier')(admin.address));
    await expectRevert(reg.getFunction('setVerifier')(admin.address), 'VerifierAlreadySet');
    await expectRevert(reg.getFunction('activateEpoch')(1, 100), 'EpochNotActivatable');
    await expectRevert(reg.getFunction('grantRole')(await reg.getFunction('PAUSER_ROLE')(), ZERO), 'ZeroAddress');
    await expectRevert(deployRegistry(admin, env.provider, ZERO), 'ZeroAddress');
  });
});
