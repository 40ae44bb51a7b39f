// Chunk planning under server limits, chunk ranges, and the missing-chunk ranges of a status.
import { describe, expect, it } from 'vitest';
import { chunkRange, longLinkChunkSize, missingChunks, planChunks, type ChunkLimits } from '../../src/client/upload/plan.js';
import { FerryError, formatIndexRanges, KiB, MiB, GiB, TiB } from '../../src/protocol/index.js';

const limits: ChunkLimits = { minChunkSize: 256 * KiB, defaultChunkSize: 8 * MiB, maxChunkSize: 128 * MiB, maxChunks: 10_000, maxFileSize: 1 * TiB };

describe('planChunks', () => {
  it("uses the server's default chunk size", () => {
    expect(planChunks(100 * MiB, undefined, limits)).toEqual({ size: 100 * MiB, chunkSize: 8 * MiB, totalChunks: 13 });
  });

  it('keeps a requested size within the limits', () => {
    expect(planChunks(10 * MiB, 1 * KiB, limits).chunkSize).toBe(256 * KiB);
    expect(planChunks(10 * GiB, 1 * GiB, limits).chunkSize).toBe(128 * MiB);
    expect(planChunks(10 * MiB, 1 * MiB, limits).chunkSize).toBe(1 * MiB);
  });

  it('raises the chunk size so the file fits in maxChunks', () => {
    const p = planChunks(200 * GiB, undefined, limits);
    expect(p.totalChunks).toBeLessThanOrEqual(10_000);
    expect(p.chunkSize).toBe(Math.ceil((200 * GiB) / 10_000));
  });

  it('plans one empty chunk for an empty file', () => {
    expect(planChunks(0, undefined, limits)).toEqual({ size: 0, chunkSize: 8 * MiB, totalChunks: 1 });
    expect(chunkRange(planChunks(0, undefined, limits), 0)).toEqual({ start: 0, end: 0 });
  });

  it('refuses a file larger than the server accepts', () => {
    expect(() => planChunks(2 * TiB, undefined, limits)).toThrow(FerryError);
    const tight = { ...limits, maxChunks: 10 };
    const err = (() => {
      try {
        planChunks(10 * 128 * MiB + 1, undefined, tight);
      } catch (e) {
        return e as FerryError;
      }
    })();
    expect(err?.code).toBe('file-too-large');
  });

  it('rejects nonsense sizes', () => {
    expect(() => planChunks(-1, undefined, limits)).toThrow(RangeError);
    expect(() => planChunks(1.5, undefined, limits)).toThrow(RangeError);
    expect(() => planChunks(10, 0, limits)).toThrow(RangeError);
  });
});

describe('chunkRange', () => {
  const plan = { size: 10 * MiB + 5, chunkSize: 4 * MiB, totalChunks: 3 };
  it('covers the file exactly, the last chunk short', () => {
    expect([0, 1, 2].map((i) => chunkRange(plan, i))).toEqual([
      { start: 0, end: 4 * MiB },
      { start: 4 * MiB, end: 8 * MiB },
      { start: 8 * MiB, end: 10 * MiB + 5 },
    ]);
  });
  it('refuses indexes outside the plan', () => {
    expect(() => chunkRange(plan, 3)).toThrow(RangeError);
    expect(() => chunkRange(plan, -1)).toThrow(RangeError);
  });
});

describe('missingChunks (index ranges from a status)', () => {
  it('expands ranges and single indexes', () => {
    expect(missingChunks('0-3,7', 10)).toEqual([0, 1, 2, 3, 7]);
    expect(missingChunks('', 10)).toEqual([]);
    expect(missingChunks('9', 10)).toEqual([9]);
  });
  it('sorts and de-duplicates', () => {
    expect(missingChunks('5,1-2,2', 10)).toEqual([1, 2, 5]);
  });
  it('round-trips with formatIndexRanges', () => {
    const set = [0, 1, 2, 5, 8, 9, 10, 42];
    expect(missingChunks(formatIndexRanges(set), 43)).toEqual(set);
  });
  it('rejects indexes beyond the upload before expanding them', () => {
    expect(() => missingChunks('0-99999999999', 10)).toThrow(RangeError);
    expect(() => missingChunks('10', 10)).toThrow(RangeError);
  });
  it('rejects malformed text', () => {
    expect(() => missingChunks('a-b', 10)).toThrow();
    expect(() => missingChunks('3-1', 10)).toThrow();
  });
});

describe('longLinkChunkSize', () => {
  it('gives a file at least 64 chunks on a long link, within 1 MiB, the server minimum and its default', () => {
    expect(longLinkChunkSize(256 * MiB, limits)).toBe(4 * MiB);
    expect(longLinkChunkSize(100 * MiB, limits)).toBe(1 * MiB); // 1.56 MiB: the power of two below
    expect(longLinkChunkSize(10 * MiB, limits)).toBe(1 * MiB); // never below 1 MiB
    expect(longLinkChunkSize(1024 * MiB, limits)).toBeUndefined(); // 128 chunks of the default already
    expect(longLinkChunkSize(256 * MiB, { ...limits, minChunkSize: 5 * MiB })).toBe(5 * MiB); // S3's part minimum
  });
});
