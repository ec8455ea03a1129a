import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet, getBytes } from 'ethers';
import { KeystoreDir } from '../../../src/node/keystore/keystore.js';

export interface OperatorNodeInput {
  operatorKey: string;
  password: string;
  rpcUrl: string;
  chainId: number;
  registry: string;
}

/** A node directory for the operator commands: signing + operator keystores (light), password file, config pointing at the dev chain. */
export async function writeOperatorNode(dir: string, input: OperatorNodeInput): Promise<{ signer: string; cfg: string }> {
  const keys = KeystoreDir.forDataDir(dir);
  const signing = Wallet.createRandom();
  await keys.create('validator', getBytes(signing.privateKey), input.password, { light: true });
  await keys.create('operator', getBytes(input.operatorKey), input.password, { light: true });
  writeFileSync(join(dir, 'pw.txt'), `${input.password}\n`);
  const cfg = join(dir, 'config.toml');
  writeFileSync(cfg, [
    'dataDir = "."',
    '[keys]', `passwordFile = "${join(dir, 'pw.txt')}"`,
    '[ethereum]', `rpcUrls = ["${input.rpcUrl}"]`, `chainId = ${input.chainId}`, 'operatorKey = "operator"',
    '[ethereum.contracts]', `staking = "${input.registry}"`,
  ].join('\n') + '\n');
  return { signer: signing.address, cfg };
}
