import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, hexlify } from 'ethers';
import { isBridgeError } from '../../../src/errors.js';
import { BITCOIN_ADDRESS_PARAMS, deployBridge } from '../../../src/chains/ethereum/contracts.js';
import { HomeContracts } from '../../../src/chains/ethereum/bindings.js';
import { Federation, SRC_BMC, SRC_UID, NETWORK_TYPE_ID, depositMint, startEnv, stopEnv, testKeys, txidOf, type Env } from '../../contracts/helpers.js';

describe('HomeContracts typed bindings', () => {
  let env: Env;
  beforeAll(async () => { env = await startEnv(3); });
  afterAll(async () => stopEnv(env));

  it('relays with an estimated gas limit, reads the ledger and verifier state, decodes custom errors', async () => {
    const admin = env.wallets[0]!;
    const fed = new Federation(testKeys(4, 'bind'), 'btp://0x7a69.eth/bmc');
    const d = await deployBridge(admin, env.provider, { admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: fed.genesis(40), bmcBtpAddress: 'btp://0x7a69.eth/bmc', bitcoin: BITCOIN_ADDRESS_PARAMS.regtest });
    const home = new HomeContracts(env.provider, env.wallets[1]!, {
      bmc: await d.bmc.getAddress(), bmv: await d.bmv.getAddress(), bsh: await d.bsh.getAddress(), btct: await d.btct.getAddress(),
    });
    const r = Wallet.createRandom().address;
    const b = fed.block(41, Array.from({ length: 12 }, (_, i) => depositMint(i, r, 1_000n, { vout: i })));
    const rec = await home.relay(SRC_BMC, b.relay);
    expect(rec.status).toBe(1);
    expect(await home.balanceOf(r)).toBe(12_000n);
    expect(await home.ledgerEntry(hexlify(txidOf(3)), 3)).toEqual({ amountSats: 1_000n, epoch: 0, status: 1, btpHeight: 41n, outputKind: 'p2wsh' });
    const st = await home.verifierState();
    expect(st.height).toBe(41n);
    expect(st.nextMessageSn).toBe(12n);
    expect(st.validators).toHaveLength(4);
    expect((await home.blockRecord(41)).signers).toBe(15n);
    let err: unknown;
    try {
      await home.transferToForeign('bc1qnotanaddress', 10n);
    } catch (e) {
      err = e;
    }
    expect(isBridgeError(err, 'CONTRACT_REVERT')).toBe(true);
    expect((err as { context: { error: string } }).context.error).toBe('InvalidBitcoinAddress');
  });
});
