import { describe, expect, it } from 'vitest';
import { createEthRpc } from '../../../../src/chains/ethereum/rpc/client.js';
import { silentLogger } from '../../../../src/node/logger.js';
import { isBridgeError } from '../../../../src/errors.js';
import { classifySendRejection, isTransportError, jsonRpcErrorOf, redactUrl, revertDataOf } from '../../../../src/chains/ethereum/rpc/errors.js';

describe('ethereum RPC error classification', () => {
  it('tells transport failures from JSON-RPC error replies', () => {
    expect(isTransportError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransportError({ code: 'TIMEOUT', message: 'request timeout' })).toBe(true);
    expect(isTransportError({ code: 'SERVER_ERROR', message: 'server response 503' })).toBe(true);
    const reply = { code: 'UNKNOWN_ERROR', message: 'could not coalesce error', error: { code: -32000, message: 'network is busy' } };
    expect(jsonRpcErrorOf(reply)?.code).toBe(-32000);
    expect(isTransportError(reply)).toBe(false);
    expect(isTransportError({ code: 'UNKNOWN_ERROR', error: { code: -32005, message: 'limit exceeded' } })).toBe(true);
  });

  it('classifies refusals of eth_sendRawTransaction across client wordings', () => {
    const r = (message: string): unknown => ({ code: 'UNKNOWN_ERROR', error: { code: -32000, message } });
    expect(classifySendRejection(r('Known transaction: 0xab'))).toBe('already-known');
    expect(classifySendRejection(r('already known'))).toBe('already-known');
    expect(classifySendRejection(r('nonce too low: next nonce 5, tx nonce 3'))).toBe('nonce-too-low');
    expect(classifySendRejection(r('Nonce too high. Expected nonce to be 1 but got 5.'))).toBe('nonce-too-high');
    expect(classifySendRejection(r('replacement transaction underpriced'))).toBe('underpriced');
    expect(classifySendRejection(r('insufficient funds for gas * price + value'))).toBe('insufficient-funds');
    expect(classifySendRejection({ code: 'NONCE_EXPIRED' })).toBe('nonce-too-low');
    expect(classifySendRejection(r('something else'))).toBe('other');
  });

  it('finds revert data in geth and Hardhat shapes, and redacts URLs', () => {
    expect(revertDataOf({ code: 'CALL_EXCEPTION', data: '0x1234abcd' })).toBe('0x1234abcd');
    expect(revertDataOf({ info: { error: { code: 3, message: 'execution reverted', data: '0xdeadbeef' } } })).toBe('0xdeadbeef');
    expect(revertDataOf({ info: { error: { code: -32603, message: 'x', data: { message: 'x', data: '0xfeed0001' } } } })).toBe('0xfeed0001');
    expect(revertDataOf(new Error('nothing'))).toBeUndefined();
    expect(redactUrl('https://user:pw@mainnet.example.io/v3/SECRETKEY')).toBe('https://mainnet.example.io/…');
    expect(redactUrl('http://127.0.0.1:8545')).toBe('http://127.0.0.1:8545');
  });
  it('refuses an empty URL list and non-HTTP URLs at construction', () => {
    const attempt = (urls: string[]): unknown => { try { createEthRpc({ options: { urls, chainId: 1 }, log: silentLogger() }); return undefined; } catch (e) { return e; } };
    expect(isBridgeError(attempt([]), 'ETH_RPC_NO_URLS')).toBe(true);
    expect(isBridgeError(attempt(['ws://127.0.0.1:8545']), 'ETH_RPC_BAD_URL')).toBe(true);
    expect(isBridgeError(attempt(['127.0.0.1:8545']), 'ETH_RPC_BAD_URL')).toBe(true);
  });
});
