import { readFileSync } from 'node:fs';

/** Published vectors (read-only, shared by every engineer). */
const VECTOR_DIR = '/work/shared/vectors';

export interface ScenarioVector {
  srcNetworkUID: string;
  networkTypeID: number;
  sequenceOffset: number;
  firstBlockUpdate: string;
  relayMessages: { hex: string; seq: number; expectMessages: string[]; note: string }[];
  expectFinalState: {
    height: number;
    messageRoot: string;
    messageSn: number;
    messageCount: number;
    remainMessageCount: number;
    networkSectionHash: string;
    validators: string[];
  };
  initialValidators: string[];
}

export interface PrimitivesVector {
  keccak256: { input_utf8: string; hash: string }[];
  ethAddressFromPrivateKey: { privateKey: string; address: string }[];
  rlpIntegers: { value: string; rlp: string }[];
  rlpSpecial: { what: string; rlp: string }[];
}

export function loadScenario(): ScenarioVector {
  return JSON.parse(readFileSync(`${VECTOR_DIR}/btp2-eth-bmv-scenario.json`, 'utf8')) as ScenarioVector;
}

export function loadPrimitives(): PrimitivesVector {
  return JSON.parse(readFileSync(`${VECTOR_DIR}/btp2-primitives.json`, 'utf8')) as PrimitivesVector;
}

/** "0x80" / "-0x80" / "12" -> bigint */
export function parseVectorInt(s: string): bigint {
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  const v = BigInt(body);
  return neg ? -v : v;
}
