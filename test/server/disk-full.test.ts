// A full disk answers 507, loses nothing acknowledged, and the upload completes once space returns.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomData, sha256Hex } from '../helpers/digest.js';
import { chunkOf, create, download, putChunk, status } from '../helpers/http.js';
import { KiB, MiB, startTestServer } from '../helpers/server.js';
import { mountSmallFilesystem } from '../helpers/small-fs.js';

const small = mountSmallFilesystem('16m');
afterAll(() => {
  if ('dir' in small) small.unmount();
});

describe('disk full', () => {
  it('chunk PUTs get 507 while the disk is full, and the upload resumes after space is freed', async ({ skip }) => {
    if (!('dir' in small)) {
      // Mounting needs root on Linux. CI has it, so there a missing tmpfs fails the test; elsewhere
      // it is skipped, saying why.
      const why = `cannot mount a 16 MiB tmpfs (${small.reason})`;
      if (process.env.CI === 'true') throw new Error(`The disk-full test must run in CI, but it ${why}`);
      return skip(why);
    }
    const dataDir = join(small.dir, 'data');
    const server = await startTestServer({ dataDir });
    try {
      const cs = 1 * MiB;
      const data = randomData(6 * cs);
      const { uploadId } = (await create(server.url, { name: 'full', size: data.length, chunkSize: cs })).body;
      expect((await putChunk(server.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
      // Fill the filesystem to its last few KiB with something the operator can delete.
      const filler = join(small.dir, 'filler');
      await writeFile(filler, Buffer.alloc(16 * MiB - 1 * MiB - 512 * KiB)).catch(() => undefined);
      const r = await putChunk(server.url, uploadId, 1, chunkOf(data, cs, 1));
      expect(r.status).toBe(507);
      expect(r.body.type).toBe('urn:ferry:problem:insufficient-storage');
      expect((await status(server.url, uploadId)).body).toMatchObject({ state: 'uploading', chunksReceived: 1, missing: '1-5' });

      await rm(filler);
      // The failed write's lease may not have been given up on the full disk: it lapses, as a
      // client retrying chunk-in-progress finds.
      await expect.poll(async () => (await putChunk(server.url, uploadId, 1, chunkOf(data, cs, 1))).status, { interval: 100, timeout: 10_000 }).toBe(201);
      let last;
      for (let i = 2; i < 6; i++) last = await putChunk(server.url, uploadId, i, chunkOf(data, cs, i));
      expect(last!.body.complete).toBe(true);
      expect(sha256Hex((await download(last!.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    } finally {
      await server.dispose();
    }
  });
});
