// findNetworkFailure: what a request without an HTTP answer ran into, however deep the wrappers
// (fetch's TypeError, undici's errors, Node's AggregateError for several addresses) put the code.
import { describe, expect, it } from 'vitest';
import { findNetworkFailure } from '../../src/client/engine/network-failure.js';

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('findNetworkFailure', () => {
  it('finds the telling code along the cause chain and inside an AggregateError', () => {
    expect(findNetworkFailure(coded('refused', 'ECONNREFUSED'))).toMatchObject({ failure: 'connection-refused', code: 'ECONNREFUSED' });
    const wrapped = new TypeError('fetch failed', { cause: new Error('outer', { cause: coded('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT') }) });
    expect(findNetworkFailure(wrapped)).toMatchObject({ failure: 'tls', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' });
    const everyAddress = new Error('connect failed', { cause: new AggregateError([new Error('no code'), coded('refused', 'ECONNREFUSED')]) });
    expect(findNetworkFailure(everyAddress).failure).toBe('connection-refused');
    // The Node transport's redirect limit, over what it wraps.
    const loop = Object.assign(new Error('Too many redirects: stopped after 10', { cause: coded('x', 'UND_ERR_INVALID_ARG') }), { code: 'ERR_TOO_MANY_REDIRECTS' });
    expect(findNetworkFailure(loop)).toMatchObject({ failure: 'redirects', message: 'Too many redirects: stopped after 10' });
  });

  it('falls back to "network" with the first code seen, and survives cycles and non-errors', () => {
    const a: { cause?: unknown } = {};
    const b = { cause: a };
    a.cause = b;
    expect(findNetworkFailure(a).failure).toBe('network');
    expect(findNetworkFailure(coded('reset', 'ECONNRESET'))).toMatchObject({ failure: 'network', code: 'ECONNRESET' });
    expect(findNetworkFailure('text')).toMatchObject({ failure: 'network', code: null });
    expect(findNetworkFailure(null).failure).toBe('network');
    expect(findNetworkFailure({ code: 42, cause: coded('x', 'ENOTFOUND') }).failure).toBe('unknown-host');
  });
});
