import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet } from 'ethers';
import { startDevChain, type DevChain } from '../../../src/chains/ethereum/devchain.js';
import { createProvider, waitReceipt } from '../../../src/chains/ethereum/provider.js';

describe('devchain', () => {
  let chain: DevChain;
  beforeAll(async () => {
    chain = await startDevChain({ chainId: 4242, accounts: 3 });
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('serves the configured chain id and funds the generated accounts', async () => {
    const provider = createProvider(chain.rpcUrl, chain.chainId);
    const net = await provider.send('eth_chainId', []);
    expect(BigInt(net)).toBe(4242n);
    expect(chain.accounts).toHaveLength(3);
    for (const key of chain.accounts) {
      const bal = await provider.getBalance(new Wallet(key).address);
      expect(bal).toBe(10n ** 24n);
    }
    provider.destroy();
  });

  it('mines a value transfer', async () => {
    const provider = createProvider(chain.rpcUrl, chain.chainId);
    const w = new Wallet(chain.accounts[0]!, provider);
    const to = Wallet.createRandom().address;
    const tx = await w.sendTransaction({ to, value: 12345n, gasLimit: 21_000n });
    const r = await waitReceipt(provider, tx);
    expect(r.status).toBe(1);
    expect(await provider.getBalance(to)).toBe(12345n);
    provider.destroy();
  });

  it('stop() ends the process and frees the port', async () => {
    const c2 = await startDevChain({ accounts: 1 });
    await c2.stop();
    const alive = await fetch(c2.rpcUrl, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) }).then(() => true, () => false);
    expect(alive).toBe(false);
    await c2.stop();
  });
});
