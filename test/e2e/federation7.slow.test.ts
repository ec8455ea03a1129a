import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, keccak256, toUtf8Bytes } from 'ethers';
import { startHarness, waitFor, type Harness } from './harness.js';

/** The deposit path with 7 validators (quorum 4) in one process, two deposits in a row. */
describe('7 validators: Bitcoin deposit → BTCT', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ validators: 7, confirmations: 2 });
    await Promise.all(h.nodes.map((_, i) => h.startNode(i)));
  }, 180_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('mints each deposit once; every validator signed each block once', async () => {
    const recipients = [1, 2].map((i) => new Wallet(keccak256(toUtf8Bytes(`e2e7-recipient-${i}`))).address);
    for (const [i, r] of recipients.entries()) {
      await h.deposit(r, 100_000n + BigInt(i));
      await h.mine(2);
      await waitFor(async () => (await h.balance(r)) > 0n, 60_000, `deposit ${i} minted`);
    }
    expect(await h.balance(recipients[0]!)).toBe(100_000n);
    expect(await h.balance(recipients[1]!)).toBe(100_001n);
    const height = Number(await h.bmv.getFunction('getHeight')());
    await waitFor(async () => (await Promise.all(h.nodes.map((x) => x.validator!.status()))).every((s) => s.btp.lastRelayedHeight === height), 20_000, 'all see the relay');
    for (const x of h.nodes) {
      const s = await x.validator!.status();
      expect(s.signatures.btp).toBe(2);
      expect(s.p2p.peers).toBe(6);
    }
  });
});
