// Webhooks and the pre-create hook over real HTTP: signed deliveries, retries, crashes, refusals, library callbacks.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type FerryServer, type ServerConfigInput, type StartOptions } from '../../src/server/index.js';
import type { FerryEvent } from '../../src/server/events.js';
import { randomData } from '../helpers/digest.js';
import { call, create, putChunk, status } from '../helpers/http.js';
import { KiB, spawnServer, tempDir, testLimits, type ChildServer } from '../helpers/server.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const verifier = new Webhook(secret);

/** Everything a test started, closed after it whatever happened. */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

// ---- a webhook receiver ----

interface Received {
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  res: ServerResponse;
}

/** What the receiver answers a request: a status and JSON body, or 'hold' (never answer). */
type Answer = (r: Received, nth: number) => { status: number; body?: unknown } | 'hold';

interface Receiver {
  url: string;
  received: Received[];
  answer: Answer;
  /** The first request (already received or still to come) that matches. */
  next(match: (r: Received) => boolean): Promise<Received>;
  close(): Promise<void>;
}

async function startReceiver(answer: Answer = () => ({ status: 200 })): Promise<Receiver> {
  const waiters: Array<{ match: (r: Received) => boolean; resolve: (r: Received) => void }> = [];
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const r: Received = { id: String(req.headers['webhook-id']), headers: req.headers, body, json: JSON.parse(body), res };
      received.push(r);
      const reply = receiver.answer(r, received.filter((x) => x.id === r.id).length);
      if (reply !== 'hold') {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
      }
      for (const w of [...waiters]) {
        if (w.match(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    answer,
    next: (match) => {
      const found = received.find(match);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: async () => {
      server.closeAllConnections(); // held requests too
      await new Promise((resolve) => server.close(resolve));
    },
  };
  cleanups.push(receiver.close);
  return receiver;
}

const ofType = (type: string) => (r: Received) => r.json.type === type;
const withId = (id: string) => (r: Received) => r.id === id;

function expectSigned(r: Received): void {
  expect(r.headers['content-type']).toBe('application/json');
  expect(() => verifier.verify(r.body, r.headers as Record<string, string>)).not.toThrow();
  expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
}

// ---- servers ----

/** The server's log lines, and a way to wait for one. */
interface LogSink {
  lines: any[];
  next(match: (line: any) => boolean): Promise<any>;
}

function logSink(): { sink: LogSink; logger: Logger } {
  const lines: any[] = [];
  const waiters: Array<{ match: (l: any) => boolean; resolve: (l: any) => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const line = JSON.parse(text);
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.match(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
      done();
    },
  });
  const sink: LogSink = {
    lines,
    next: (match) => {
      const found = lines.find(match);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
  return { sink, logger: pino({ level: 'info' }, stream) };
}

interface Started extends FerryServer {
  dataDir: string;
  log: LogSink;
  events: FerryEvent[];
}

/** An in-process server with a fresh (or the given) data directory, its log and its library events. */
async function start(config: ServerConfigInput = {}, options: StartOptions = {}): Promise<Started> {
  const dataDir = config.dataDir ?? (await tempDir());
  if (!config.dataDir) cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const { sink, logger } = logSink();
  const events: FerryEvent[] = [];
  const server = await startServer(
    { port: 0, host: '127.0.0.1', ...testLimits, ...config, dataDir },
    {
      logger,
      ...options,
      onEvent: async (e) => {
        events.push(e);
        await options.onEvent?.(e);
      },
    },
  );
  cleanups.push(server.close);
  return { ...server, dataDir, log: sink, events };
}

/** Webhook options pointing at `receivers`, retrying after 50 ms so retries are quick. */
function hooked(...receivers: Receiver[]): ServerConfigInput {
  return { webhooks: receivers.map((r) => r.url), webhookSecret: secret, webhookBackoffSeconds: [0.05] };
}

const deliveryLog = (eventId: string, outcome?: string) => (l: any) => l.event === 'webhook-delivery' && l.eventId === eventId && (!outcome || l.outcome === outcome);

/** Creates a one-chunk upload and sends the chunk: upload.created, then upload.completed. */
async function uploadSmall(base: string, name = 'small.bin', metadata?: Record<string, string>) {
  const data = randomData(2 * KiB);
  const created = await create(base, { name, size: data.length, chunkSize: 2 * KiB, ...(metadata && { metadata }) });
  expect(created.status).toBe(201);
  const put = await putChunk(base, created.body.uploadId, 0, data);
  expect(put.status).toBe(201);
  expect(put.body.complete).toBe(true);
  return { uploadId: created.body.uploadId as string, fileId: put.body.fileId as string };
}

describe('webhook delivery', () => {
  it('sends every event, signed, to every endpoint, with one webhook-id per event', async () => {
    const [a, b] = [await startReceiver(), await startReceiver()];
    const server = await start(hooked(a, b));
    const { uploadId, fileId } = await uploadSmall(server.url, 'report.pdf', { project: 'x' });

    for (const receiver of [a, b]) {
      const created = await receiver.next(ofType('upload.created'));
      const completed = await receiver.next(ofType('upload.completed'));
      for (const r of [created, completed]) {
        expectSigned(r);
        expect(r.id).toBe(r.json.id);
        expect(r.id).toMatch(/^evt_/);
      }
      expect(created.json.data).toMatchObject({ uploadId, fileId: null, owner: 'anonymous', name: 'report.pdf', size: 2 * KiB, metadata: { project: 'x' } });
      expect(completed.json.data).toMatchObject({ uploadId, fileId, name: 'report.pdf', fileUrl: `${server.url}/files/${fileId}`, metadata: { project: 'x' } });
      expect(completed.json.data.etag).toMatch(/^"/);
      expect(Date.parse(completed.json.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    }
    // Both endpoints got the same events (the same ids), and the library listener the same ones too.
    const ids = (r: Receiver) => r.received.map((x) => x.id).sort();
    expect(ids(a)).toEqual(ids(b));
    expect(server.events.map((e) => e.id).sort()).toEqual(ids(a));
    const log = await server.log.next(deliveryLog(a.received[0]!.id, 'delivered'));
    expect(log).toMatchObject({ type: a.received[0]!.json.type, attempt: 1, status: 200 });
    expect(log.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports aborts and deletions', async () => {
    const receiver = await startReceiver();
    const server = await start(hooked(receiver));
    const aborted = await create(server.url, { name: 'gone.bin', size: 4 * KiB });
    expect((await call(server.url, 'DELETE', `/uploads/${aborted.body.uploadId}`)).status).toBe(204);
    const abortedEvent = await receiver.next(ofType('upload.aborted'));
    expectSigned(abortedEvent);
    expect(abortedEvent.json.data).toMatchObject({ uploadId: aborted.body.uploadId, name: 'gone.bin', fileId: null });

    const { uploadId, fileId } = await uploadSmall(server.url);
    expect((await call(server.url, 'DELETE', `/files/${fileId}`)).status).toBe(204);
    const deleted = await receiver.next(ofType('file.deleted'));
    expectSigned(deleted);
    expect(deleted.json.data).toMatchObject({ uploadId, fileId });
  });

  it('reports expiries', async () => {
    const receiver = await startReceiver();
    const server = await start(hooked(receiver));
    const idle = await create(server.url, { name: 'idle.bin', size: 4 * KiB });
    // The server's clock a day on: the upload is past its expiry, whatever the machine's speed.
    const real = server.ctx.now;
    server.ctx.now = () => real() + 86_400_000 + 60_000;
    try {
      expect((await server.sweep()).expired).toBe(1);
    } finally {
      server.ctx.now = real;
    }
    const expired = await receiver.next(ofType('upload.expired'));
    expectSigned(expired);
    expect(expired.json.data).toMatchObject({ uploadId: idle.body.uploadId, name: 'idle.bin' });
  });

  it('reports an upload whose assembled file fails its declared digest', async () => {
    const receiver = await startReceiver();
    const server = await start(hooked(receiver));
    const data = randomData(2 * KiB);
    const wrong = `sha-256=:${randomBytes(32).toString('base64')}:`;
    const created = await create(server.url, { name: 'bad.bin', size: data.length, chunkSize: 2 * KiB, fileDigest: wrong });
    const put = await putChunk(server.url, created.body.uploadId, 0, data);
    expect(put.body.type).toBe('urn:ferry:problem:file-digest-mismatch');
    const failed = await receiver.next(ofType('upload.failed'));
    expectSigned(failed);
    expect(failed.json.data).toMatchObject({ uploadId: created.body.uploadId, name: 'bad.bin', fileId: null, fileDigest: wrong });
    // One event per outcome: no completed event for it, ever (checked once a later event has arrived).
    await uploadSmall(server.url, 'later.bin');
    await receiver.next((r) => r.json.type === 'upload.completed' && r.json.data.name === 'later.bin');
    expect(receiver.received.filter((r) => r.json.data.uploadId === created.body.uploadId).map((r) => r.json.type).sort()).toEqual(['upload.created', 'upload.failed']);
  });

  it('retries a failed delivery with the same webhook-id until it succeeds, and then never again', async () => {
    const receiver = await startReceiver((r, nth) => (nth === 1 && r.json.data.name === 'a.bin' ? { status: 500 } : { status: 204 }));
    const server = await start(hooked(receiver));
    const created = await create(server.url, { name: 'a.bin', size: 4 * KiB });
    const first = await receiver.next(ofType('upload.created'));
    const second = await receiver.next((r) => r.id === first.id && r !== first);
    expectSigned(first);
    expectSigned(second);
    expect(second.body).toBe(first.body);
    expect(first.json.data.uploadId).toBe(created.body.uploadId);
    await server.log.next(deliveryLog(first.id, 'delivered'));
    const attempts = server.log.lines.filter(deliveryLog(first.id));
    expect(attempts.map((l) => [l.attempt, l.status, l.outcome])).toEqual([
      [1, 500, 'retry'],
      [2, 204, 'delivered'],
    ]);
    expect(attempts[0]).toMatchObject({ level: 40, error: 'HTTP 500' });

    // A later event arrives; the delivered one is not sent a third time.
    await create(server.url, { name: 'b.bin', size: 4 * KiB });
    const laterEvent = await receiver.next((r) => r.json.type === 'upload.created' && r.json.data.name === 'b.bin');
    await server.log.next(deliveryLog(laterEvent.id, 'delivered'));
    expect(receiver.received.filter(withId(first.id))).toHaveLength(2);
    expect(server.ctx.metrics.get('ferry_webhook_deliveries_total', { outcome: 'retry' })).toBe(1);
    expect(server.ctx.metrics.get('ferry_webhook_deliveries_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(2);
  });

  it('retries a delivery that gets no reply in time', async () => {
    const receiver = await startReceiver((_r, nth) => (nth === 1 ? 'hold' : { status: 200 }));
    const server = await start({ ...hooked(receiver), webhookTimeoutSeconds: 0.2 });
    await create(server.url, { name: 'a.bin', size: 4 * KiB });
    const first = await receiver.next(ofType('upload.created'));
    await receiver.next((r) => r.id === first.id && r !== first);
    const failed = await server.log.next(deliveryLog(first.id, 'retry'));
    expect(failed.error).toMatch(/no reply within 200 ms/);
    expect(failed.status).toBeUndefined();
    await server.log.next(deliveryLog(first.id, 'delivered'));
  });

  it('drops a delivery the endpoint answers 410 Gone, and one still failing when webhookRetrySeconds is up', async () => {
    const gone = await startReceiver(() => ({ status: 410 }));
    const failing = await startReceiver(() => ({ status: 503 }));
    const server = await start({ ...hooked(gone, failing), webhookRetrySeconds: 2 });
    await create(server.url, { name: 'a.bin', size: 4 * KiB });
    const event = await gone.next(ofType('upload.created'));
    const dropped = await server.log.next((l) => deliveryLog(event.id, 'dropped')(l) && l.endpoint === gone.url);
    expect(dropped).toMatchObject({ status: 410, attempt: 1, level: 40 });

    const givenUp = await server.log.next((l) => deliveryLog(event.id, 'dropped')(l) && l.endpoint === failing.url);
    expect(givenUp).toMatchObject({ status: 503, level: 50 });
    expect(givenUp.attempt).toBeGreaterThanOrEqual(2);
    expect(failing.received.filter(withId(event.id))).toHaveLength(givenUp.attempt);
    expect(gone.received.filter(withId(event.id))).toHaveLength(1);
    // Nothing left in the outbox, even far in the future.
    expect(await server.ctx.meta.claimDeliveries(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('on close, stops an attempt in flight at once; the next start delivers it again', async () => {
    const receiver = await startReceiver((_r, nth) => (nth === 1 ? 'hold' : { status: 200 }));
    const first = await start({ ...hooked(receiver), webhookTimeoutSeconds: 60 });
    await create(first.url, { name: 'a.bin', size: 4 * KiB });
    const held = await receiver.next(ofType('upload.created'));
    const t0 = Date.now();
    await first.close();
    expect(Date.now() - t0).toBeLessThan(5_000); // not the 60 s time limit

    const second = await start({ ...hooked(receiver), dataDir: first.dataDir });
    const again = await receiver.next((r) => r.id === held.id && r !== held);
    expectSigned(again);
    expect(again.body).toBe(held.body);
    await second.log.next(deliveryLog(held.id, 'delivered'));
  });

  it('runs no dispatcher without endpoints; library listeners still get every event', async () => {
    const server = await start();
    expect(server.ctx.webhooks).toBeUndefined();
    await uploadSmall(server.url);
    expect(server.events.map((e) => e.type)).toEqual(['upload.created', 'upload.completed']);
  });
});

describe('library callbacks', () => {
  it('onEvent receives every event', async () => {
    const seen: FerryEvent[] = [];
    const server = await start({}, { onEvent: (e) => void seen.push(e) });
    const { uploadId, fileId } = await uploadSmall(server.url, 'x.bin');
    expect(seen.map((e) => e.type)).toEqual(['upload.created', 'upload.completed']);
    expect(seen[1]!.data).toMatchObject({ uploadId, fileId, name: 'x.bin' });
    expect(seen[0]!.id).not.toBe(seen[1]!.id);
  });

  it('preCreate can refuse an upload or replace its metadata', async () => {
    const server = await start(
      {},
      {
        preCreate: (request) =>
          request.name.endsWith('.exe') ? { allow: false, reason: 'No executables.' } : { allow: true, metadata: { ...request.metadata, checked: 'yes' } },
      },
    );
    const refused = await create(server.url, { name: 'setup.exe', size: 10 });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ type: 'urn:ferry:problem:upload-refused', detail: 'No executables.' });
    const allowed = await create(server.url, { name: 'notes.txt', size: 10, metadata: { a: '1' } });
    expect(allowed.status).toBe(201);
    expect(allowed.body.metadata).toEqual({ a: '1', checked: 'yes' });
    expect(server.events.map((e) => e.data.name)).toEqual(['notes.txt']);
  });
});

describe('HTTP pre-create hook', () => {
  const hookConfig = (hook: Receiver | string, extra: ServerConfigInput = {}): ServerConfigInput => ({
    preCreateHook: typeof hook === 'string' ? hook : hook.url,
    webhookSecret: secret,
    ...extra,
  });

  it('is asked with a signed request; a 4xx refuses with its detail and stores nothing', async () => {
    const hook = await startReceiver(() => ({ status: 403, body: { detail: 'Quota exceeded for team x.' } }));
    const server = await start(hookConfig(hook));
    const r = await create(server.url, { name: 'big.iso', size: 5000, metadata: { team: 'x' } });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ type: 'urn:ferry:problem:upload-refused', detail: 'Quota exceeded for team x.' });

    const asked = await hook.next(() => true);
    expectSigned(asked);
    expect(asked.id).toMatch(/^pre_/);
    expect(asked.json).toMatchObject({
      id: asked.id,
      type: 'upload.pre-create',
      data: { owner: 'anonymous', role: 'admin', name: 'big.iso', size: 5000, metadata: { team: 'x' } },
    });
    expect(server.events).toEqual([]);
    expect(server.ctx.metrics.get('ferry_uploads_created_total')).toBe(0);
  });

  it('a 4xx without a reason refuses with a generic one', async () => {
    const hook = await startReceiver(() => ({ status: 422, body: { unrelated: true } }));
    const server = await start(hookConfig(hook));
    const r = await create(server.url, { name: 'a', size: 1 });
    expect(r.status).toBe(403);
    expect(r.body.detail).toBe('refused by the application (HTTP 422)');
  });

  it('a 2xx with metadata replaces it; a 2xx without keeps the client’s', async () => {
    const hook = await startReceiver((r) => (r.json.data.name === 'tagged' ? { status: 200, body: { metadata: { tagged: 'yes', by: 'hook' } } } : { status: 204 }));
    const server = await start(hookConfig(hook));
    const tagged = await create(server.url, { name: 'tagged', size: 10, metadata: { mine: '1' } });
    expect(tagged.status).toBe(201);
    expect(tagged.body.metadata).toEqual({ tagged: 'yes', by: 'hook' });
    expect((await status(server.url, tagged.body.uploadId)).body.metadata).toEqual({ tagged: 'yes', by: 'hook' });
    const plain = await create(server.url, { name: 'plain', size: 10, metadata: { mine: '1' } });
    expect(plain.status).toBe(201);
    expect(plain.body.metadata).toEqual({ mine: '1' });
  });

  it('answers 503 when the hook is down, failing, or too slow, and stores nothing', async () => {
    const down = await startReceiver();
    const downUrl = down.url;
    await down.close();
    const failing = await startReceiver(() => ({ status: 500 }));
    const slow = await startReceiver(() => 'hold');
    for (const url of [downUrl, failing.url, slow.url]) {
      const server = await start(hookConfig(url, { webhookTimeoutSeconds: 0.3 }));
      const r = await create(server.url, { name: 'a', size: 1 });
      expect(r.status, url).toBe(503);
      expect(r.body.type).toBe('urn:ferry:problem:service-unavailable');
      expect(r.headers['retry-after']).toBeDefined();
      expect(server.events).toEqual([]);
      expect(server.log.lines.some((l) => l.event === 'pre-create-failed')).toBe(true);
    }
  });
});

describe('webhooks across a crash (the built CLI)', () => {
  it('a delivery in flight when the server is SIGKILLed is delivered again after the restart, then only once', async () => {
    const receiver = await startReceiver((_r, nth) => (nth === 1 ? 'hold' : { status: 200 }));
    const dataDir = await tempDir();
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    // A short time limit keeps the lease (time limit + margin) short, so the restart does not wait long.
    const args = ['--data-dir', dataDir, '--webhook', receiver.url, '--webhook-timeout', '2'];
    const env = { FERRY_WEBHOOK_SECRET: secret };
    const spawn = async (): Promise<ChildServer> => {
      const child = await spawnServer(args, env);
      cleanups.push(child.kill);
      return child;
    };

    const first = await spawn();
    const created = await create(first.url, { name: 'crash.bin', size: 4 * KiB });
    expect(created.status).toBe(201);
    const held = await receiver.next(ofType('upload.created'));
    await first.kill();

    const second = await spawn();
    const again = await receiver.next((r) => r.id === held.id && r !== held);
    expectSigned(again);
    expect(again.body).toBe(held.body);
    expect(again.json.data.uploadId).toBe(created.body.uploadId);

    // The outbox is ordered by due time: had the first event still been due, it would come first.
    const later = await create(second.url, { name: 'later.bin', size: 4 * KiB });
    const laterEvent = await receiver.next((r) => r.json.type === 'upload.created' && r.json.data.uploadId === later.body.uploadId);
    expectSigned(laterEvent);
    expect(receiver.received.filter(withId(held.id))).toHaveLength(2);
    expect(receiver.received.filter(withId(laterEvent.id))).toHaveLength(1);
  });
});
