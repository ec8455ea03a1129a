/**
 * Child process for the kill -9 test: submits value transfers one key after another and prints
 * each key once `submit()` returned, until the parent kills it.
 * argv: dataDir rpcUrl chainId privateKey payee1,payee2,...
 */
import { Wallet } from 'ethers';
import { createEthRpc } from '../../../../src/chains/ethereum/rpc/index.js';
import { createTxSender } from '../../../../src/chains/ethereum/sender/index.js';
import { openDatabase } from '../../../../src/node/db/database.js';
import { silentLogger } from '../../../../src/node/logger.js';

const [dataDir, rpcUrl, chainId, key, payees] = process.argv.slice(2) as [string, string, string, string, string];
const log = silentLogger();
const db = await openDatabase(dataDir, { log });
const rpc = createEthRpc({ options: { urls: [rpcUrl], chainId: Number(chainId) }, log });
const sender = createTxSender({ rpc, db, signer: new Wallet(key), log, options: { pollIntervalMs: 20 } });
await sender.start();
process.stdout.write('ready\n');
const list = payees.split(',');
for (let i = 0; i < list.length; i++) {
  await sender.submit({ key: `kill:${i}`, to: list[i]!, value: 5_000n + BigInt(i), gasLimit: 21_000n });
  process.stdout.write(`submitted ${i}\n`);
}
process.stdout.write('all\n');
// Wait to be killed.
await new Promise((r) => setTimeout(r, 60_000));
