// The longest piece of synchronous work a manifest or status request does for 10,000 chunks, the way
// the server did it before (every chunk row, one JSON.stringify) and as it does now (stored manifest
// parts; missing ranges a page at a time). Minimum and median of many runs, so other load on the
// machine shows less than it does in an event-loop delay measurement.
// Run: npm run build && node bench/probes/manifest-status-blocks.mjs [runs] [dist dir]   (defaults: 50, ./dist)
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const runs = Number(process.argv[2] ?? 50);
const dist = resolve(process.argv[3] ?? 'dist');
const { openSqliteMetaStore } = await import(pathToFileURL(join(dist, 'stores/sqlite/meta-store.js')).href);
const { formatIndexRanges, missingIndexes, formatRangeList } = await import(pathToFileURL(join(dist, 'protocol/index.js')).href);

const dir = await mkdtemp(join(tmpdir(), 'ferry-blocks-'));
const store = await openSqliteMetaStore(join(dir, 'meta.sqlite'), { durability: 'process' });
const total = 10_000;
const chunkSize = 8 * 1024 * 1024;
const now = Date.now();
const digest = (i) => `sha-256=:${Buffer.alloc(32, i & 0xff).toString('base64')}:`;
const upload = (id) => ({
  id, state: 'uploading', name: 'x', size: total * chunkSize, chunkSize, totalChunks: total, algorithm: 'sha-256', fileDigest: null,
  metadata: {}, blobHandle: id, chunksReceived: 0, bytesReceived: 0, createdAt: now, updatedAt: now, expiresAt: now + 3.6e6,
  fileId: null, owner: 'anonymous', grantId: null,
});
const full = randomUUID();
const holes = randomUUID();
await store.createUpload(upload(full));
await store.createUpload(upload(holes));
for (let i = 0; i < total; i++) {
  const chunk = { index: i, size: chunkSize, digest: digest(i), receipt: '' };
  await store.recordChunk(full, chunk, now + 3.6e6);
  if (i % 2 === 1) await store.recordChunk(holes, chunk, now + 3.6e6);
}
const fileId = randomUUID();
await store.createFile({ id: fileId, uploadId: full, name: 'x', size: total * chunkSize, chunkSize, totalChunks: total, algorithm: 'sha-256',
  fileDigest: null, etag: '"e"', metadata: {}, blobRef: fileId, createdAt: now, owner: 'anonymous' });
const hasNew = typeof store.putManifestPart === 'function';
if (hasNew) {
  for (let part = 0, from = 0; from < total; part++, from += 1000) {
    const rows = await store.listChunks(full, { from, limit: 1000 });
    const text = (part ? ',' : '') + rows.map((c) => JSON.stringify({ index: c.index, offset: c.index * chunkSize, size: c.size, digest: c.digest })).join(',');
    await store.putManifestPart(fileId, part, Buffer.from(text));
  }
}

/** Times `fn` (its synchronous part: the store is synchronous with 'process' durability) `runs` times. */
async function time(name, fn) {
  const ms = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { step: name, 'min ms': ms[0].toFixed(2), 'median ms': ms[Math.floor(ms.length / 2)].toFixed(2) };
}

const rows = [
  await time('manifest before: all 10,000 rows + JSON.stringify (1.1 MB)', async () => {
    const chunks = await store.listChunks(full);
    Buffer.from(JSON.stringify({ chunks: chunks.map((c) => ({ index: c.index, offset: c.index * chunkSize, size: c.size, digest: c.digest })) }));
  }),
  await time('status before: 5,000 rows + missingIndexes + format', async () => {
    const chunks = await store.listChunks(holes);
    formatIndexRanges(missingIndexes(total, chunks.map((c) => c.index)));
  }),
];
if (hasNew) {
  rows.push(
    await time('manifest now: one stored part (1,000 chunks, ~115 KB)', () => store.getManifestPart(fileId, 3)),
    await time('manifest now: building one part (1,000 rows + stringify)', async () => {
      const rows = await store.listChunks(full, { from: 3000, limit: 1000 });
      Buffer.from(rows.map((c) => JSON.stringify({ index: c.index, offset: c.index * chunkSize, size: c.size, digest: c.digest })).join(','));
    }),
    await time('status now: one page of 1,000 missing ranges + format', async () => formatRangeList(await store.listMissing(holes, -1, 1000))),
    await time('status now: all 5,000 missing ranges (6 pages, no yield)', async () => {
      const parts = [];
      for (let after = -1; ; ) {
        const page = await store.listMissing(holes, after, 1000);
        parts.push(formatRangeList(page));
        if (page.length < 1000) break;
        after = page[page.length - 1].first;
      }
      return parts.join(',');
    }),
  );
}
console.table(rows);
await store.close();
await rm(dir, { recursive: true, force: true });
