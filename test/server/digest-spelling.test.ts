// A digest is the bytes it encodes: every base64 spelling RFC 8941 lets a parser accept (no "="
// padding, non-zero padding bits) is the same digest, and the server answers with the canonical one.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDigestField, Paths } from '../../src/protocol/index.js';
import { randomData, sha256Field } from '../helpers/digest.js';
import { call, chunkOf, create, createWithFirstChunk, putChunk, status } from '../helpers/http.js';
import { KiB, startTestServer, type TestServer } from '../helpers/server.js';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The same 32 bytes spelled with the two padding bits of the last character set (43 chars + "="). */
function withPaddingBits(canonical: string): string {
  const last = alphabet.indexOf(canonical[42]!);
  expect(last & 0b11).toBe(0); // a canonical spelling has them clear
  return `${canonical.slice(0, 42)}${alphabet[last | 0b11]}=`;
}

const b64 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');
const spellings = (bytes: Buffer) => {
  const canonical = b64(bytes);
  return {
    canonical: `sha-256=:${canonical}:`,
    paddingBits: `sha-256=:${withPaddingBits(canonical)}:`,
    unpadded: `sha-256=:${canonical.slice(0, -1)}:`,
    both: `sha-256=:${withPaddingBits(canonical).slice(0, -1)}:`,
  };
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.dispose());

describe('parsing', () => {
  it('every spelling of one digest parses to the canonical one', () => {
    const s = spellings(randomData(100));
    for (const spelled of Object.values(s)) expect(`sha-256=:${parseDigestField(spelled).base64}:`).toBe(s.canonical);
  });
  it('wrong padding and wrong lengths are still malformed', () => {
    const canonical = b64(randomData(10));
    for (const bad of [`${canonical}=`, `${canonical.slice(0, -1)}==`, canonical.slice(0, -2), `${canonical.slice(0, 41)}==`, 'A'.repeat(41)]) {
      expect(() => parseDigestField(`sha-256=:${bad}:`), bad).toThrow(expect.objectContaining({ code: 'malformed-digest' }));
    }
  });
});

describe('a chunk sent with a correct digest in a non-canonical spelling', () => {
  it('is stored (201), acknowledged with the canonical digest, and its replays in any spelling are duplicates', async () => {
    const cs = 4 * KiB;
    const data = randomData(4 * cs);
    const { uploadId } = (await create(server.url, { name: 'spelled.bin', size: data.length, chunkSize: cs })).body;
    const kinds = ['paddingBits', 'unpadded', 'both', 'canonical'] as const;
    for (const [i, kind] of kinds.entries()) {
      const chunk = chunkOf(data, cs, i);
      const s = spellings(chunk);
      const r = await putChunk(server.url, uploadId, i, chunk, s[kind]);
      expect(r.status, kind).toBe(201);
      expect(r.body.digest).toBe(s.canonical);
      for (const again of kinds) {
        const replay = await putChunk(server.url, uploadId, i, chunk, s[again]);
        expect(replay.status, `${kind} then ${again}`).toBe(200);
        expect(replay.body).toMatchObject({ duplicate: true, digest: s.canonical });
      }
    }
    const st = await status(server.url, uploadId);
    expect(st.body.state).toBe('complete');
    const manifest = await call(server.url, 'GET', Paths.manifest(st.body.fileId));
    expect(manifest.body.chunks.map((c: { digest: string }) => c.digest)).toEqual(kinds.map((_, i) => sha256Field(chunkOf(data, cs, i))));
  });

  it('a different chunk in a non-canonical spelling is still a conflict, and a wrong digest still a mismatch', async () => {
    const cs = 4 * KiB;
    const data = randomData(2 * cs);
    const { uploadId } = (await create(server.url, { name: 'conflict.bin', size: data.length, chunkSize: cs })).body;
    expect((await putChunk(server.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
    const other = randomData(cs);
    expect((await putChunk(server.url, uploadId, 0, other, spellings(other).paddingBits)).body.type).toBe('urn:ferry:problem:chunk-conflict');
    expect((await putChunk(server.url, uploadId, 1, chunkOf(data, cs, 1), spellings(other).unpadded)).body.type).toBe('urn:ferry:problem:digest-mismatch');
  });

  it('on create with the first chunk, and a whole-file digest in a non-canonical spelling verifies at completion', async () => {
    const data = randomData(3 * KiB);
    const file = spellings(data);
    const r = await createWithFirstChunk(server.url, { name: 'whole.bin', size: data.length, fileDigest: file.both }, data, file.paddingBits);
    expect(r.status).toBe(201);
    expect(r.body.fileDigest).toBe(file.canonical);
    expect(r.body.firstChunk).toMatchObject({ digest: file.canonical, complete: true });
    expect(r.body.state).toBe('complete');
    const got = await fetch(new URL(Paths.file(r.body.fileId), server.url));
    expect(got.headers.get('repr-digest')).toBe(file.canonical);
  });
});
