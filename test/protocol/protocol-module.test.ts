// Pure protocol helpers: digest fields, index ranges, chunk planning, problems.
import { describe, expect, it } from 'vitest';
import {
  chooseChunkSize,
  chunkCount,
  chunkLength,
  FerryError,
  formatIndexRanges,
  missingIndexes,
  parseDigestField,
  parseIndexRanges,
} from '../../src/protocol/index.js';

const empty = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

describe('digest fields (RFC 9530)', () => {
  it('parse a sha-256 member among others', () => {
    expect(parseDigestField(`sha-512=:AAAA:, sha-256=:${empty}:`)).toEqual({ algorithm: 'sha-256', base64: empty });
  });
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as FerryError).code;
    }
    return 'none';
  };
  it('reject missing, malformed, wrong-length and unknown digests with their codes', () => {
    expect(code(() => parseDigestField(undefined))).toBe('missing-digest');
    expect(code(() => parseDigestField('sha-256=abc'))).toBe('malformed-digest');
    expect(code(() => parseDigestField('sha-256=:AAAA:'))).toBe('malformed-digest');
    expect(code(() => parseDigestField(`md5=:${empty}:`))).toBe('unsupported-algorithm');
  });
});

describe('index ranges', () => {
  it('format and parse round-trip', () => {
    expect(formatIndexRanges([0, 1, 2, 3, 7, 9, 10])).toBe('0-3,7,9-10');
    expect(parseIndexRanges('0-3,7,9-10')).toEqual([0, 1, 2, 3, 7, 9, 10]);
    expect(formatIndexRanges([])).toBe('');
    expect(parseIndexRanges('')).toEqual([]);
    expect(() => parseIndexRanges('3-1')).toThrow();
  });
  it('missing indexes', () => {
    expect([...missingIndexes(10, [0, 1, 2, 5, 9])]).toEqual([3, 4, 6, 7, 8]);
    expect([...missingIndexes(3, [])]).toEqual([0, 1, 2]);
  });
});

describe('chunk planning', () => {
  const limits = { minChunkSize: 1024, defaultChunkSize: 8192, maxChunkSize: 1 << 20, maxChunks: 100 };
  it('clamps and raises the chunk size to fit maxChunks', () => {
    expect(chooseChunkSize(10_000, undefined, limits)).toBe(8192);
    expect(chooseChunkSize(10_000, 10, limits)).toBe(1024);
    expect(chooseChunkSize(1_000_000, 1024, limits)).toBe(10_000);
  });
  it('counts chunks and lengths, with one empty chunk for an empty file', () => {
    expect(chunkCount(0, 1024)).toBe(1);
    expect(chunkCount(1025, 1024)).toBe(2);
    expect(chunkLength(1025, 1024, 1)).toBe(1);
    expect(chunkLength(0, 1024, 0)).toBe(0);
  });
});

describe('FerryError', () => {
  it('round-trips through a problem body', () => {
    const e = new FerryError('digest-mismatch', 'bad', { expected: 'x' });
    const p = e.toProblem('/u');
    expect(p).toMatchObject({ type: 'urn:ferry:problem:digest-mismatch', status: 422, detail: 'bad', instance: '/u', expected: 'x' });
    const back = FerryError.fromProblem(p, 422);
    expect(back.code).toBe('digest-mismatch');
    expect(back.extensions.expected).toBe('x');
  });
});
