// The cluster crash scenario's check "every acknowledged chunk survived every kill" (lostAcks in
// test/chaos/support/acks.ts), against a real server: it must name a chunk acknowledged and then
// lost, and must not name one whose acknowledgement arrived while the status was being read (the
// client uploads on meanwhile; the server read its gaps before that chunk was recorded). The latter
// once failed a clean CI run with "lost: <id>#1" though nothing was lost.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeTransport } from '../../src/client/node/http-transport.js';
import { Headers, MediaTypes, parseIndexRanges } from '../../src/protocol/index.js';
import { lostAcks, recordAcks, type AckLog } from '../chaos/support/acks.js';
import { sha256Field } from '../helpers/digest.js';
import { call } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const chunkSize = 1024;
const bytes = Buffer.from(Array.from({ length: 3 * chunkSize }, (_, i) => (i * 7) % 251));
const chunk = (i: number) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize);

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<TestServer> {
  const s = await startTestServer();
  cleanups.push(() => s.dispose());
  return s;
}

/** An upload of three chunks created with chunk 0, through the logging transport (so chunk 0's ack is logged). */
async function createUpload(s: TestServer, log: AckLog): Promise<string> {
  const params = { name: 'acks.bin', size: bytes.length, chunkSize };
  const res = await log.transport(`${s.url}/uploads`, {
    method: 'POST',
    headers: {
      'content-type': MediaTypes.octets,
      [Headers.uploadParams]: Buffer.from(JSON.stringify(params)).toString('base64url'),
      [Headers.contentDigest]: sha256Field(chunk(0)),
    },
    body: chunk(0),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { uploadId: string }).uploadId;
}

/** PUTs chunk `i` through the logging transport; its status once the answer is read. */
async function put(s: TestServer, log: AckLog, id: string, i: number): Promise<number> {
  const res = await log.transport(`${s.url}/uploads/${id}/chunks/${i}`, {
    method: 'PUT',
    headers: { [Headers.contentDigest]: sha256Field(chunk(i)) },
    body: chunk(i),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The server's missing chunks of `id`, as the scenario reads them. */
async function missingOf(s: TestServer, id: string): Promise<Set<number>> {
  const status = await call(s.url, 'GET', `/uploads/${id}`);
  expect(status.status).toBe(200);
  return new Set(parseIndexRanges(String(status.body.missing)));
}

describe("the crash scenario's check of acknowledged chunks", () => {
  it('does not count a chunk acknowledged while the status was being read as lost (it was recorded after the server read its gaps)', async () => {
    const s = await server();
    const log = recordAcks(createNodeTransport());
    const id = await createUpload(s, log);

    let readThen: Set<number> | null = null;
    const lost = await lostAcks(log, id, async () => {
      readThen = await missingOf(s, id);
      // The status is answered; before the checker looks at it, the client's upload goes on and
      // chunk 1 is stored and acknowledged (as a busy test process handles another answer first).
      expect(await put(s, log, id, 1)).toBe(201);
      return readThen;
    });

    expect(readThen).toEqual(new Set([1, 2])); // chunk 1 was missing when the server read it
    expect([...log.acks.get(id)!.keys()].sort()).toEqual([0, 1]);
    expect(lost).toEqual([]);
    // The next check covers chunk 1: it is recorded.
    expect(await lostAcks(log, id, () => missingOf(s, id))).toEqual([]);
  });

  it('names a chunk acknowledged before the status was asked for that the server reports missing', async () => {
    const s = await server();
    const log = recordAcks(createNodeTransport());
    const id = await createUpload(s, log);
    expect(await put(s, log, id, 1)).toBe(201);
    expect(await lostAcks(log, id, () => missingOf(s, id))).toEqual([]);

    // A store that lost chunk 1's record after answering for it: its row gone, its gap back, the count down.
    const db = new Database(join(s.dataDir, 'meta.sqlite'));
    try {
      db.transaction(() => {
        db.prepare('DELETE FROM chunks WHERE upload_id = ? AND idx = 1').run(id);
        db.prepare('DELETE FROM upload_gaps WHERE upload_id = ?').run(id);
        db.prepare('INSERT INTO upload_gaps (upload_id, first_idx, last_idx) VALUES (?, 1, 2)').run(id);
        db.prepare('UPDATE uploads SET chunks_received = 1, bytes_received = ? WHERE id = ?').run(chunkSize, id);
      })();
    } finally {
      db.close();
    }

    expect(await lostAcks(log, id, () => missingOf(s, id))).toEqual([1]);
  });
});
