// `ferry migrate` and the stream-upload fields: a file that came in by tus or IETF keeps saying so in the
// target's upload row, which is a whole file there (a known length, nothing staged).
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import { openEmbeddedStores } from '../../src/stores/embedded.js';
import { copyFile } from '../../src/stores/migration/copy-file.js';
import type { Stores } from '../../src/stores/open.js';
import type { FileRecord, UploadProtocol } from '../../src/stores/types.js';
import { sampleUpload } from './meta-store-contract.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function embedded(): Promise<Stores> {
  const dir = await mkdtemp(`${tmpdir()}/ferry-migrate-meta-`);
  dirs.push(dir);
  return openEmbeddedStores({ dataDir: dir, fsync: false });
}

async function* once(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** A finished one-chunk file in `stores` whose bytes came by `protocol`. */
async function finishedFile(stores: Stores, protocol: UploadProtocol, bytes: Buffer): Promise<FileRecord> {
  const fileId = randomUUID();
  const upload = sampleUpload({ protocol, size: bytes.length, totalChunks: 1 });
  const handle = await stores.blobs.begin(upload.id, bytes.length, 1);
  const receipt = await stores.blobs.putChunk(handle, { index: 0, offset: 0, length: bytes.length }, once(bytes));
  const blobRef = await stores.blobs.complete(handle, fileId, [receipt]);
  await stores.meta.createUpload({ ...upload, blobHandle: handle });
  const digest = `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
  await stores.meta.recordChunk(upload.id, { index: 0, size: bytes.length, digest, receipt }, upload.expiresAt);
  const file: FileRecord = {
    id: fileId,
    uploadId: upload.id,
    name: upload.name,
    size: bytes.length,
    chunkSize: upload.chunkSize,
    totalChunks: 1,
    algorithm: 'sha-256',
    fileDigest: null,
    etag: '"e"',
    metadata: {},
    blobRef,
    createdAt: Date.now(),
    owner: upload.owner,
  };
  await stores.meta.createFile(file);
  expect(await stores.meta.transition(upload.id, ['uploading'], 'complete', { fileId })).toBe(true);
  return file;
}

it('copies how an upload came (Ferry, tus, IETF) into the target, as a whole file with nothing staged', async () => {
  const source = await embedded();
  const target = await embedded();
  try {
    for (const protocol of ['ferry', 'tus', 'ietf'] as const) {
      const file = await finishedFile(source, protocol, Buffer.from(`bytes that came by ${protocol}`));
      expect(await copyFile(source, target, file)).toMatchObject({ outcome: 'copied' });
      expect(await target.meta.getUpload(file.uploadId)).toMatchObject({
        state: 'complete',
        protocol,
        role: 'file',
        lengthDeferred: false,
        stagedBytes: 0,
        chunksReceived: 1,
        bytesReceived: file.size,
      });
    }
  } finally {
    await Promise.allSettled([source.meta.close(), source.blobs.close(), target.meta.close(), target.blobs.close()]);
  }
});
