import { describe, expect, it } from 'vitest';
import { buildBlock, type BtpChainState } from '../../../src/chains/btp/builder.js';
import { encodeProofContext, decodeProofContext } from '../../../src/chains/btp/codec.js';
import { toHex } from '../../../src/chains/btp/bytes.js';
import { sortValidators } from '../../../src/chains/btp/builder.js';
import { openDatabase } from '../../../src/node/db/database.js';
import { silentLogger } from '../../../src/node/logger.js';
import { LevelBtpStore } from '../../../src/node/stores/btp-store.js';
import { withTempDir } from '../../helpers/cli.js';
import { validators } from '../../consensus/fixtures.js';

const log = silentLogger();
const SRC = '0x10.btc';

describe('LevelBtpStore', () => {
  it('serves what was committed, across a database restart, as the BTP JSON-RPC reads it', async () => {
    await withTempDir(async (dir) => {
      const a = sortValidators(validators(3, 'store-a').map((v) => v.address));
      const b = sortValidators(validators(3, 'store-b').map((v) => v.address));
      let chain: BtpChainState = { networkId: 1, lastNetworkSectionHash: null, nextMessageSn: 0, validators: a };
      const genesis = buildBlock(chain, { srcNetworkUid: SRC, networkTypeId: 2, height: 9, messages: [] })!;
      chain = genesis.nextState;
      const opts = { srcNetworkUid: SRC, networkTypeId: 2, networkId: 1, initialProofContext: encodeProofContext({ validators: a }), initialNetworkSectionHash: genesis.networkSectionHash, initialNextMessageSn: 0 };
      let db = await openDatabase(dir, { log });
      let store = new LevelBtpStore(db, opts);
      let notified = 0;
      store.subscribe(() => notified++);
      expect(await store.networkInfo(1)).toMatchObject({ nextMessageSn: 0, lastNSHash: genesis.networkSectionHash });

      const b10 = buildBlock(chain, { srcNetworkUid: SRC, networkTypeId: 2, height: 10, messages: [Uint8Array.of(1), Uint8Array.of(2)] })!;
      chain = b10.nextState;
      const b12 = buildBlock(chain, { srcNetworkUid: SRC, networkTypeId: 2, height: 12, messages: [Uint8Array.of(3)], nextValidators: b })!;
      await store.commit([
        ...store.putBlockOps({ height: 10, networkId: 1, header: b10.headerBytes, proof: null, messages: b10.messages }),
        ...store.putBlockOps({ height: 12, networkId: 1, header: b12.headerBytes, proof: null, messages: b12.messages }),
        ...store.latestOps(13),
      ]);
      await store.setProof(12, Uint8Array.of(0xc0));
      expect(notified).toBe(2);
      await db.close();

      db = await openDatabase(dir, { log });
      store = new LevelBtpStore(db, opts);
      expect(await store.latestHeight()).toBe(13);
      expect(await store.block(1, 11)).toBeNull();
      expect(await store.block(2, 10)).toBeUndefined();
      expect((await store.block(1, 12))?.proof).toEqual(Uint8Array.of(0xc0));
      expect((await store.blocksFrom(1, 11, 10)).map((x) => x.height)).toEqual([12]);
      const info10 = await store.networkInfo(1, 10);
      expect(info10).toMatchObject({ startHeight: 10, nextMessageSn: 2, prevNSHash: genesis.networkSectionHash, lastNSHash: b10.networkSectionHash });
      expect((await store.networkInfo(1))?.nextMessageSn).toBe(3);
      // The ProofContext changes with block 12.
      expect(decodeProofContext((await store.networkTypeInfo(2, 11))!.nextProofContext).validators.map(toHex)).toEqual(a.map(toHex));
      expect(decodeProofContext((await store.networkTypeInfo(2))!.nextProofContext).validators.map(toHex)).toEqual(b.map(toHex));
      await db.close();
    });
  });
});
