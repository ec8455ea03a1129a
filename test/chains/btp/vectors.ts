import { loadSharedVector } from '../../helpers/vectors.js';

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
  return loadSharedVector<ScenarioVector>('btp2-eth-bmv-scenario.json');
}

export function loadPrimitives(): PrimitivesVector {
  return loadSharedVector<PrimitivesVector>('btp2-primitives.json');
}

/** "0x80" / "-0x80" / "12" -> bigint */
export function parseVectorInt(s: string): bigint {
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  const v = BigInt(body);
  return neg ? -v : v;
}
