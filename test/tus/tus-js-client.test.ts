// tus-js-client (the npm package, in Node, unmodified) uploading 100 MiB to Ferry's tus endpoint: plain,
// in PATCHes that do not line up with Ferry's chunks, four partial uploads concatenated, aborted and
// resumed by a second Upload found in its URL storage, and in each IETF draft version it speaks with the
// connection cut midway. Every result is the same bytes, served by GET /files/{id} and downloaded by
// `ferry download` (the built CLI) with every chunk verified against the server's manifest.
import { createReadStream, type ReadStream } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tus from 'tus-js-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { issueGrant } from '../../src/grants/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { cliPath } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import {
  expectFerryDownload,
  expectServedFile,
  tusCall,
  uploadIdOf,
  writeRandomFile,
  type RandomFile,
} from './support.js';

const SIZE = 100 * MiB;
/** Ferry's chunk for stream uploads here: the production default. */
const CHUNK = 8 * MiB;

let dir: string;
let payload: RandomFile;
let server: TestServer;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(async () => {
  const built = await access(join(cliPath, '../download.js')).then(() => true, () => false);
  if (!built) throw new Error('dist/cli/download.js is missing: run `npm run build` (npm test does it in pretest).');
  dir = await tempDir('ferry-tus-client-');
  payload = await writeRandomFile(dir, 'payload.bin', SIZE);
  server = await startTestServer({ defaultChunkSize: CHUNK });
});

afterAll(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A read stream of the payload for tus-js-client, closed after the test whatever happens. */
function source(path = payload.path): ReadStream {
  const stream = createReadStream(path);
  cleanups.push(() => stream.destroy());
  return stream;
}

type Options = tus.UploadOptions & { protocol?: 'tus-v1' | 'ietf-draft-03' | 'ietf-draft-05' };

interface Traffic {
  /** "METHOD status" of every response, in order. */
  log: string[];
  /** Upload-Offset of every HEAD response (what the server said it had when the client resumed). */
  headOffsets: number[];
  /** Each upload created: the Upload-Concat it was asked with (if any) and its Location. */
  created: Array<{ concat: string | undefined; location: string }>;
}

/** Uploads started by a test: one left running by a failed test must not go on writing into the next one's. */
const runningUploads: tus.Upload[] = [];
afterEach(async () => {
  for (const u of runningUploads.splice(0)) await u.abort().catch(() => undefined);
});

/**
 * One tus-js-client Upload (started unless `start` is false); `done` resolves with its URL on success.
 * Records what went over the wire.
 */
function runUpload(file: ReadStream, options: Options, start = true) {
  const traffic: Traffic = { log: [], headOffsets: [], created: [] };
  let upload!: tus.Upload;
  const done = new Promise<string>((resolve, reject) => {
    upload = new tus.Upload(file as never, {
      ...options,
      onAfterResponse: async (req, res) => {
        traffic.log.push(`${req.getMethod()} ${res.getStatus()}`);
        if (req.getMethod() === 'HEAD') traffic.headOffsets.push(Number(res.getHeader('Upload-Offset')));
        if (req.getMethod() === 'POST' && res.getStatus() === 201) traffic.created.push({ concat: req.getHeader('Upload-Concat'), location: String(res.getHeader('Location')) });
        await options.onAfterResponse?.(req, res);
      },
      onSuccess: () => {
        if (process.env.FERRY_TUS_TRACE) console.info(`traffic: ${traffic.log.join(', ')}; HEAD offsets ${traffic.headOffsets.join(', ')}`);
        resolve(upload.url!);
      },
      onError: (error) => reject(new Error(`${error.message}\n(traffic: ${traffic.log.join(', ')})`)),
    } as tus.UploadOptions);
  });
  runningUploads.push(upload);
  if (start) upload.start();
  return { upload, done, traffic };
}

/** The upload the server made is the payload, and `ferry download` fetches it with every chunk verified. */
async function expectResult(uploadUrl: string, auth: { headers?: Record<string, string>; token?: string } = {}) {
  const id = uploadIdOf(uploadUrl);
  const { fileUrl, status } = await expectServedFile(server.url, id, payload, auth.headers);
  expect(status.chunkSize, 'stream uploads use the server chunk size').toBe(CHUNK);
  const dest = join(dir, `download-${id}.bin`);
  cleanups.push(() => rm(dest, { force: true }));
  await expectFerryDownload(fileUrl, dest, payload, auth.token);
  return status;
}

const endpoint = () => `${server.url}/tus/`;

describe('tus-js-client 4.3.1 against /tus/ (100 MiB)', { timeout: 240_000 }, () => {
  it('plain upload: one PATCH of the whole file', async () => {
    const { done, traffic } = runUpload(source(), { endpoint: endpoint(), retryDelays: null, metadata: { filename: 'plain.bin', filetype: 'application/octet-stream' } });
    const url = await done;
    expect(traffic.log).toEqual(['POST 201', 'PATCH 204']);
    const status = await expectResult(url);
    expect(status.name).toBe('plain.bin');
  });

  it('chunkSize 5 MiB: PATCH bodies that do not line up with the 8 MiB chunks', async () => {
    const offsets: number[] = [];
    const { done, traffic } = runUpload(source(), {
      endpoint: endpoint(),
      retryDelays: null,
      chunkSize: 5 * MiB,
      metadata: { filename: 'five.bin' },
      onChunkComplete: (_size, accepted) => offsets.push(accepted),
    });
    const url = await done;
    // Every PATCH is acknowledged at exactly the bytes it brought, chunk boundaries or not.
    const expected = Array.from({ length: SIZE / (5 * MiB) }, (_, i) => (i + 1) * 5 * MiB);
    expect(offsets).toEqual(expected);
    expect(traffic.log.filter((l) => l === 'PATCH 204')).toHaveLength(expected.length);
    await expectResult(url);
  });

  it('parallelUploads 4: four partial uploads, concatenated by a final upload', async () => {
    const { done, traffic } = runUpload(source(), { endpoint: endpoint(), retryDelays: null, parallelUploads: 4, metadata: { filename: 'parallel.bin' } });
    const url = await done;
    // Four partials created and written, then the final naming them.
    expect(traffic.created.map((c) => c.concat?.split(';')[0])).toEqual(['partial', 'partial', 'partial', 'partial', 'final']);
    expect(traffic.log.filter((l) => l === 'PATCH 204')).toHaveLength(4);
    const status = await expectResult(url);
    expect(status.name).toBe('parallel.bin');
    // The partials made no files of their own (the server may also have let them go once concatenated).
    for (const part of traffic.created.slice(0, 4)) {
      const r = await tusCall(`${server.url}/uploads/${uploadIdOf(new URL(part.location, endpoint()).toString())}`, 'GET');
      if (r.status !== 404) expect(r.body.fileId, r.text).toBeNull();
    }
  });

  it('aborted midway, resumed by a second Upload through findPreviousUploads + resumeFromPreviousUpload', async () => {
    // The URL storage tus-js-client ships for Node: a JSON file, here read again by a second instance as a
    // restarted process would.
    const FileUrlStorage = (tus as unknown as { FileUrlStorage?: new (path: string) => tus.UrlStorage }).FileUrlStorage;
    expect(FileUrlStorage, 'tus-js-client exports FileUrlStorage in Node').toBeTypeOf('function');
    const storagePath = join(dir, 'tus-url-storage.json');
    cleanups.push(() => rm(storagePath, { force: true }));
    const options: Options = { endpoint: endpoint(), metadata: { filename: 'resumed.bin' }, retryDelays: [0, 200, 1000, 3000] };

    // The first Upload is stopped once 40 MiB have gone out.
    let stopping = false;
    let aborted!: () => void;
    const abortedPromise = new Promise<void>((resolve) => (aborted = resolve));
    const first = runUpload(
      source(),
      {
        ...options,
        urlStorage: new FileUrlStorage!(storagePath),
        onProgress: (sent) => {
          if (sent < 40 * MiB || stopping) return;
          stopping = true;
          void first.upload.abort().then(aborted);
        },
      },
      false,
    );
    first.upload.start();
    // Finishing (or failing) before the abort fails the test; after abort() it calls nothing back.
    await Promise.race([first.done.then(() => Promise.reject(new Error('the first Upload finished before it was aborted'))), abortedPromise]);
    const firstUrl = first.upload.url!;
    expect(firstUrl).toMatch(/\/tus\/[^/]+$/);

    const second = runUpload(source(), { ...options, urlStorage: new FileUrlStorage!(storagePath) }, false);
    const previous = await second.upload.findPreviousUploads();
    expect(previous).toHaveLength(1);
    expect(previous[0]!.uploadUrl).toBe(firstUrl);
    second.upload.resumeFromPreviousUpload(previous[0]!);
    second.upload.start();
    const url = await second.done;
    expect(url).toBe(firstUrl);
    // The second Upload asked where the upload stood and went on from there: no new upload, no restart.
    expect(second.traffic.log).not.toContain('POST 201');
    expect(second.traffic.headOffsets.length).toBeGreaterThan(0);
    expect(second.traffic.headOffsets[0]).toBeGreaterThan(0);
    expect(second.traffic.headOffsets[0]).toBeLessThan(SIZE);
    await expectResult(url);
  });

  describe.each(['ietf-draft-03', 'ietf-draft-05'] as const)('protocol %s', (protocol) => {
    it('uploads with the connection cut at 40 MiB; the retry resumes from what the server kept', async () => {
      const proxy = await startFaultProxy(server.url, { cutRate: 1, cutAfterBytes: [40 * MiB, 40 * MiB], cutDirection: 'up', maxFaults: 1 });
      cleanups.push(() => proxy.close());
      const cut = proxy.nextFault('cut');
      const { done, traffic } = runUpload(source(), {
        endpoint: `${proxy.url}/tus/`,
        protocol,
        metadata: { filename: `${protocol}.bin` },
        retryDelays: [0, 200, 1000, 3000],
      });
      const url = await done;
      await cut;
      expect(proxy.stats.faults.cut).toBe(1);
      expect(url.startsWith(`${proxy.url}/tus/`), url).toBe(true);
      // One upload created; after the cut the client asked (HEAD) and went on from the offset it got.
      expect(traffic.log.filter((l) => l.startsWith('POST'))).toEqual(['POST 201']);
      expect(traffic.headOffsets.length, traffic.log.join(', ')).toBeGreaterThan(0);
      expect(traffic.headOffsets[0]).toBeGreaterThan(0);
      expect(traffic.headOffsets[0]).toBeLessThanOrEqual(40 * MiB);
      const status = await expectResult(url);
      expect(status.name).toBe(`${protocol}.bin`);
    });
  });
});

describe('tus-js-client in token mode', { timeout: 240_000 }, () => {
  const grantSecret = 'g'.repeat(40);
  let tokenServer: TestServer;
  let apiKey: string;

  beforeAll(async () => {
    tokenServer = await startTestServer({ auth: 'token', defaultChunkSize: CHUNK, grantSecrets: [{ kid: 'k1', secret: grantSecret }] });
    apiKey = (await createApiKey(tokenServer.ctx.meta, 'alice', 'user', 'tus test', Date.now())).key;
  });
  afterAll(() => tokenServer?.dispose());

  it('an API key as Authorization: Bearer (headers option) uploads 100 MiB; the file is the owner\'s', async () => {
    const headers = { Authorization: `Bearer ${apiKey}` };
    const { done } = runUpload(source(), { endpoint: `${tokenServer.url}/tus/`, headers, chunkSize: 16 * MiB, retryDelays: null, metadata: { filename: 'keyed.bin' } });
    const url = await done;
    const id = uploadIdOf(url);
    const { fileUrl } = await expectServedFile(tokenServer.url, id, payload, { authorization: `Bearer ${apiKey}` });
    // Without the key the upload and the file are not there for anyone.
    const anonymous = await fetch(`${tokenServer.url}/uploads/${id}`);
    expect(anonymous.status).toBe(401);
    const dest = join(dir, 'keyed.bin');
    cleanups.push(() => rm(dest, { force: true }));
    await expectFerryDownload(fileUrl, dest, payload, apiKey);
  });

  it('a signed grant with an upload allowance works the same way', async () => {
    const grant = await issueGrant({ kid: 'k1', secret: grantSecret, identity: 'bob', expiresIn: '10m', scope: { upload: { maxBytes: SIZE }, files: 'read' } });
    const { done } = runUpload(source(), { endpoint: `${tokenServer.url}/tus/`, headers: { Authorization: `Bearer ${grant}` }, retryDelays: null, metadata: { filename: 'granted.bin' } });
    const url = await done;
    const { fileUrl } = await expectServedFile(tokenServer.url, uploadIdOf(url), payload, { authorization: `Bearer ${grant}` });
    const dest = join(dir, 'granted.bin');
    cleanups.push(() => rm(dest, { force: true }));
    await expectFerryDownload(fileUrl, dest, payload, grant);
  });

  it('without a credential the upload is refused with 401', async () => {
    const { done, traffic } = runUpload(source(), { endpoint: `${tokenServer.url}/tus/`, retryDelays: [0, 0] });
    const error = await done.then(
      () => null,
      (e: Error) => e,
    );
    expect(error).not.toBeNull();
    // 4xx other than 409/423 is not retried by tus-js-client: one POST, answered 401.
    expect(traffic.log).toEqual(['POST 401']);
  });

  it('a wrong Bearer token is refused with 401', async () => {
    const { done, traffic } = runUpload(source(), { endpoint: `${tokenServer.url}/tus/`, headers: { Authorization: 'Bearer not-a-key' }, retryDelays: null });
    await expect(done).rejects.toThrow();
    expect(traffic.log).toEqual(['POST 401']);
  });
});

