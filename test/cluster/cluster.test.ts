// Three Ferry nodes on one PostgreSQL and one S3 bucket behind a round-robin proxy (issue 16): any
// request may land on any node, and every upload still completes exactly once with the right bytes.
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { upload } from '../../src/client/node/index.js';
import { createNodeTransport } from '../../src/client/node/http-transport.js';
import { parseIndexRanges } from '../../src/protocol/index.js';
import { runClusterCrashScenario } from '../chaos/scenarios/cluster-crash.js';
import { recordAcks } from '../chaos/support/acks.js';
import { failures, resultsTable } from '../chaos/support/report.js';
import { makeSource, MiB, sha256Url, type SourceFile } from '../chaos/support/source.js';
import { waitFor } from '../chaos/support/wait.js';
import { clusterUnavailable, openMultipartUploads, startCluster, type Cluster } from '../helpers/cluster.js';
import { sha256Field } from '../helpers/digest.js';
import { call, create, putChunk } from '../helpers/http.js';
import { tempDir } from '../helpers/server.js';
import { body, counter, heldPut, type HeldReply } from './support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cluster(options: Parameters<typeof startCluster>[0] = {}): Promise<Cluster> {
  const c = await startCluster(options);
  cleanups.push(() => c.dispose());
  return c;
}

async function source(size: number, seed: number): Promise<SourceFile> {
  const dir = await tempDir('ferry-cluster-src-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return makeSource(dir, size, seed);
}

/** The file's manifest (from `base`): each chunk's digest must be that of the source's bytes at its place. */
async function expectManifestMatches(base: string, fileId: string, src: SourceFile): Promise<Array<{ index: number; digest: string }>> {
  const manifest = await call(base, 'GET', `/files/${fileId}/manifest`);
  expect(manifest.status).toBe(200);
  const chunks = manifest.body.chunks as Array<{ index: number; offset: number; size: number; digest: string }>;
  const fh = await open(src.path, 'r');
  try {
    for (const c of chunks) {
      const bytes = Buffer.alloc(c.size);
      await fh.read(bytes, 0, c.size, c.offset);
      expect(c.digest, `chunk ${c.index}`).toBe(sha256Field(bytes));
    }
  } finally {
    await fh.close();
  }
  return chunks;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const MiB5 = 5 * MiB; // S3's smallest part but the last: the smallest chunk a cluster on S3 takes

describe.skipIf(clusterUnavailable !== null)('a 3-node cluster on PostgreSQL + S3 behind a round-robin proxy', () => {
  it('a 512 MiB upload through the proxy (4 in flight) spreads its chunks over all three nodes and is byte-identical', async () => {
    const [c, src] = await Promise.all([cluster(), source(512 * MiB, 16)]);
    const result = await upload(src.path, { server: c.url, chunkSize: 8 * MiB, concurrency: 4, resume: false, fetch: createNodeTransport() }).result;
    expect(result.size).toBe(src.size);
    expect(result.fileUrl.startsWith(c.url)).toBe(true); // every node links through the shared public URL

    // Each node logs a stored chunk as it answers; the last lines may still be on their way through the pipes.
    const perNode = await waitFor('a log line for each of the 64 chunks', () => {
      const counts = c.chunksStored(result.uploadId);
      return sum(counts) >= 64 ? counts : null;
    }, { timeoutMs: 5_000, intervalMs: 10 });
    expect(perNode.every((n) => n > 0), `chunks stored per node: ${perNode.join('/')}`).toBe(true);
    expect(sum(perNode)).toBe(64);
    expect(c.logs('upload-complete').filter((l) => l.uploadId === result.uploadId)).toHaveLength(1);

    expect(await sha256Url(result.fileUrl)).toEqual({ status: 200, sha: src.sha, size: src.size });
    await expectManifestMatches(c.url, result.fileId, src);
  });

  it('one node SIGKILLed mid-upload, after some chunks were acknowledged: the upload completes through the other two', async () => {
    const [c, src] = await Promise.all([cluster({ chunkTakeoverSeconds: 1 }), source(160 * MiB, 17)]);
    const acks = recordAcks(createNodeTransport());
    const handle = upload(src.path, {
      server: c.url,
      chunkSize: 8 * MiB,
      concurrency: 4,
      resume: false,
      fetch: acks.transport,
      retry: { baseDelayMs: 50, maxDelayMs: 500, maxAttempts: 30 },
    });
    let retries = 0;
    handle.on('retry', () => retries++);
    let uploadId = '';
    handle.on('started', (s) => (uploadId = s.uploadId));

    // The victim has stored chunks and a request of the client's is on its way there (an open but idle
    // keep-alive connection would just be replaced, with no retry to see).
    const victim = 1;
    // The client must have seen an acknowledgement too: chunk 0 no longer comes acknowledged with the
    // creation, and a stored chunk's log line can come before its answer reaches the client.
    await waitFor('the victim to store a chunk while a request of the client is on its way to it', () =>
      uploadId !== '' && (acks.acks.get(uploadId)?.size ?? 0) > 0 && c.chunksStored(uploadId)[victim]! >= 1 && c.proxy.stats()[victim]!.busy > 0 && handle.progress().chunksDone < 16,
    { timeoutMs: 60_000, intervalMs: 2 });
    const ackedBefore = acks.acks.get(uploadId)?.size ?? 0;
    const storedByVictim = c.chunksStored(uploadId)[victim]!;
    await c.kill(victim);

    const result = await handle.result;
    expect(ackedBefore).toBeGreaterThan(0);
    expect(storedByVictim).toBeGreaterThan(0);
    expect(retries, 'the kill cut requests in flight').toBeGreaterThan(0);
    expect(await sha256Url(result.fileUrl)).toEqual({ status: 200, sha: src.sha, size: src.size });
    // Every acknowledged chunk (on the dead node too) is in the file with the digest the client was told.
    const chunks = await expectManifestMatches(c.url, result.fileId, src);
    for (const [index, digest] of acks.acks.get(uploadId)!) expect(chunks[index]!.digest).toBe(digest);
    const after = c.chunksStored(uploadId);
    expect(after[victim]).toBe(storedByVictim);
    expect(sum(after)).toBeGreaterThanOrEqual(20 - storedByVictim);
    expect(c.logs('upload-complete').filter((l) => l.uploadId === uploadId)).toHaveLength(1);
  });

  it('the same chunk with two different bodies on two nodes at once (one stalled mid-way): one body is stored whole, never a mixture', async () => {
    const c = await cluster({ chunkTakeoverSeconds: 1 });
    // 'takeover': the stalled writer stays stalled until the other one gets through (its lease lapses).
    // 'resume': the stalled writer resumes while the other is being refused, and finishes first.
    for (const [round, mode] of (['takeover', 'resume'] as const).entries()) {
      const a = body(MiB5, 100 + round);
      const b = body(MiB5, 200 + round);
      const tail = body(1 * MiB, 300 + round);
      const created = await create(c.nodes[2]!.url, { name: `contested-${mode}.bin`, size: MiB5 + tail.bytes.length, chunkSize: MiB5 });
      expect(created.status).toBe(201);
      const id = created.body.uploadId as string;

      // A: half of its body reaches node 0, then it stalls (the node holds the chunk's lease meanwhile).
      const [n0, n1] = [c.nodes[0]!.url, c.nodes[1]!.url];
      const before = await counter(n0, 'ferry_chunk_bytes_received_total');
      const stalled = heldPut(n0, id, 0, a.bytes, MiB5 / 2);
      await waitFor('node 0 to read the first half of A', async () => (await counter(n0, 'ferry_chunk_bytes_received_total')) - before >= MiB5 / 2, {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      const sendB = async (): Promise<HeldReply> => {
        for (let attempt = 1; ; attempt++) {
          try {
            const r = await putChunk(n1, id, 0, b.bytes);
            return { status: r.status, body: r.body };
          } catch (error) {
            // A refusal is answered before the body is read, and the connection closed: a 5 MiB body
            // still being written then meets EPIPE before the answer is read. Ask again, as a client would.
            const code = (error as NodeJS.ErrnoException).code ?? '';
            if (attempt >= 5 || !['EPIPE', 'ECONNRESET'].includes(code)) throw error;
          }
        }
      };
      const inProgress = (r: HeldReply) => r.status === 409 && String(r.body.type).endsWith('chunk-in-progress');
      let aReply: HeldReply;
      let bReply: HeldReply;
      const finishA = () => stalled.finish().catch((e: Error) => ({ status: -1, body: { error: e.message } }) as HeldReply);
      if (mode === 'takeover') {
        // B to node 1, retried as a client would while the chunk is in progress elsewhere.
        bReply = await waitFor('B to be answered with something other than chunk-in-progress', async () => {
          const r = await sendB();
          return inProgress(r) ? null : r;
        }, { timeoutMs: 20_000, intervalMs: 200 });
        aReply = await finishA();
      } else {
        const first = await sendB();
        expect(inProgress(first), `B while A holds the chunk: ${JSON.stringify(first.body)}`).toBe(true);
        aReply = await finishA();
        bReply = await sendB();
      }

      const stored = [aReply, bReply].filter((r) => r.status === 200 || r.status === 201);
      expect(stored, `${mode}: A ${JSON.stringify(aReply)}; B ${JSON.stringify(bReply)}`).toHaveLength(1);
      const winner = stored[0] === aReply ? a : b;
      const other = stored[0] === aReply ? bReply : aReply;
      // The other was refused (chunk-conflict, or chunk-in-progress for a writer that was taken over) or cut off.
      expect(other.status === 409 || other.status === -1, JSON.stringify(other)).toBe(true);
      expect(stored[0]!.body.digest).toBe(winner.digest);

      const status = await call(c.url, 'GET', `/uploads/${id}`);
      expect(parseIndexRanges(String(status.body.missing))).toEqual([1]);
      const last = await putChunk(c.nodes[2]!.url, id, 1, tail.bytes);
      expect(last.status).toBe(201);
      expect(last.body.complete).toBe(true);

      const file = await fetch(String(last.body.fileUrl));
      const bytes = Buffer.from(await file.arrayBuffer());
      expect(bytes.length).toBe(MiB5 + tail.bytes.length);
      const first = bytes.subarray(0, MiB5);
      expect(first.equals(winner.bytes), `${mode}: chunk 0 is the acknowledged body, whole`).toBe(true);
      expect(bytes.subarray(MiB5).equals(tail.bytes)).toBe(true);
      const manifest = await call(c.url, 'GET', `/files/${String(last.body.fileId)}/manifest`);
      expect(manifest.body.chunks.map((ch: { digest: string }) => ch.digest)).toEqual([sha256Field(first), tail.digest]);
    }
  });

  it('the last two chunks on two nodes at the same moment: the upload completes exactly once, both requests succeed, status says complete', async () => {
    const c = await cluster();
    const rounds = [
      [0, 1],
      [1, 2],
      [2, 0],
    ] as const;
    for (const [round, [x, y]] of rounds.entries()) {
      // Three equal chunks, so the two racing requests have the same work to do.
      const parts = [body(MiB5, 10 * round + 1), body(MiB5, 10 * round + 2), body(MiB5, 10 * round + 3)];
      const created = await create(c.url, { name: `race-${round}.bin`, size: 3 * MiB5, chunkSize: MiB5 });
      expect(created.status).toBe(201);
      const id = created.body.uploadId as string;
      expect((await putChunk(c.url, id, 0, parts[0]!.bytes)).status).toBe(201);

      // Both bodies all but their last 64 KiB on their nodes; then both ends are sent in the same tick.
      const [ux, uy] = [c.nodes[x]!.url, c.nodes[y]!.url];
      const received = () => Promise.all([counter(ux, 'ferry_chunk_bytes_received_total'), counter(uy, 'ferry_chunk_bytes_received_total')]);
      const base = await received();
      const held = [heldPut(ux, id, 1, parts[1]!.bytes, MiB5 - 64 * 1024), heldPut(uy, id, 2, parts[2]!.bytes, MiB5 - 64 * 1024)];
      await waitFor('both nodes to read all but the last 64 KiB', async () => {
        const now = await received();
        return now[0]! - base[0]! >= MiB5 - 64 * 1024 && now[1]! - base[1]! >= MiB5 - 64 * 1024;
      }, { timeoutMs: 15_000, intervalMs: 10 });
      const finishing = held.map((h) => h.finish());
      // And, as they end, chunk 0 again on the third node (a client whose acknowledgement was lost): a
      // stored chunk of an upload with every chunk in makes that node try the completion too.
      const z = 3 - x - y;
      // Headers only: a stored chunk is answered without its body being read, and a 5 MiB body written
      // meanwhile would meet a closed connection (EPIPE) before the answer could be read.
      const againPut = heldPut(c.nodes[z]!.url, id, 0, parts[0]!.bytes, 0);
      const again = againPut.reply.finally(() => againPut.req.destroy());
      const replies = await Promise.all(finishing);

      // Both succeed. The one recorded last is told the upload is complete, or (when another node holds
      // the completion) that it is completing, to be asked about; the other may say 2 of 3.
      for (const r of replies) expect([200, 201, 202], JSON.stringify(r.body)).toContain(r.status);
      expect(replies.some((r) => r.body.complete === true || r.body.state === 'completing'), JSON.stringify(replies.map((r) => r.body))).toBe(true);
      const repeated = await again;
      expect(repeated.status, JSON.stringify(repeated.body)).toBe(200);
      expect(repeated.body.duplicate).toBe(true);
      const done = await waitFor('status to say complete', async () => {
        const s = await call(c.url, 'GET', `/uploads/${id}`);
        return s.body.state === 'complete' ? s : null;
      }, { timeoutMs: 15_000, intervalMs: 50 });
      expect(done.body.fileId).toBeTruthy();

      // Each node logs a chunk after its completion work: once the three chunk lines are in, every
      // completion those requests ran is logged too.
      const logged = (node: number, index: number) => c.nodes[node]!.logs().filter((l) => l.event === 'chunk' && l.uploadId === id && l.index === index);
      await waitFor('the three chunk log lines', () => logged(x, 1).length > 0 && logged(y, 2).length > 0 && logged(z, 0).length > 0, { timeoutMs: 10_000, intervalMs: 10 });
      expect(c.logs('upload-complete').filter((l) => l.uploadId === id), `round ${round}`).toHaveLength(1);
      expect(c.logs('event').filter((l) => l.uploadId === id && l.type === 'upload.completed'), `round ${round}`).toHaveLength(1);

      const file = await fetch(String(done.body.fileUrl));
      expect(Buffer.from(await file.arrayBuffer()).equals(Buffer.concat(parts.map((p) => p.bytes)))).toBe(true);
    }
  });

  it('downloads of one file from each node directly give the same bytes (whole, ranged, manifest)', async () => {
    const [c, src] = await Promise.all([cluster(), source(64 * MiB, 18)]);
    const result = await upload(src.path, { server: c.url, chunkSize: 8 * MiB, concurrency: 4, resume: false, fetch: createNodeTransport() }).result;
    const path = new URL(result.fileUrl).pathname;
    const range = { first: 5_000_000, last: 29_000_000 }; // spans chunks (and S3 parts) 0 to 3
    const fh = await open(src.path, 'r');
    const expected = Buffer.alloc(range.last - range.first + 1);
    await fh.read(expected, 0, expected.length, range.first);
    await fh.close();
    const manifests = new Set<string>();
    for (const node of c.nodes) {
      expect(await sha256Url(new URL(path, node.url).href), node.url).toEqual({ status: 200, sha: src.sha, size: src.size });
      const ranged = await fetch(new URL(path, node.url), { headers: { range: `bytes=${range.first}-${range.last}` } });
      expect(ranged.status).toBe(206);
      const got = Buffer.from(await ranged.arrayBuffer());
      expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
      const manifest = await call(node.url, 'GET', `${path}/manifest`);
      expect(manifest.status).toBe(200);
      manifests.add(JSON.stringify(manifest.body));
      const head = await fetch(new URL(path, node.url), { method: 'HEAD' });
      manifests.add(`etag ${head.headers.get('etag')}`);
    }
    expect(manifests.size, [...manifests].join('\n')).toBe(2); // one manifest and one ETag, the same from every node
  });

  it('expiry with all three nodes sweeping: each expired upload is expired exactly once and its multipart upload is gone from S3', async () => {
    const ttl = 3;
    const c = await cluster({ uploadTtlSeconds: ttl, sweepIntervalSeconds: 0.2 });
    const n = 6;
    const ids: string[] = [];
    // Abandoned uploads with parts in S3: chunks 0 and 2 of 3, each created and filled on another node.
    await Promise.all(
      Array.from({ length: n }, async (_, k) => {
        const node = c.nodes[k % 3]!.url;
        const parts = [body(MiB5, 500 + k), body(1 * MiB, 600 + k)];
        const created = await create(node, { name: `abandoned-${k}.bin`, size: 2 * MiB5 + 1 * MiB, chunkSize: MiB5 });
        expect(created.status).toBe(201);
        const id = created.body.uploadId as string;
        expect((await putChunk(c.nodes[(k + 1) % 3]!.url, id, 0, parts[0]!.bytes)).status).toBe(201);
        expect((await putChunk(c.nodes[(k + 2) % 3]!.url, id, 2, parts[1]!.bytes)).status).toBe(201);
        ids.push(id);
      }),
    );
    expect(await openMultipartUploads(c.s3Client, c.bucket)).toHaveLength(n);

    // Nothing asks about these uploads (a status request would expire one on the spot): only the sweepers act.
    const expiredIds = () => new Set(c.logs('upload-expired').map((l) => String(l.uploadId)));
    await waitFor('every upload to expire', () => ids.every((id) => expiredIds().has(id)), { timeoutMs: 30_000, intervalMs: 50 });
    // A clean stop lets a sweep in progress finish and its lines reach us: then the count is final.
    await Promise.all(c.nodes.map((_, i) => c.stop(i)));

    const expired = c.logs('upload-expired');
    for (const id of ids) expect(expired.filter((l) => l.uploadId === id), id).toHaveLength(1);
    expect(c.logs('event').filter((l) => l.type === 'upload.expired')).toHaveLength(n);
    expect(await openMultipartUploads(c.s3Client, c.bucket)).toEqual([]);
  });

  it('the chaos crash scenario against the cluster: nodes SIGKILLed again and again during one upload, restarted, the upload completes right', async () => {
    const r = await runClusterCrashScenario({ size: 256 * MiB, chunkSize: 5 * MiB, seed: 5, kills: 9, concurrency: 4 });
    expect(failures(r), resultsTable([r])).toEqual([]);
    for (const point of ['s3-part-write', 's3-part-stored', 'chunk-recorded']) {
      expect(r.faults[`kill@${point}`], `no kill at ${point}: ${resultsTable([r])}`).toBeGreaterThan(0);
    }
  });
});
